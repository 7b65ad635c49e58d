"""The words the access policy and the audit trail speak: roles, actions, data categories, purposes.

Kept free of models so that any layer may import it.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", "Administrator"
    PROGRAM_DIRECTOR = "program_director", "Program director"
    QUALITY_LEAD = "quality_lead", "Quality lead"
    CLINICAL_SUPERVISOR = "clinical_supervisor", "Clinical supervisor"
    THERAPIST = "therapist", "Therapist"
    PRESCRIBER = "prescriber", "Prescriber"
    NURSE = "nurse", "Nurse"
    CASE_MANAGER = "case_manager", "Case manager"
    PEER_SPECIALIST = "peer_specialist", "Peer specialist"
    INTAKE_COORDINATOR = "intake_coordinator", "Intake coordinator"
    RESEARCHER = "researcher", "Researcher"
    # Not staff: a client using the portal, who sees their own record only.
    CLIENT = "portal_client", "Client (portal)"


class Action(models.TextChoices):
    VIEW = "view", "View"
    LIST = "list", "List / search"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    SIGN = "sign", "Sign"
    EXPORT = "export", "Export"
    MANAGE = "manage", "Manage"
    # Events that are not an access decision but belong in the trail.
    LOGIN = "login", "Log in"
    LOGOUT = "logout", "Log out"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOCKOUT = "lockout", "Account locked out"
    MFA_ENROLLED = "mfa_enrolled", "MFA enrolled"
    MFA_FAILED = "mfa_failed", "MFA code refused"
    MFA_RESET = "mfa_reset", "MFA reset"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset requested"
    PRIVILEGE_CHANGE = "privilege_change", "Privilege change"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    SESSION_EXPIRED = "session_expired", "Session expired"
    # The audit trail's own: earlier chains closed, the trail goes on as one (ADR 0015).
    SEAL = "seal", "Audit trail sealed"


class DataCategory(models.TextChoices):
    """What kind of data an access touches. Part 2 and HIPAA treat these differently."""

    DEMOGRAPHICS = "demographics", "Client identity and demographics"
    CLINICAL_RECORD = "clinical_record", "SUD treatment record"
    COUNSELLING_NOTES = "counselling_notes", "Counselling (psychotherapy) notes"
    DEIDENTIFIED = "deidentified", "De-identified data"
    AGGREGATE = "aggregate", "Aggregate reports"
    STAFF_ACCOUNTS = "staff_accounts", "Staff accounts and roles"
    AUDIT_TRAIL = "audit_trail", "Audit trail"
    AUTHENTICATION = "authentication", "Authentication"
    ORGANISATION = "organisation", "Organisation and programs"


class Purpose(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    PAYMENT = "payment", "Payment"
    OPERATIONS = "operations", "Health care operations"
    RESEARCH = "research", "Research"
    ADMINISTRATION = "administration", "System administration"
    AUDIT = "audit", "Compliance audit"
    EMERGENCY = "emergency", "Emergency"
    # HIPAA right of access (45 CFR 164.524): the client reads their own record.
    SELF = "self", "The client's own access"


class Scope(models.TextChoices):
    """How far a role's grants reach inside the actor's own organisation."""

    PROGRAM = "program", "Programs the user is assigned to"
    ORGANISATION = "organisation", "The whole organisation"
    SELF = "self", "The user's own client record"
