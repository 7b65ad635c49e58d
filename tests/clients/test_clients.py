"""Client registration, record numbers, the duplicate warning, optimistic locking and search."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from iptcare.access.vocabulary import Action, DataCategory
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients import services
from iptcare.clients.errors import DuplicateClientWarning
from iptcare.clients.models import Client, RecordRevision
from iptcare.clients.selectors import client_search
from iptcare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iptcare.core.models import Program


def data(**kw: Any) -> dict[str, Any]:
    return {
        "legal_given_name": "Juniper",
        "legal_family_name": "Halloway",
        "date_of_birth": date(1979, 8, 21),
        **kw,
    }


def test_create_numbers_clients_per_organisation(theo: User, northside: Program) -> None:
    a = services.client_create(actor=theo, program=northside, data=data())
    b = services.client_create(actor=theo, program=northside, data=data(legal_given_name="Bram"))
    assert (a.record_number, b.record_number) == ("C-000001", "C-000002")
    assert a.organisation_id == northside.organisation_id
    # The decision is about the program (the client does not exist yet); the one event of the
    # write names the client it registered.
    assert not AuditEvent.objects.filter(resource_id=str(northside.public_id)).exists()
    success = AuditEvent.objects.get(client_id=a.public_id, action=Action.CREATE)
    assert success.outcome == "success" and success.data_category == DataCategory.DEMOGRAPHICS
    assert (success.resource_type, success.resource_id) == ("client", str(a.public_id))
    assert AuditEvent.objects.count() == 2  # one per registration


def test_given_record_number_must_be_free(theo: User, northside: Program) -> None:
    services.client_create(actor=theo, program=northside, data=data(record_number="X-1"))
    with pytest.raises(InvalidInput) as exc:
        services.client_create(
            actor=theo,
            program=northside,
            data=data(record_number="x-1", legal_given_name="Other"),
        )
    assert "record_number" in exc.value.field_errors


def test_duplicate_warning_lists_matches_unless_confirmed(
    theo: User, northside: Program, client_record: Client
) -> None:
    same = data(
        legal_given_name="WREN", legal_family_name="testbrook", date_of_birth=date(1990, 5, 17)
    )
    with pytest.raises(DuplicateClientWarning) as exc:
        services.client_create(actor=theo, program=northside, data=same)
    assert exc.value.status == 409
    assert [m["record_number"] for m in exc.value.matches] == ["T-0001"]
    assert Client.objects.count() == 1
    created = services.client_create(
        actor=theo, program=northside, data=same, confirm_duplicate=True
    )
    assert created.record_number == "C-000001"


def test_duplicate_in_a_program_the_actor_cannot_see_is_counted_not_shown(
    tess: User, riverside: Program, client_record: Client
) -> None:
    same = data(
        legal_given_name="Wren", legal_family_name="Testbrook", date_of_birth=date(1990, 5, 17)
    )
    with pytest.raises(DuplicateClientWarning) as exc:
        services.client_create(actor=tess, program=riverside, data=same)
    assert exc.value.matches == [] and exc.value.hidden_matches == 1
    assert "Testbrook" not in exc.value.message


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"legal_given_name": ""}, "legal_given_name"),
        ({"date_of_birth": date(2999, 1, 1)}, "date_of_birth"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"sex_assigned_at_birth": "robot"}, "sex_assigned_at_birth"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_bad_input_gives_field_errors_and_changes_nothing(
    theo: User, northside: Program, bad: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.client_create(actor=theo, program=northside, data=data(**bad))
    assert field in exc.value.field_errors
    assert Client.objects.count() == 0


def test_update_bumps_version_keeps_history_and_refuses_stale(
    theo: User, client_record: Client
) -> None:
    updated = services.client_update(
        actor=theo, client=client_record, version=1, data={"preferred_name": "Renny"}
    )
    assert updated.version == 2 and updated.preferred_name == "Renny"
    revision = RecordRevision.objects.get(resource_id=client_record.public_id)
    assert revision.version == 1 and revision.snapshot["preferred_name"] == ""
    with pytest.raises(Conflict):
        services.client_update(
            actor=theo, client=client_record, version=1, data={"preferred_name": "Stale"}
        )
    client_record.refresh_from_db()
    assert client_record.preferred_name == "Renny"


def test_update_with_bad_input_changes_nothing(theo: User, client_record: Client) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.client_update(
            actor=theo, client=client_record, version=1, data={"email": "nope", "city": "X"}
        )
    assert "email" in exc.value.field_errors
    client_record.refresh_from_db()
    assert (client_record.version, client_record.city) == (1, "")
    assert not RecordRevision.objects.exists()


def test_off_program_and_other_org_cannot_create_or_update(
    tess: User, oscar: User, remy: User, northside: Program, client_record: Client
) -> None:
    for actor in (tess, remy):
        with pytest.raises(Forbidden):
            services.client_create(actor=actor, program=northside, data=data())
        with pytest.raises(Forbidden):
            services.client_update(actor=actor, client=client_record, version=1, data={})
    with pytest.raises(NotFound):
        services.client_create(actor=oscar, program=northside, data=data())
    assert Client.objects.count() == 1


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("wren", True),
        ("TESTB", True),
        ("wren testbrook", True),
        ("wren nobody", False),
        ("t-0001", True),
        ("1990-05-17", True),
        ("1990-05-18", False),
        ("1990-13-45", False),
        ("", False),
    ],
)
def test_search_matches_name_record_number_and_birth_date(
    theo: User, client_record: Client, query: str, found: bool
) -> None:
    assert (client_search(actor=theo, query=query) == [client_record]) is found


def test_search_only_returns_visible_clients_and_is_audited_once(
    theo: User, tess: User, client_record: Client, river_client: Client
) -> None:
    before = AuditEvent.objects.count()
    assert client_search(actor=tess, query="wren") == []
    assert client_search(actor=tess, query="ash") == [river_client]
    assert client_search(actor=theo, query="ash") == []
    events = list(AuditEvent.objects.order_by("id")[before:])
    assert len(events) == 3
    assert {(e.action, e.data_category) for e in events} == {
        (Action.LIST, DataCategory.DEMOGRAPHICS)
    }
    assert events[0].detail == {"search": "wren"}


def test_researcher_and_outsider_are_refused_search(
    remy: User, oscar: User, client_record: Client
) -> None:
    with pytest.raises(Forbidden):
        client_search(actor=remy, query="wren")
    assert AuditEvent.objects.filter(actor_email=remy.email, outcome="denied").count() == 1
    assert client_search(actor=oscar, query="wren") == []  # his own organisation only
