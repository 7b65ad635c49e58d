"""Services and selectors: revisions, problem-area rules, contract, override, conclusion plan,
``ipt_status_for_clients`` query count, and bad input changing nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iptcare.core.models import Program
from iptcare.ipt import services
from iptcare.ipt.models import (
    DisputeStageEntry,
    Formulation,
    InventoryPerson,
    InventoryRevision,
    PhaseOverride,
    ProblemArea,
    TreatmentContract,
)
from iptcare.ipt.selectors import ipt_record, ipt_status_for_clients
from iptcare.scheduling.models import AppointmentStatus, Modality
from tests.ipt.conftest import START, person


def _counts() -> tuple[int, ...]:
    return (
        InventoryRevision.objects.count(),
        InventoryPerson.objects.count(),
        Formulation.objects.count(),
        ProblemArea.objects.count(),
        DisputeStageEntry.objects.count(),
        TreatmentContract.objects.count(),
        PhaseOverride.objects.count(),
    )


def test_revisions_are_kept_and_people_keep_their_key(theo: User, episode: Episode) -> None:
    first = services.inventory_revision_create(
        actor=theo,
        episode=episode,
        people=[person("Aunt M.", "outer"), person("Mate Z.", "inner", uses_with_client=True)],
        based_on=0,
    )
    aunt, mate = first.people.order_by("position")
    second = services.inventory_person_save(
        actor=theo,
        episode=episode,
        person_key=aunt.person_key,
        data={**person("Aunt M.", "middle"), "supports_recovery": True},
        based_on=1,
    )
    third = services.inventory_person_remove(
        actor=theo, episode=episode, person_key=mate.person_key, based_on=2
    )
    fourth = services.inventory_person_save(
        actor=theo, episode=episode, data=person("Sponsor L.", "middle"), based_on=3
    )
    assert [first.number, second.number, third.number, fourth.number] == [1, 2, 3, 4]
    # The first revision is untouched.
    assert [(p.name, p.ring) for p in first.people.order_by("position")] == [
        ("Aunt M.", "outer"),
        ("Mate Z.", "inner"),
    ]
    record = ipt_record(actor=theo, episode_id=episode.public_id)
    latest = record.people(record.latest)
    assert [p.name for p in latest] == ["Aunt M.", "Sponsor L."]
    assert latest[0].person_key == aunt.person_key
    diff = record.diff
    assert diff is not None
    assert [m.name for m in diff.closer] == ["Aunt M."]
    assert diff.left == ["Mate Z."] and diff.new == ["Sponsor L."]
    assert diff.newly_supportive == ["Aunt M."]
    with pytest.raises(Exception, match="never changed"):
        first.note = "edited"
        first.save()


def test_stale_revision_is_a_conflict(theo: User, episode: Episode) -> None:
    services.inventory_revision_create(
        actor=theo, episode=episode, people=[person("Aunt M.")], based_on=0
    )
    before = _counts()
    with pytest.raises(Conflict):
        services.inventory_person_save(
            actor=theo, episode=episode, data=person("Sister K."), based_on=0
        )
    assert _counts() == before


@pytest.mark.parametrize(
    ("people", "field"),
    [
        ([person("", "inner")], "people.0.name"),
        ([person("Aunt M.", "nowhere")], "people.0.ring"),
        ([person("Aunt M."), person("Sister K.", relation="")], "people.1.relation"),
        ([person("Aunt M.", expectations_met="maybe")], "people.0.expectations_met"),
        ([], "people"),
    ],
)
def test_bad_people_are_field_errors_and_change_nothing(
    theo: User, episode: Episode, people: list[dict[str, Any]], field: str
) -> None:
    before = _counts()
    with pytest.raises(InvalidInput) as exc:
        services.inventory_revision_create(actor=theo, episode=episode, people=people)
    assert field in exc.value.field_errors
    assert _counts() == before


def test_at_most_two_active_problem_areas(theo: User, episode: Episode) -> None:
    services.problem_area_add(actor=theo, episode=episode, kind="grief")
    transition = services.problem_area_add(
        actor=theo,
        episode=episode,
        kind="role_transition",
        transition_from="active use",
        transition_to="recovery",
    )
    before = _counts()
    with pytest.raises(InvalidInput) as exc:
        services.problem_area_add(actor=theo, episode=episode, kind="interpersonal_deficits")
    assert "kind" in exc.value.field_errors
    assert _counts() == before
    services.problem_area_end(actor=theo, area=transition)
    services.problem_area_add(actor=theo, episode=episode, kind="interpersonal_deficits")
    assert ProblemArea.objects.filter(episode=episode).count() == 3
    assert ProblemArea.objects.filter(episode=episode, ended_at__isnull=True).count() == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "role_transition", "transition_to": "recovery"}, "transition_from"),
        ({"kind": "role_dispute", "stage": "impasse"}, "dispute_with"),
        ({"kind": "role_dispute", "dispute_with": "Partner A."}, "stage"),
        ({"kind": "nonsense"}, "kind"),
    ],
)
def test_problem_area_field_errors(
    theo: User, episode: Episode, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.problem_area_add(actor=theo, episode=episode, **kwargs)
    assert field in exc.value.field_errors
    assert ProblemArea.objects.count() == 0


def test_role_dispute_stage_history(theo: User, episode: Episode) -> None:
    revision = services.inventory_revision_create(
        actor=theo, episode=episode, people=[person("Partner A.", "inner")]
    )
    key = revision.people.get().person_key
    area = services.problem_area_add(
        actor=theo,
        episode=episode,
        kind="role_dispute",
        dispute_person_key=key,
        stage="impasse",
        stage_on=date(2025, 1, 13),
    )
    assert area.dispute_with == "Partner A."
    services.dispute_stage_record(
        actor=theo, area=area, stage="renegotiation", recorded_on=date(2025, 2, 10)
    )
    services.dispute_stage_record(
        actor=theo, area=area, stage="dissolution", recorded_on=date(2025, 3, 3), note="moved out"
    )
    stages = [(e.stage, e.recorded_on) for e in area.stage_entries.order_by("recorded_on")]
    assert stages == [
        ("impasse", date(2025, 1, 13)),
        ("renegotiation", date(2025, 2, 10)),
        ("dissolution", date(2025, 3, 3)),
    ]
    with pytest.raises(InvalidInput) as exc:
        services.dispute_stage_record(
            actor=theo, area=area, stage="impasse", recorded_on=date.today() + timedelta(days=3)
        )
    assert "recorded_on" in exc.value.field_errors
    with pytest.raises(InvalidInput):
        services.problem_area_add(
            actor=theo,
            episode=episode,
            kind="role_dispute",
            dispute_person_key=InventoryPerson().person_key,  # nobody of this inventory
            stage="impasse",
        )


def test_formulation_versions(theo: User, episode: Episode) -> None:
    services.formulation_save(actor=theo, episode=episode, text="First.", based_on=0)
    services.formulation_save(actor=theo, episode=episode, text="Second.", based_on=1)
    with pytest.raises(Conflict):
        services.formulation_save(actor=theo, episode=episode, text="Stale.", based_on=1)
    with pytest.raises(InvalidInput) as exc:
        services.formulation_save(actor=theo, episode=episode, text="   ", based_on=2)
    assert "text" in exc.value.field_errors
    assert list(Formulation.objects.values_list("version", "text")) == [
        (1, "First."),
        (2, "Second."),
    ]


@pytest.mark.parametrize(
    ("sessions", "end", "field"),
    [(7, None, "sessions"), (21, None, "sessions"), (16, START, "planned_end_date")],
)
def test_contract_field_errors(
    theo: User, episode: Episode, sessions: int, end: date | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.contract_save(
            actor=theo, episode=episode, sessions=sessions, start_date=START, planned_end_date=end
        )
    assert field in exc.value.field_errors
    assert TreatmentContract.objects.count() == 0


def test_phase_from_attended_ipt_sessions_and_override(
    theo: User, episode: Episode, client_record: Client, attend: Callable[..., Any]
) -> None:
    contract = services.contract_save(actor=theo, episode=episode, sessions=16, start_date=START)
    assert contract.planned_end_date == START + timedelta(weeks=15)
    attend(client_record, 2, start=START - timedelta(weeks=3))  # before the contract
    attend(client_record, 13)
    attend(client_record, 2, modality=Modality.CBT, start=START + timedelta(days=1))
    attend(client_record, 2, status=AppointmentStatus.NO_SHOW, start=START + timedelta(days=2))
    phase = ipt_record(actor=theo, episode_id=episode.public_id).phase
    assert phase is not None
    assert (phase.phase, phase.session_n, phase.of_n, phase.termination_prompt) == (
        "middle",
        13,
        16,
        True,
    )
    events = AuditEvent.objects.count()
    services.phase_override_set(
        actor=theo, episode=episode, phase="termination", reason="Client asked to end early"
    )
    assert AuditEvent.objects.count() == events + 1
    status = ipt_status_for_clients(client_ids=[client_record.pk])[client_record.pk]
    assert status is not None and status.phase == "termination" and status.overridden
    with pytest.raises(InvalidInput) as exc:
        services.phase_override_set(actor=theo, episode=episode, phase="middle", reason=" ")
    assert "reason" in exc.value.field_errors
    cleared = services.phase_override_clear(actor=theo, episode=episode)
    assert cleared.cleared_by == theo and cleared.cleared_at is not None
    status = ipt_status_for_clients(client_ids=[client_record.pk])[client_record.pk]
    assert status is not None and status.phase == "middle" and not status.overridden
    with pytest.raises(InvalidInput):
        services.phase_override_clear(actor=theo, episode=episode)


def test_program_boundaries(
    alice: User,
    theo: User,
    episode: Episode,
    northside: Program,
    client_record: Client,
    attend: Callable[..., Any],
) -> None:
    services.contract_save(actor=theo, episode=episode, sessions=16, start_date=START)
    attend(client_record, 4)
    assert _phase_of(client_record) == "middle"
    with pytest.raises(Forbidden):
        services.phase_boundaries_set(
            actor=theo, program=northside, initial_sessions=4, termination_sessions=2
        )
    services.phase_boundaries_set(
        actor=alice, program=northside, initial_sessions=4, termination_sessions=2
    )
    assert _phase_of(client_record) == "initial"
    with pytest.raises(InvalidInput) as exc:
        services.phase_boundaries_set(
            actor=alice, program=northside, initial_sessions=0, termination_sessions=2
        )
    assert "initial_sessions" in exc.value.field_errors


def _phase_of(client: Client) -> str:
    info = ipt_status_for_clients(client_ids=[client.pk])[client.pk]
    assert info is not None
    return info.phase


def test_conclusion_plan_versions(theo: User, episode: Episode) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.conclusion_plan_save(actor=theo, episode=episode, based_on=0)
    assert "gains" in exc.value.field_errors
    services.conclusion_plan_save(actor=theo, episode=episode, gains="Calls sister", based_on=0)
    row = services.conclusion_plan_save(
        actor=theo, episode=episode, gains="Calls sister weekly", based_on=1
    )
    assert row.version == 2


def _clients_with_contracts(
    n: int,
    theo: User,
    make_client: Callable[[], Client],
    make_episode: Callable[..., Episode],
    attend: Callable[..., Any],
) -> list[int]:
    ids = []
    for i in range(n):
        client = make_client()
        episode = make_episode(client)
        services.contract_save(actor=theo, episode=episode, sessions=16, start_date=START)
        attend(client, i % 16)
        if i % 3 == 0:
            services.phase_override_set(actor=theo, episode=episode, phase="middle", reason="r")
        ids.append(client.pk)
    return ids


def test_ipt_status_for_clients_constant_queries(
    theo: User,
    make_client: Callable[[], Client],
    make_episode: Callable[..., Episode],
    attend: Callable[..., Any],
) -> None:
    two = _clients_with_contracts(2, theo, make_client, make_episode, attend)
    ten = _clients_with_contracts(10, theo, make_client, make_episode, attend)
    without = make_client()
    with CaptureQueriesContext(connection) as q2:
        small = ipt_status_for_clients(client_ids=two)
    with CaptureQueriesContext(connection) as q10:
        large = ipt_status_for_clients(client_ids=[*ten, without.pk])
    assert len(q2.captured_queries) == len(q10.captured_queries) <= 4
    second = small[two[1]]
    assert second is not None and second.session_n == 1
    assert large[without.pk] is None
    assert [large[c].session_n for c in ten] == list(range(10))  # type: ignore[union-attr]
    assert large[ten[5]].phase == "middle" and large[ten[2]].phase == "initial"  # type: ignore[union-attr]


def test_status_prefers_the_admitted_episode(
    theo: User, client_record: Client, make_episode: Callable[..., Episode]
) -> None:
    old = make_episode(client_record, status="cancelled")
    services.contract_save(actor=theo, episode=old, sessions=8, start_date=START)
    current = make_episode(client_record)
    services.contract_save(actor=theo, episode=current, sessions=12, start_date=START)
    services.contract_save(actor=theo, episode=current, sessions=20, start_date=START, based_on=1)
    info = ipt_status_for_clients(client_ids=[client_record.pk])[client_record.pk]
    assert info is not None and info.of_n == 20


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_cannot_write(
    request: pytest.FixtureRequest, theo: User, episode: Episode, persona: str
) -> None:
    outsider: User = request.getfixturevalue(persona)
    area = services.problem_area_add(actor=theo, episode=episode, kind="grief")
    before = _counts()
    calls: list[Callable[[], object]] = [
        lambda: services.inventory_revision_create(
            actor=outsider, episode=episode, people=[person("X")]
        ),
        lambda: services.formulation_save(actor=outsider, episode=episode, text="x"),
        lambda: services.problem_area_add(actor=outsider, episode=episode, kind="grief"),
        lambda: services.problem_area_end(actor=outsider, area=area),
        lambda: services.contract_save(
            actor=outsider, episode=episode, sessions=16, start_date=START
        ),
        lambda: services.phase_override_set(
            actor=outsider, episode=episode, phase="middle", reason="x"
        ),
        lambda: services.conclusion_plan_save(actor=outsider, episode=episode, gains="x"),
    ]
    for call in calls:
        with pytest.raises((Forbidden, NotFound)):
            call()
    assert _counts() == before
