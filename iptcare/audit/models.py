"""Append-only, hash-chained audit events (HIPAA 164.312(b), ONC 170.315(d)(2)-(3), 42 CFR Part 2).

Events hold identifiers, not foreign keys: the trail must outlive and never constrain the rows it
talks about. Database triggers (migration 0002) refuse UPDATE and DELETE; the SHA-256 chain makes
any change made around them detectable (``iptcare audit verify``).
"""

from __future__ import annotations

from django.db import models

from iptcare.access.vocabulary import Action, DataCategory, Purpose


class Outcome(models.TextChoices):
    ALLOWED = "allowed", "Allowed"
    DENIED = "denied", "Denied"
    SUCCESS = "success", "Succeeded"
    FAILURE = "failure", "Failed"


GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    seq = models.BigIntegerField(unique=True, help_text="Position in the chain, from 1, no gaps.")
    occurred_at = models.DateTimeField(db_index=True)
    # actor_id and client_id are searched through the (…, occurred_at) indexes below, which
    # serve a search by the column alone as well: no index of their own (ADR 0002, 2026-11-28).
    actor_id = models.UUIDField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    actor_role = models.CharField(max_length=200, blank=True)
    organisation_id = models.UUIDField(null=True, blank=True, db_index=True)
    client_id = models.UUIDField(null=True, blank=True)
    data_category = models.CharField(max_length=40, choices=DataCategory.choices)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    resource_type = models.CharField(max_length=60, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=40, choices=Purpose.choices, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="e.g. before/after of a change")
    # unique: two events can never claim the same predecessor, so the chain cannot fork.
    prev_hash = models.CharField(max_length=64, unique=True)
    # Not unique on its own: the hash covers seq, which is unique, so two events with one hash
    # would already have been refused by seq (ADR 0002, 2026-11-28).
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        indexes = [
            # The audit report's usual query: one user's or one client's events in a time range.
            models.Index(fields=["actor_id", "occurred_at"], name="audit_actor_time"),
            models.Index(fields=["client_id", "occurred_at"], name="audit_client_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.outcome}"
