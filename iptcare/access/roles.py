"""THE role table: what each role may do. Nothing else in the code checks a role name.

Each role has a scope (its assigned programs, or the whole organisation), the purposes it may act
for, and grants of (data category, actions). ``docs/roles.md`` is generated from this table
(``iptcare roles-doc``) and a test fails if the two disagree.

Least privilege: administrators run the system but never read clinical records; researchers see
de-identified and aggregate data only, never a chart or a list of named clients (45 CFR 164.514,
42 CFR 2.52). Later issues add care-team membership, consent, supervision and emergency access in
``policy.decide`` — the table stays the floor those rules narrow.
"""

from __future__ import annotations

from dataclasses import dataclass

from iptcare.access.vocabulary import Action as A
from iptcare.access.vocabulary import DataCategory as C
from iptcare.access.vocabulary import Purpose as P
from iptcare.access.vocabulary import Role as R
from iptcare.access.vocabulary import Scope


@dataclass(frozen=True)
class RolePolicy:
    scope: Scope
    purposes: frozenset[P]
    grants: dict[C, frozenset[A]]
    summary: str
    # Staff sign in with a second factor (IPTCARE_REQUIRE_MFA); clients are offered it.
    mfa_required: bool = True

    def permits(self, category: C, action: A) -> bool:
        return action in self.grants.get(category, frozenset())


def _g(*actions: A) -> frozenset[A]:
    return frozenset(actions)


READ = _g(A.VIEW, A.LIST)
READ_WRITE = _g(A.VIEW, A.LIST, A.CREATE, A.UPDATE)
CHART = _g(A.VIEW, A.LIST, A.CREATE, A.UPDATE, A.SIGN)

ROLE_TABLE: dict[R, RolePolicy] = {
    R.ADMINISTRATOR: RolePolicy(
        scope=Scope.ORGANISATION,
        purposes=frozenset({P.ADMINISTRATION, P.AUDIT}),
        grants={
            C.STAFF_ACCOUNTS: _g(A.VIEW, A.LIST, A.CREATE, A.UPDATE, A.MANAGE),
            C.AUDIT_TRAIL: _g(A.VIEW, A.LIST, A.EXPORT),
            C.ORGANISATION: _g(A.VIEW, A.LIST, A.UPDATE, A.MANAGE),
        },
        summary="Manages staff, roles, programs and reads the audit trail; no clinical data.",
    ),
    R.PROGRAM_DIRECTOR: RolePolicy(
        scope=Scope.PROGRAM,
        purposes=frozenset({P.TREATMENT, P.OPERATIONS}),
        grants={
            C.DEMOGRAPHICS: READ,
            C.CLINICAL_RECORD: READ,
            C.AGGREGATE: _g(A.VIEW, A.EXPORT),
            C.ORGANISATION: READ,
        },
        summary="Oversees their programs: reads records for operations, quality and credentials.",
    ),
    R.QUALITY_LEAD: RolePolicy(
        scope=Scope.ORGANISATION,
        purposes=frozenset({P.OPERATIONS}),
        grants={
            C.DEMOGRAPHICS: READ,
            C.CLINICAL_RECORD: READ,
            C.AGGREGATE: _g(A.VIEW, A.EXPORT),
            C.DEIDENTIFIED: _g(A.VIEW, A.LIST, A.EXPORT),
            C.ORGANISATION: READ,
        },
        summary="Reviews quality across the organisation (operations purpose only).",
    ),
    R.CLINICAL_SUPERVISOR: RolePolicy(
        scope=Scope.PROGRAM,
        purposes=frozenset({P.TREATMENT, P.OPERATIONS}),
        grants={
            C.DEMOGRAPHICS: READ_WRITE,
            C.CLINICAL_RECORD: CHART,
            C.COUNSELLING_NOTES: CHART,
            C.ORGANISATION: READ,
        },
        summary="Treats and supervises in their programs; co-signs trainees' notes.",
    ),
    R.THERAPIST: RolePolicy(
        scope=Scope.PROGRAM,
        purposes=frozenset({P.TREATMENT}),
        grants={
            C.DEMOGRAPHICS: READ_WRITE,
            C.CLINICAL_RECORD: CHART,
            C.COUNSELLING_NOTES: CHART,
            C.ORGANISATION: READ,
        },
        summary="Treats clients in their programs: charts, notes, plans, measures.",
    ),
    R.PRESCRIBER: RolePolicy(
        scope=Scope.PROGRAM,
        purposes=frozenset({P.TREATMENT}),
        grants={
            C.DEMOGRAPHICS: READ_WRITE,
            C.CLINICAL_RECORD: CHART,
            C.ORGANISATION: READ,
        },
        summary="Medication treatment in their programs; no counselling notes.",
    ),
    R.NURSE: RolePolicy(
        scope=Scope.PROGRAM,
        purposes=frozenset({P.TREATMENT}),
        grants={
            C.DEMOGRAPHICS: READ_WRITE,
            C.CLINICAL_RECORD: CHART,
            C.ORGANISATION: READ,
        },
        summary="Nursing care, screens and measures in their programs; no counselling notes.",
    ),
    R.CASE_MANAGER: RolePolicy(
        scope=Scope.PROGRAM,
        purposes=frozenset({P.TREATMENT}),
        grants={
            C.DEMOGRAPHICS: READ_WRITE,
            C.CLINICAL_RECORD: READ_WRITE,
            C.ORGANISATION: READ,
        },
        summary="Appointments, referrals and recovery supports; does not sign clinical notes.",
    ),
    R.PEER_SPECIALIST: RolePolicy(
        scope=Scope.PROGRAM,
        purposes=frozenset({P.TREATMENT}),
        grants={
            C.DEMOGRAPHICS: READ,
            C.ORGANISATION: READ,
        },
        summary="Recovery support: who the client is; later issues add recovery-support data.",
    ),
    R.INTAKE_COORDINATOR: RolePolicy(
        scope=Scope.PROGRAM,
        purposes=frozenset({P.TREATMENT}),
        grants={
            C.DEMOGRAPHICS: READ_WRITE,
            C.CLINICAL_RECORD: _g(A.VIEW, A.LIST, A.CREATE),
            C.ORGANISATION: READ,
        },
        summary="Registers clients and starts intake in their programs.",
    ),
    R.RESEARCHER: RolePolicy(
        scope=Scope.ORGANISATION,
        purposes=frozenset({P.RESEARCH}),
        grants={
            C.DEIDENTIFIED: _g(A.VIEW, A.LIST, A.EXPORT),
            C.AGGREGATE: _g(A.VIEW, A.EXPORT),
        },
        summary="De-identified and aggregate data only; never a chart or a list of named clients.",
    ),
    R.CLIENT: RolePolicy(
        scope=Scope.SELF,
        purposes=frozenset({P.SELF}),
        grants={
            C.DEMOGRAPHICS: READ,
            # Reads their own questionnaires, appointments, plan goals and progress; submits
            # questionnaires. Never counselling notes (45 CFR 164.524(a)(1)(i)).
            C.CLINICAL_RECORD: _g(A.VIEW, A.LIST, A.CREATE),
        },
        summary="A client in the portal: their own questionnaires, appointments, plan goals "
        "and progress, nothing about anyone else. Multi-factor authentication is offered.",
        mfa_required=False,
    ),
}

# Categories that identify a client: never granted to a role whose only purpose is research.
IDENTIFYING = frozenset({C.DEMOGRAPHICS, C.CLINICAL_RECORD, C.COUNSELLING_NOTES})


def policy_for(role: str) -> RolePolicy | None:
    try:
        return ROLE_TABLE[R(role)]
    except ValueError:
        return None


def roles_doc() -> str:
    """docs/roles.md, rendered from ROLE_TABLE."""
    lines = [
        "# Roles and what they may do",
        "",
        "Generated from `iptcare/access/roles.py` by `iptcare roles-doc > docs/roles.md`;",
        "a test fails when this file and the table disagree. Deny by default: anything not listed",
        "here is refused. Every decision, allowed or denied, is written to the audit trail.",
        "",
        "Scope *program* means the user's assigned programs; *organisation* means the whole of",
        "the user's own organisation. No role reaches another organisation.",
        "",
        "| role | scope | purposes | may do |",
        "|---|---|---|---|",
    ]
    for role, pol in ROLE_TABLE.items():
        grants = "; ".join(
            f"{cat.label}: {', '.join(a.value for a in A if a in acts)}"
            for cat, acts in pol.grants.items()
        )
        purposes = ", ".join(p.value for p in P if p in pol.purposes)
        lines.append(f"| **{role.label}** | {pol.scope.value} | {purposes} | {grants} |")
    lines += ["", "## In plain words", ""]
    for role, pol in ROLE_TABLE.items():
        lines.append(f"- **{role.label}** — {pol.summary}")
    lines.append("")
    return "\n".join(lines)
