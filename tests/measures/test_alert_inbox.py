"""The alert inbox narrows in SQL to what the actor may see, so a clinician's alerts are never
crowded out by the rest of the organisation, and its cost does not grow with the number of
alerts (issue 5: an alert inbox per clinician and per supervisor)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.access.policy import program_reach
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.models import Organisation, Program
from iptcare.measures import selectors
from iptcare.measures.models import Alert, AlertKind, AlertStatus


@pytest.fixture
def sam(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    return make_user(
        "sam@example.org",
        organisation=org,
        roles=(Role.CLINICAL_SUPERVISOR,),
        programs=(northside,),
    )


def _clients(org: Organisation, program: Program, n: int, prefix: str) -> list[Client]:
    return Client.objects.bulk_create(
        Client(
            organisation=org,
            program=program,
            legal_given_name=f"{prefix}{i}",
            legal_family_name="Inboxtest",
            record_number=f"{prefix}-{i:04d}",
            date_of_birth=date(1980, 1, 1),
        )
        for i in range(n)
    )


def _alerts(clients: list[Client], clinician: User | None, *, hours_ago: int) -> list[Alert]:
    raised = timezone.now() - timedelta(hours=hours_ago)
    return Alert.objects.bulk_create(
        Alert(
            organisation_id=c.organisation_id,
            program_id=c.program_id,
            client=c,
            kind=AlertKind.OVERDUE_MEASURE,
            title="PHQ-9 overdue",
            dedupe_key=f"overdue:{c.pk}",
            clinician=clinician,
            raised_at=raised + timedelta(seconds=i),
        )
        for i, c in enumerate(clients)
    )


def test_my_alerts_are_not_crowded_out_by_newer_alerts_of_other_clinicians(
    theo: User,
    tess: User,
    org: Organisation,
    northside: Program,
    riverside: Program,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(selectors, "INBOX_LIMIT", 3)
    mine = _alerts(_clients(org, northside, 2, "mine"), theo, hours_ago=48)
    _alerts(_clients(org, riverside, 10, "other"), tess, hours_ago=1)  # newer, not mine

    inbox = selectors.alert_inbox(actor=theo)

    assert sorted(a.pk for a in inbox.mine) == sorted(a.pk for a in mine)
    assert inbox.supervision == [] and not inbox.mine_truncated


def test_each_list_is_capped_and_says_so(
    theo: User,
    sam: User,
    org: Organisation,
    northside: Program,
    login_as: Callable[[User], HttpClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(selectors, "INBOX_LIMIT", 3)
    theirs = _alerts(_clients(org, northside, 5, "n"), theo, hours_ago=2)

    inbox = selectors.alert_inbox(actor=theo)
    assert [a.pk for a in inbox.mine] == [a.pk for a in theirs[::-1][:3]]  # newest first
    assert inbox.mine_truncated

    supervisor = selectors.alert_inbox(actor=sam)
    assert len(supervisor.supervision) == 3 and supervisor.supervision_truncated
    assert supervisor.mine == [] and not supervisor.mine_truncated

    page = login_as(theo).get("/alerts/").content.decode()
    assert 'data-testid="alerts-mine-more"' in page
    api = login_as(theo).get("/api/v1/alerts").json()
    assert len(api["mine"]) == 3 and api["mine_truncated"] is True
    assert api["supervision_truncated"] is False


def test_supervisors_see_only_their_programs_and_resolved_alerts_drop_out(
    theo: User,
    tess: User,
    sam: User,
    org: Organisation,
    northside: Program,
    riverside: Program,
) -> None:
    north = _alerts(_clients(org, northside, 2, "n"), theo, hours_ago=3)
    _alerts(_clients(org, riverside, 2, "r"), tess, hours_ago=3)
    Alert.objects.filter(pk=north[0].pk).update(status=AlertStatus.RESOLVED)

    inbox = selectors.alert_inbox(actor=sam)

    assert [a.pk for a in inbox.supervision] == [north[1].pk]


def test_the_inbox_costs_the_same_queries_for_few_and_many_alerts(
    theo: User, sam: User, org: Organisation, northside: Program
) -> None:
    _alerts(_clients(org, northside, 2, "few"), theo, hours_ago=5)
    selectors.alert_inbox(actor=sam)  # warm the actor's cached roles and programs
    with CaptureQueriesContext(connection) as few:
        selectors.alert_inbox(actor=sam)
    _alerts(_clients(org, northside, 40, "many"), theo, hours_ago=4)
    with CaptureQueriesContext(connection) as many:
        inbox = selectors.alert_inbox(actor=sam)
    assert len(inbox.supervision) == 42
    assert len(many) == len(few)


def test_program_reach_follows_the_role_table(
    theo: User, sam: User, alice: User, remy: User, northside: Program
) -> None:
    category = DataCategory.CLINICAL_RECORD
    assert program_reach(sam, Action.SIGN, category, Purpose.OPERATIONS) == {northside.pk}
    assert program_reach(theo, Action.SIGN, category, Purpose.OPERATIONS) == frozenset()
    assert program_reach(theo, Action.VIEW, category, Purpose.TREATMENT) == {northside.pk}
    assert program_reach(remy, Action.VIEW, category, Purpose.TREATMENT) == frozenset()
