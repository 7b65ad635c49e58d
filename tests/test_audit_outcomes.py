"""Every audit event says what happened (ADR 0015): a write leaves exactly one event, in its own
transaction, with outcome success and the decision's role and reason; a failed write leaves
nothing but one failure event naming the error's kind and fields (never the values), written
at the request's edge after the rollback; a refusal likewise; a read is one event per access;
opening an empty form records nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client as HttpClient

from iptcare.access.policy import authorize, writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit import services as audit
from iptcare.audit.models import AuditEvent, Outcome
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import Forbidden
from iptcare.measures import alerts
from iptcare.measures.models import Administration, Alert, AlertKind
from tests.helpers import audit_events_after, last_audit_id

PHQ9_ITEM9 = {str(n): "0" for n in range(1, 10)} | {"9": "2"}
SECRET_NOTE = "Called the client's sister Maple at 555-0100"  # never in the trail


@pytest.fixture
def episode(client_record: Client, theo: User) -> Episode:
    return Episode.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        client=client_record,
        status="admitted",
        referral_date="2026-01-05",
        admission_date="2026-01-06",
        primary_clinician=theo,
    )


def _administer(http: HttpClient, client: Client, answers: dict[str, str]) -> Any:
    return http.post(
        f"/api/v1/clients/{client.public_id}/administrations",
        data=json.dumps({"instrument": "phq-9", "answers": answers}),
        content_type="application/json",
    )


@pytest.mark.django_db
def test_a_write_leaves_exactly_one_event_with_the_decisions_role_and_reason(
    theo: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(theo)
    mark = last_audit_id()
    response = _administer(http, client_record, PHQ9_ITEM9)
    assert response.status_code == 201, response.content
    administration = Administration.objects.get()
    (event,) = audit_events_after(mark)
    assert (event.action, event.outcome) == (Action.CREATE, Outcome.SUCCESS)
    assert event.actor_id == theo.public_id and event.actor_role == "therapist"
    assert event.reason == "Therapist may create clinical_record"
    assert event.client_id == client_record.public_id
    assert (event.resource_type, event.resource_id) == (
        "administration",
        str(administration.public_id),
    )
    # The safety alert it raised is part of the same write: no event of its own.
    assert Alert.objects.get().kind == AlertKind.SAFETY


@pytest.mark.django_db
def test_a_failed_write_leaves_nothing_but_one_failure_event_without_the_values(
    theo: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(theo)
    mark = last_audit_id()
    response = _administer(http, client_record, {"1": "7", "2": "0"})
    assert response.status_code == 422
    assert not Administration.objects.exists() and not Alert.objects.exists()
    (event,) = audit_events_after(mark)
    assert (event.action, event.outcome) == (Action.CREATE, Outcome.FAILURE)
    assert event.reason.startswith("failed: InvalidAnswers (422); fields: ")
    assert "1" in event.reason.split("fields: ")[1]
    assert event.actor_role == "therapist" and event.client_id == client_record.public_id
    assert "7" not in json.dumps(event.detail)


@pytest.mark.django_db
def test_a_stale_edit_leaves_one_failure_event_and_changes_nothing(
    theo: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    alert = alerts.raise_alert(
        client=client_record,
        episode=episode,
        finding=alerts.Finding(
            kind=AlertKind.NO_SHOWS, title="2 consecutive no-shows", detail="", dedupe_key="x"
        ),
    )
    http = login_as(theo)
    mark = last_audit_id()
    response = http.post(
        f"/alerts/{alert.public_id}/",
        {"version": alert.version + 1, "note": SECRET_NOTE, "step": "acknowledge"},
    )
    assert response.status_code == 409
    alert.refresh_from_db()
    assert alert.status == "open" and alert.action_note == ""
    (event,) = audit_events_after(mark)
    assert (event.action, event.outcome) == (Action.UPDATE, Outcome.FAILURE)
    assert event.reason == "failed: Conflict (409)"
    assert SECRET_NOTE not in json.dumps(
        {f.name: str(getattr(event, f.name)) for f in AuditEvent._meta.fields}
    )

    mark = last_audit_id()
    response = http.post(
        f"/alerts/{alert.public_id}/",
        {"version": alert.version, "note": SECRET_NOTE, "step": "acknowledge"},
    )
    assert response.status_code == 302
    (event,) = audit_events_after(mark)
    assert (event.action, event.outcome) == (Action.UPDATE, Outcome.SUCCESS)
    assert event.resource_id == str(alert.public_id)


@pytest.mark.django_db
def test_a_refusal_is_recorded_once_and_changes_nothing(
    oscar: User,
    tess: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    for outsider, status in ((tess, 403), (oscar, 404)):
        mark = last_audit_id()
        response = _administer(login_as(outsider), client_record, PHQ9_ITEM9)
        assert response.status_code == status
        events = [e for e in audit_events_after(mark) if e.data_category != "authentication"]
        assert [(e.action, e.outcome, e.actor_id) for e in events] == [
            (Action.CREATE, Outcome.DENIED, outsider.public_id)
        ]
    assert not Administration.objects.exists()


@pytest.mark.django_db
def test_opening_an_empty_form_records_nothing(
    theo: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(theo)
    mark = last_audit_id()
    response = http.get(f"/clients/{client_record.public_id}/measures/phq-9/new/")
    assert response.status_code == 200
    assert audit_events_after(mark) == []


@pytest.mark.django_db
def test_a_form_the_page_refuses_is_one_failure_event(
    theo: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    """The page's form refused the input before the service ran (here: an answer that is no
    option of the item): still a failed write, recorded once, without the value."""
    http = login_as(theo)
    mark = last_audit_id()
    response = http.post(f"/clients/{client_record.public_id}/measures/phq-9/new/", {"item_1": "7"})
    assert response.status_code == 400
    assert not Administration.objects.exists()
    (event,) = audit_events_after(mark)
    assert (event.action, event.outcome) == (Action.CREATE, Outcome.FAILURE)
    assert event.reason == "failed: HTTP 400, refused by the page before its service ran"
    assert event.client_id == client_record.public_id and event.actor_role == "therapist"


@pytest.mark.django_db
def test_a_read_is_one_event_per_access(
    theo: User,
    client_record: Client,
    episode: Episode,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(theo)
    mark = last_audit_id()
    response = http.get(f"/clients/{client_record.public_id}/edit/")
    assert response.status_code == 200
    (event,) = audit_events_after(mark)
    assert (event.action, event.outcome, event.detail) == (
        Action.VIEW,
        Outcome.SUCCESS,
        {"for": "update"},
    )
    assert event.actor_role == "therapist" and event.reason


# --- the mechanism, outside a page ---------------------------------------------------------


@pytest.mark.django_db
def test_an_integrity_error_rolls_the_write_back_and_is_recorded_after_it(
    theo: User, client_record: Client
) -> None:
    mark = last_audit_id()
    with audit.edge():
        with (
            pytest.raises(IntegrityError),
            writing(
                theo, Action.UPDATE, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
            ),
        ):
            Client.objects.filter(pk=client_record.pk).update(legal_given_name="Changed")
            Client.objects.create(
                organisation=client_record.organisation,
                program=client_record.program,
                record_number=client_record.record_number,  # taken: UNIQUE per organisation
                legal_given_name="Dup",
                legal_family_name="Licate",
                date_of_birth=client_record.date_of_birth,
            )
        assert audit_events_after(mark) == []  # kept for the edge, not written inside the rollback
    client_record.refresh_from_db()
    assert client_record.legal_given_name == "Wren"
    (event,) = audit_events_after(mark)
    assert event.outcome == Outcome.FAILURE and event.reason == "failed: IntegrityError"


@pytest.mark.django_db
def test_a_server_error_in_a_write_is_recorded_as_a_failure(
    theo: User, client_record: Client
) -> None:
    mark = last_audit_id()
    with (
        audit.edge(),
        pytest.raises(ZeroDivisionError),
        writing(theo, Action.UPDATE, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT),
    ):
        Client.objects.filter(pk=client_record.pk).update(legal_given_name="Changed")
        _ = 1 / 0
    client_record.refresh_from_db()
    assert client_record.legal_given_name == "Wren"
    (event,) = audit_events_after(mark)
    assert event.outcome == Outcome.FAILURE and event.reason == "failed: ZeroDivisionError"


@pytest.mark.django_db
def test_a_nested_write_is_named_in_the_one_event_and_its_refusal_is_the_one_event(
    theo: User, alice: User, client_record: Client
) -> None:
    mark = last_audit_id()
    with (
        audit.edge(),
        writing(
            theo, Action.UPDATE, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
        ) as grant,
    ):
        with writing(
            theo, Action.UPDATE, client_record, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
        ):
            pass
        grant.detail["note"] = "outer"
    (event,) = audit_events_after(mark)
    assert event.outcome == Outcome.SUCCESS and event.detail["note"] == "outer"
    assert [a["action"] for a in event.detail["also"]] == ["update"]

    mark = last_audit_id()
    organisation = client_record.organisation
    outer = writing(
        alice, Action.UPDATE, organisation, DataCategory.ORGANISATION, Purpose.ADMINISTRATION
    )
    # The administrator may not touch the clinical record: refused inside.
    inner = writing(
        alice, Action.UPDATE, client_record, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
    )
    with audit.edge(), pytest.raises(Forbidden), outer, inner:
        pass
    (event,) = audit_events_after(mark)
    assert event.outcome == Outcome.DENIED and event.client_id == client_record.public_id


@pytest.mark.django_db
def test_the_edge_collapses_repeated_reads_and_drops_reads_of_what_it_wrote(
    theo: User, client_record: Client
) -> None:
    mark = last_audit_id()
    with audit.edge():
        for _ in range(3):
            authorize(
                theo, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
            )
        assert audit_events_after(mark) == []
    assert [(e.action, e.outcome) for e in audit_events_after(mark)] == [
        (Action.VIEW, Outcome.SUCCESS)
    ]

    mark = last_audit_id()
    with audit.edge():
        authorize(theo, Action.UPDATE, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
        with writing(
            theo, Action.UPDATE, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
        ):
            pass
    assert [(e.action, e.outcome) for e in audit_events_after(mark)] == [
        (Action.UPDATE, Outcome.SUCCESS)
    ]


@pytest.mark.django_db
def test_a_write_must_be_its_own_transaction(theo: User, client_record: Client) -> None:
    """Its event is then in the transaction that commits the work, never in one a caller could
    still roll back after the event said success."""
    write = writing(
        theo, Action.UPDATE, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    )
    # Inside a caller's own transaction.
    with pytest.raises(RuntimeError), transaction.atomic(), write:
        pass


# --- alerts never vanish ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_invalid_safety_alert_raises_rather_than_disappears(
    client_record: Client, episode: Episode
) -> None:
    invalid = alerts.Finding(
        kind=AlertKind.SAFETY,
        title="PHQ-9: item-9-self-harm",
        detail=None,  # type: ignore[arg-type]  # NOT NULL in the table
        dedupe_key="safety:x:item-9-self-harm",
        immediate=True,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        alerts.raise_alerts(client=client_record, episode=episode, findings=[invalid])
    assert not Alert.objects.exists()


def test_a_failure_names_fields_but_never_a_submitted_key_or_value() -> None:
    from iptcare.access.policy import failure_reason
    from iptcare.core.errors import InvalidInput

    exc = InvalidInput(
        "Unknown criteria: Maple Smith",
        field_errors={"note": ["Required."], "Maple Smith 555-0100": ["Unknown."], "1": ["x"]},
    )
    assert failure_reason(exc) == "failed: InvalidInput (422); fields: 1, note, other"


@pytest.mark.django_db
def test_outside_a_request_a_refusal_inside_a_write_survives_its_rollback(
    alice: User, client_record: Client
) -> None:
    """A command or a shell has no request edge: the outermost write is its own."""
    mark = last_audit_id()
    outer = writing(
        alice,
        Action.UPDATE,
        client_record.organisation,
        DataCategory.ORGANISATION,
        Purpose.ADMINISTRATION,
    )
    inner = writing(
        alice, Action.UPDATE, client_record, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
    )
    with pytest.raises(Forbidden), outer, inner:
        pass
    (event,) = audit_events_after(mark)
    assert event.outcome == Outcome.DENIED and event.client_id == client_record.public_id
