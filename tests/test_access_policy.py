"""The one access policy: role table, organisation isolation, program scope, deny by default,
and an audit event for every decision."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from iptcare.access.policy import authorize, decide
from iptcare.access.roles import IDENTIFYING, ROLE_TABLE, roles_doc
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role, Scope
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.core.errors import Forbidden, NotFound
from iptcare.core.models import Organisation, Program

ROOT = Path(__file__).resolve().parent.parent


def test_every_role_has_exactly_one_row() -> None:
    assert set(ROLE_TABLE) == set(Role)


def test_researcher_never_gets_identifying_data() -> None:
    for role, policy in ROLE_TABLE.items():
        if Purpose.RESEARCH in policy.purposes:
            assert not IDENTIFYING & set(policy.grants), role
    researcher = ROLE_TABLE[Role.RESEARCHER]
    assert set(researcher.grants) == {DataCategory.DEIDENTIFIED, DataCategory.AGGREGATE}


def test_administrators_have_no_clinical_access() -> None:
    assert not IDENTIFYING & set(ROLE_TABLE[Role.ADMINISTRATOR].grants)


def test_only_administrators_manage_staff_and_read_the_audit_trail() -> None:
    for role, policy in ROLE_TABLE.items():
        manages = (
            DataCategory.STAFF_ACCOUNTS in policy.grants
            or DataCategory.AUDIT_TRAIL in policy.grants
        )
        assert manages == (role == Role.ADMINISTRATOR), role


def test_counselling_notes_are_limited_to_treating_clinicians() -> None:
    holders = {r for r, p in ROLE_TABLE.items() if DataCategory.COUNSELLING_NOTES in p.grants}
    assert holders == {Role.THERAPIST, Role.CLINICAL_SUPERVISOR}


def test_docs_roles_md_matches_the_table() -> None:
    doc = (ROOT / "docs" / "roles.md").read_text()
    assert doc == roles_doc(), "regenerate with: iptcare roles-doc > docs/roles.md"
    out = StringIO()
    call_command("roles-doc", stdout=out)
    assert out.getvalue() == doc


def test_no_role_name_is_checked_outside_the_table() -> None:
    """Nothing checks a role name ad hoc: Role members appear only where roles are defined,
    stored, assigned or seeded, never in a permission check."""
    allowed = {
        "iptcare/access/vocabulary.py",
        "iptcare/access/roles.py",
        "iptcare/demo/generator.py",
        # They grant the client role to a client's portal account (assignment, not a check).
        "iptcare/portal/services.py",
        "iptcare/portal/demo.py",
    }
    offenders = []
    for path in (ROOT / "iptcare").rglob("*.py"):
        rel = str(path.relative_to(ROOT))
        if rel in allowed or "/migrations/" in rel:
            continue
        text = path.read_text()
        for member in Role:
            value = re.escape(member.value)
            # Role.X anywhere, or the role's name compared or filtered on as a string (a field
            # merely *named* like a role, such as a medication's "prescriber", is fine).
            checks = [
                rf"\bRole\.{member.name}\b",
                rf'(==|!=)\s*"{value}"',
                rf'"{value}"\s*(==|!=)',
                rf'\brole(__in)?\s*=\s*[\[(]?\s*"{value}"',
                rf'\bin\s*[\[({{][^\])}}]*"{value}"',
            ]
            if any(re.search(c, text) for c in checks):
                offenders.append(f"{rel}: {member.name}")
    assert offenders == []


# --- decide(): table-driven ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "action", "category", "purpose", "allowed"),
    [
        ("theo", Action.VIEW, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT, True),
        ("theo", Action.VIEW, DataCategory.COUNSELLING_NOTES, Purpose.TREATMENT, True),
        ("theo", Action.VIEW, DataCategory.DEMOGRAPHICS, Purpose.RESEARCH, False),
        ("theo", Action.EXPORT, DataCategory.AUDIT_TRAIL, Purpose.AUDIT, False),
        ("tess", Action.VIEW, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT, False),  # other program
        ("alice", Action.VIEW, DataCategory.DEMOGRAPHICS, Purpose.ADMINISTRATION, False),
        ("alice", Action.VIEW, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT, False),
        ("remy", Action.VIEW, DataCategory.DEMOGRAPHICS, Purpose.RESEARCH, False),
        ("remy", Action.LIST, DataCategory.DEMOGRAPHICS, Purpose.RESEARCH, False),
        ("oscar", Action.VIEW, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT, False),  # other org
    ],
)
def test_decide_on_a_client(
    request: pytest.FixtureRequest,
    client_record: Client,
    persona: str,
    action: Action,
    category: DataCategory,
    purpose: Purpose,
    allowed: bool,
) -> None:
    actor = request.getfixturevalue(persona)
    decision = decide(actor, action, client_record, category, purpose)
    assert decision.allowed is allowed, decision.reason
    assert decision.reason


def test_program_scope_follows_assignment(
    theo: User, client_record: Client, riverside: Program
) -> None:
    assert decide(theo, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    client_record.program = riverside
    client_record.save()
    decision = decide(
        theo, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    )
    assert not decision and "not assigned to this program" in decision.reason


def test_organisation_wide_roles_reach_every_program(
    make_user: Callable[..., User], org: Organisation, client_record: Client
) -> None:
    quinn = make_user("quinn@example.org", organisation=org, roles=(Role.QUALITY_LEAD,))
    assert ROLE_TABLE[Role.QUALITY_LEAD].scope == Scope.ORGANISATION
    assert decide(
        quinn, Action.VIEW, client_record, DataCategory.CLINICAL_RECORD, Purpose.OPERATIONS
    )
    assert not decide(
        quinn, Action.VIEW, client_record, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
    )
    assert not decide(
        quinn, Action.UPDATE, client_record, DataCategory.CLINICAL_RECORD, Purpose.OPERATIONS
    )


def test_no_role_means_no_access(
    make_user: Callable[..., User], org: Organisation, northside: Program, client_record: Client
) -> None:
    nobody = make_user("nobody@example.org", organisation=org, programs=(northside,))
    decision = decide(
        nobody, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    )
    assert not decision and decision.reason == "user holds no role"


def test_deactivated_user_is_refused(theo: User, client_record: Client) -> None:
    theo.is_active = False
    decision = decide(
        theo, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    )
    assert not decision


def test_anonymous_is_refused(client_record: Client) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not decide(
        AnonymousUser(), Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    )


def test_authorize_audits_allowed_access(theo: User, client_record: Client) -> None:
    authorize(theo, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    event = AuditEvent.objects.get()
    assert event.outcome == "success" and event.reason == "Therapist may view demographics"
    assert event.actor_id == theo.public_id
    assert event.actor_role == "therapist"
    assert event.client_id == client_record.public_id
    assert event.organisation_id == client_record.organisation.public_id
    assert (event.data_category, event.action, event.purpose) == (
        "demographics",
        "view",
        "treatment",
    )
    assert (event.resource_type, event.resource_id) == ("client", str(client_record.public_id))


def test_authorize_audits_and_raises_on_denial(tess: User, client_record: Client) -> None:
    with pytest.raises(Forbidden, match="not assigned to this program"):
        authorize(tess, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    event = AuditEvent.objects.get()
    assert event.outcome == "denied" and "not assigned" in event.reason


def test_other_organisation_gets_not_found_and_is_audited(
    oscar: User, client_record: Client
) -> None:
    with pytest.raises(NotFound):
        authorize(oscar, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    event = AuditEvent.objects.get()
    assert event.outcome == "denied" and event.actor_id == oscar.public_id
    assert "another organisation" in event.reason
