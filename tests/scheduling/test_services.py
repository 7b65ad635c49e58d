"""Scheduling services: the attendance state machine, versioning, rosters, clinician rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, RecordRevision
from iptcare.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from iptcare.core.models import Program
from iptcare.scheduling import services
from iptcare.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    GroupSession,
    Modality,
)
from iptcare.scheduling.services import InvalidTransition
from tests.helpers import last_audit_id
from tests.scheduling.conftest import MakeAppointment, reload

S = AppointmentStatus


def _schedule(actor: User, client: Client, clinician: User, **overrides: object) -> Appointment:
    kwargs: dict[str, object] = {
        "kind": AppointmentKind.INDIVIDUAL,
        "starts_at": timezone.now() + timedelta(days=3),
        "duration_minutes": 50,
        "modality": Modality.IPT,
    }
    kwargs.update(overrides)
    return services.appointment_schedule(
        actor=actor,
        client=client,
        clinician=clinician,
        **kwargs,  # type: ignore[arg-type]
    )


# --- scheduling -----------------------------------------------------------------------------


def test_schedule_creates_a_scheduled_appointment_and_audits_it(
    theo: User, client_record: Client
) -> None:
    before = last_audit_id()
    appointment = _schedule(theo, client_record, theo)
    assert appointment.status == S.SCHEDULED
    assert appointment.version == 1
    assert appointment.program_id == client_record.program_id
    # One event for the write: the decision's role and reason, naming the new appointment.
    [event] = AuditEvent.objects.filter(id__gt=before)
    assert (event.action, event.outcome, event.actor_role, event.reason) == (
        "create",
        "success",
        "therapist",
        "Therapist may create clinical_record",
    )
    assert (event.resource_type, event.resource_id) == ("appointment", str(appointment.public_id))
    assert event.client_id == client_record.public_id
    assert event.detail == {"appointment": "schedule", "version": 1, "changed": []}


def test_a_nurse_of_the_program_may_be_the_clinician(
    theo: User, nina: User, client_record: Client
) -> None:
    assert _schedule(theo, client_record, nina).clinician == nina


@pytest.mark.parametrize(
    ("clinician_name", "message"),
    [
        ("tess", "Not assigned to this program."),
        ("oscar", "Not a member of staff of this organisation."),
        ("remy", "Not assigned to this program."),
        ("alice", "Not assigned to this program."),
    ],
)
def test_clinician_must_be_program_staff_of_the_organisation(
    request: pytest.FixtureRequest,
    theo: User,
    client_record: Client,
    clinician_name: str,
    message: str,
) -> None:
    clinician: User = request.getfixturevalue(clinician_name)
    with pytest.raises(InvalidInput) as exc:
        _schedule(theo, client_record, clinician)
    assert exc.value.field_errors == {"clinician": [message]}
    assert not Appointment.objects.exists()


def test_a_researcher_assigned_to_the_program_is_still_no_clinician(
    theo: User, remy: User, client_record: Client, northside: Program
) -> None:
    remy.programs.add(northside)
    remy.forget_cached_privileges()
    with pytest.raises(InvalidInput) as exc:
        _schedule(theo, client_record, remy)
    assert exc.value.field_errors == {
        "clinician": ["Does not hold a treating role in this program."]
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"duration_minutes": 4}, "duration_minutes"),
        ({"duration_minutes": 481}, "duration_minutes"),
        ({"kind": AppointmentKind.GROUP}, "kind"),
        ({"kind": "massage"}, "kind"),
        ({"modality": "hypnosis"}, "modality"),
        ({"starts_at": timezone.now() - timedelta(days=3)}, "starts_at"),
    ],
)
def test_bad_input_gives_field_errors_and_creates_nothing(
    theo: User, client_record: Client, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        _schedule(theo, client_record, theo, **overrides)
    assert field in exc.value.field_errors
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("persona", "error"), [("tess", Forbidden), ("remy", Forbidden), ("oscar", NotFound)]
)
def test_outsiders_cannot_schedule_and_the_refusal_is_audited(
    request: pytest.FixtureRequest,
    theo: User,
    client_record: Client,
    persona: str,
    error: type[DomainError],
) -> None:
    actor: User = request.getfixturevalue(persona)
    with pytest.raises(error):
        _schedule(actor, client_record, theo)
    assert not Appointment.objects.exists()
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None and event.outcome == "denied" and event.actor_id == actor.public_id


# --- attendance: the state machine ----------------------------------------------------------

TRANSITIONS = [
    # from, to, allowed
    (S.SCHEDULED, S.ATTENDED, True),
    (S.SCHEDULED, S.LATE, True),
    (S.SCHEDULED, S.NO_SHOW, True),
    (S.SCHEDULED, S.SCHEDULED, False),
    (S.SCHEDULED, S.CANCELLED_CLIENT, False),  # cancellations go through appointment_cancel
    (S.SCHEDULED, S.CANCELLED_PROGRAM, False),
    *[
        (start, to, False)
        for start in (S.ATTENDED, S.LATE, S.NO_SHOW, S.CANCELLED_CLIENT, S.CANCELLED_PROGRAM)
        for to in (S.ATTENDED, S.LATE, S.NO_SHOW)
    ],
]


@pytest.mark.parametrize(("start", "target", "allowed"), TRANSITIONS)
def test_attendance_transitions(
    theo: User,
    client_record: Client,
    make_appointment: MakeAppointment,
    start: str,
    target: str,
    allowed: bool,
) -> None:
    appointment = make_appointment(client_record, timezone.now() - timedelta(hours=3), status=start)
    before = reload(appointment)
    if allowed:
        done = services.appointment_record_attendance(
            actor=theo, appointment=appointment, status=target
        )
        assert done.status == target
        assert done.version == 2
        assert done.attendance_recorded_by == theo
        assert done.attendance_recorded_at is not None
    else:
        error = InvalidTransition if start != S.SCHEDULED else InvalidInput
        with pytest.raises(error) as exc:
            services.appointment_record_attendance(
                actor=theo, appointment=appointment, status=target
            )
        assert exc.value.message
        assert "status" in exc.value.field_errors
        after = reload(appointment)
        assert (after.status, after.version, after.updated_at) == (
            before.status,
            before.version,
            before.updated_at,
        )


@pytest.mark.parametrize("target", [S.ATTENDED, S.LATE, S.NO_SHOW])
def test_no_attendance_for_an_appointment_that_has_not_started(
    theo: User, future_appointment: Appointment, target: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.appointment_record_attendance(
            actor=theo, appointment=future_appointment, status=target
        )
    assert exc.value.field_errors["status"] == ["This appointment has not started yet."]
    assert reload(future_appointment).status == S.SCHEDULED


def test_attended_needs_a_modality_when_none_was_planned(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    appointment = make_appointment(client_record, timezone.now() - timedelta(hours=1), modality="")
    with pytest.raises(InvalidInput) as exc:
        services.appointment_record_attendance(
            actor=theo, appointment=appointment, status=S.ATTENDED
        )
    assert "modality" in exc.value.field_errors
    done = services.appointment_record_attendance(
        actor=theo, appointment=appointment, status=S.ATTENDED, modality=Modality.CBT
    )
    assert done.modality == Modality.CBT


def test_a_no_show_needs_no_modality(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    appointment = make_appointment(client_record, timezone.now() - timedelta(hours=1), modality="")
    done = services.appointment_record_attendance(
        actor=theo, appointment=appointment, status=S.NO_SHOW
    )
    assert done.status == S.NO_SHOW and done.modality == ""


def test_attendance_with_a_stale_version_is_a_conflict(
    theo: User, past_appointment: Appointment
) -> None:
    with pytest.raises(Conflict):
        services.appointment_record_attendance(
            actor=theo, appointment=past_appointment, status=S.ATTENDED, version=7
        )
    assert reload(past_appointment).status == S.SCHEDULED


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_cannot_record_attendance(
    request: pytest.FixtureRequest, past_appointment: Appointment, persona: str
) -> None:
    with pytest.raises((Forbidden, NotFound)):
        services.appointment_record_attendance(
            actor=request.getfixturevalue(persona),
            appointment=past_appointment,
            status=S.ATTENDED,
        )
    assert reload(past_appointment).status == S.SCHEDULED


# --- cancel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.CANCELLED_CLIENT, S.CANCELLED_PROGRAM])
def test_cancel_a_scheduled_appointment(
    theo: User, future_appointment: Appointment, status: str
) -> None:
    reason = "Unwell after a change of medication"
    done = services.appointment_cancel(
        actor=theo, appointment=future_appointment, status=status, reason=reason, version=1
    )
    assert (done.status, done.cancellation_reason, done.version) == (status, reason, 2)
    # The reason is in the record (and its history), never in the audit trail.
    change = AuditEvent.objects.order_by("-id").first()
    assert change is not None and change.reason == "Therapist may update clinical_record"
    assert change.detail == {
        "appointment": "cancel",
        "status": status,
        "version": 2,
        # Cancelling records who settled the outcome, as recording attendance does.
        "changed": [
            "attendance_recorded_at",
            "attendance_recorded_by",
            "cancellation_reason",
            "status",
        ],
    }
    assert not AuditEvent.objects.filter(detail__icontains="medication").exists()
    revision = RecordRevision.objects.get(resource_id=future_appointment.public_id)
    assert (revision.version, revision.snapshot["status"]) == (1, S.SCHEDULED)


@pytest.mark.parametrize(
    ("status", "reason", "field"),
    [(S.CANCELLED_CLIENT, "  ", "cancellation_reason"), (S.NO_SHOW, "x", "status")],
)
def test_cancel_bad_input(
    theo: User, future_appointment: Appointment, status: str, reason: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.appointment_cancel(
            actor=theo, appointment=future_appointment, status=status, reason=reason
        )
    assert field in exc.value.field_errors
    assert reload(future_appointment).status == S.SCHEDULED


@pytest.mark.parametrize("start", [S.ATTENDED, S.NO_SHOW, S.CANCELLED_CLIENT])
def test_only_a_scheduled_appointment_can_be_cancelled(
    theo: User, client_record: Client, make_appointment: MakeAppointment, start: str
) -> None:
    appointment = make_appointment(client_record, timezone.now() - timedelta(hours=1), status=start)
    with pytest.raises(InvalidTransition):
        services.appointment_cancel(
            actor=theo, appointment=appointment, status=S.CANCELLED_PROGRAM, reason="x"
        )
    assert reload(appointment).status == start


# --- reschedule -----------------------------------------------------------------------------


def test_reschedule_moves_and_bumps_the_version(
    theo: User, nina: User, future_appointment: Appointment
) -> None:
    new_start = timezone.now() + timedelta(days=5)
    done = services.appointment_reschedule(
        actor=theo,
        appointment=future_appointment,
        version=1,
        starts_at=new_start,
        duration_minutes=30,
        clinician=nina,
    )
    fresh = reload(future_appointment)
    assert (fresh.starts_at, fresh.duration_minutes, fresh.clinician_id, fresh.version) == (
        new_start,
        30,
        nina.pk,
        2,
    )
    assert done.version == 2
    change = AuditEvent.objects.order_by("-id").first()
    assert change is not None
    assert change.detail == {
        "appointment": "reschedule",
        "version": 2,
        "changed": ["clinician", "duration_minutes", "starts_at"],
    }
    revision = RecordRevision.objects.get(resource_id=future_appointment.public_id)
    assert (revision.version, revision.snapshot["duration_minutes"]) == (1, 50)


def test_a_stale_reschedule_is_a_conflict_and_changes_nothing(
    theo: User, future_appointment: Appointment
) -> None:
    services.appointment_reschedule(
        actor=theo,
        appointment=future_appointment,
        version=1,
        starts_at=timezone.now() + timedelta(days=4),
    )
    before = reload(future_appointment)
    with pytest.raises(Conflict):
        services.appointment_reschedule(
            actor=theo,
            appointment=future_appointment,
            version=1,
            starts_at=timezone.now() + timedelta(days=9),
        )
    assert reload(future_appointment).starts_at == before.starts_at


def test_reschedule_refuses_a_clinician_outside_the_program(
    theo: User, tess: User, future_appointment: Appointment
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.appointment_reschedule(
            actor=theo,
            appointment=future_appointment,
            version=1,
            starts_at=timezone.now() + timedelta(days=4),
            clinician=tess,
        )
    assert "clinician" in exc.value.field_errors
    assert reload(future_appointment).version == 1


def test_an_attended_appointment_cannot_be_rescheduled(
    theo: User, client_record: Client, make_appointment: MakeAppointment
) -> None:
    appointment = make_appointment(
        client_record, timezone.now() - timedelta(days=1), status=S.ATTENDED
    )
    with pytest.raises(InvalidTransition):
        services.appointment_reschedule(
            actor=theo,
            appointment=appointment,
            version=1,
            starts_at=timezone.now() + timedelta(days=1),
        )


# --- groups ---------------------------------------------------------------------------------


def test_group_session_create_checks_the_facilitator(
    theo: User, tess: User, northside: Program
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.group_session_create(
            actor=theo,
            program=northside,
            title="IPT group",
            facilitator=tess,
            starts_at=timezone.now() + timedelta(days=1),
            duration_minutes=90,
            modality=Modality.IPT,
        )
    assert "facilitator" in exc.value.field_errors
    assert not GroupSession.objects.exists()
    session = services.group_session_create(
        actor=theo,
        program=northside,
        title="IPT group",
        facilitator=theo,
        starts_at=timezone.now() + timedelta(days=1),
        duration_minutes=90,
        modality=Modality.IPT,
    )
    assert session.program == northside


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_cannot_create_groups_in_northside(
    request: pytest.FixtureRequest, theo: User, northside: Program, persona: str
) -> None:
    with pytest.raises((Forbidden, NotFound)):
        services.group_session_create(
            actor=request.getfixturevalue(persona),
            program=northside,
            title="IPT group",
            facilitator=theo,
            starts_at=timezone.now() + timedelta(days=1),
            duration_minutes=90,
            modality=Modality.IPT,
        )
    assert not GroupSession.objects.exists()


def test_roster_add_once_per_client_and_same_program_only(
    theo: User,
    client_record: Client,
    riverside: Program,
    make_client: Callable[..., Client],
    make_group: Callable[..., GroupSession],
) -> None:
    session = make_group(timezone.now() + timedelta(days=2))
    seat = services.group_roster_add(actor=theo, session=session, client=client_record)
    assert (seat.kind, seat.group_session, seat.clinician, seat.starts_at) == (
        AppointmentKind.GROUP,
        session,
        theo,
        session.starts_at,
    )
    with pytest.raises(InvalidInput) as exc:
        services.group_roster_add(actor=theo, session=session, client=client_record)
    assert exc.value.field_errors == {"client": ["The client is already on this group's roster."]}
    # theo may not even see a Riverside client; an actor who could still gets a field error.
    stranger = make_client(program=riverside)
    with pytest.raises(Forbidden):
        services.group_roster_add(actor=theo, session=session, client=stranger)
    theo.programs.add(riverside)
    theo.forget_cached_privileges()
    with pytest.raises(InvalidInput) as exc:
        services.group_roster_add(actor=theo, session=session, client=stranger)
    assert exc.value.field_errors == {"client": ["The client is not in this group's program."]}
    assert Appointment.objects.filter(group_session=session).count() == 1


def test_roster_remove_only_before_attendance(
    theo: User,
    client_record: Client,
    make_client: Callable[..., Client],
    make_group: Callable[..., GroupSession],
) -> None:
    session = make_group(timezone.now() - timedelta(minutes=30))
    other = make_client()
    services.group_roster_add(actor=theo, session=session, client=client_record)
    services.group_roster_add(actor=theo, session=session, client=other)
    services.group_roster_remove(actor=theo, session=session, client=other)
    assert list(session.roster.values_list("client", flat=True)) == [client_record.pk]
    with pytest.raises(InvalidInput):
        services.group_roster_remove(actor=theo, session=session, client=other)
    services.group_record_attendance(
        actor=theo, session=session, attendance={client_record.public_id: S.ATTENDED}
    )
    with pytest.raises(InvalidTransition):
        services.group_roster_remove(actor=theo, session=session, client=client_record)
    assert session.roster.count() == 1


def test_group_attendance_per_attendee_all_or_nothing(
    theo: User,
    client_record: Client,
    make_client: Callable[..., Client],
    make_group: Callable[..., GroupSession],
) -> None:
    session = make_group(timezone.now() - timedelta(minutes=30))
    b, c, outsider = make_client(), make_client(), make_client()
    for client in (client_record, b, c):
        services.group_roster_add(actor=theo, session=session, client=client)
    # One entry not on the roster refuses the lot.
    with pytest.raises(InvalidInput) as exc:
        services.group_record_attendance(
            actor=theo,
            session=session,
            attendance={client_record.public_id: S.ATTENDED, outsider.public_id: S.ATTENDED},
        )
    assert str(outsider.public_id) in exc.value.field_errors
    # One invalid status refuses the lot too.
    with pytest.raises(InvalidInput):
        services.group_record_attendance(
            actor=theo,
            session=session,
            attendance={client_record.public_id: S.ATTENDED, b.public_id: S.CANCELLED_CLIENT},
        )
    assert set(session.roster.values_list("status", flat=True)) == {S.SCHEDULED}
    services.group_record_attendance(
        actor=theo,
        session=session,
        attendance={
            client_record.public_id: S.ATTENDED,
            b.public_id: S.LATE,
            c.public_id: S.NO_SHOW,
        },
    )
    statuses = dict(session.roster.values_list("client_id", "status"))
    assert statuses == {client_record.pk: S.ATTENDED, b.pk: S.LATE, c.pk: S.NO_SHOW}
    with pytest.raises(InvalidInput) as exc:
        services.group_record_attendance(
            actor=theo, session=session, attendance={b.public_id: S.ATTENDED}
        )
    assert exc.value.field_errors == {
        str(b.public_id): ["Attendance is already recorded for this client."]
    }


def test_group_attendance_waits_for_the_session_to_start(
    theo: User, client_record: Client, make_group: Callable[..., GroupSession]
) -> None:
    session = make_group(timezone.now() + timedelta(hours=2))
    services.group_roster_add(actor=theo, session=session, client=client_record)
    with pytest.raises(InvalidInput):
        services.group_record_attendance(
            actor=theo, session=session, attendance={client_record.public_id: S.ATTENDED}
        )
