"""Pages: the therapist's week, a client's appointments, scheduling, attendance (recording and
correcting it), group sessions.

Views parse input and render; reads go through selectors, writes through services, both of which
ask the access policy (a service's write records its own outcome). Opening an empty form records
nothing. A refused action re-renders the form with field errors (status 400/409).
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from iptcare.access.policy import check
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.selectors import client_get, client_list
from iptcare.core.errors import Conflict, DomainError, NotFound
from iptcare.core.models import Program
from iptcare.scheduling import selectors, services
from iptcare.scheduling.forms import (
    AppointmentScheduleForm,
    AttendanceCorrectionForm,
    AttendanceForm,
    GroupAttendanceForm,
    GroupSessionForm,
    RosterAddForm,
    add_domain_errors,
)
from iptcare.scheduling.models import (
    ATTENDANCE_OUTCOMES,
    CANCELLED_STATUSES,
    Appointment,
    AppointmentStatus,
)

CATEGORY = DataCategory.CLINICAL_RECORD
PURPOSE = Purpose.TREATMENT


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _status(form: object, status: int = 200) -> int:
    if status != 200:
        return status
    return 400 if getattr(form, "is_bound", False) and getattr(form, "errors", None) else 200


@login_required
def week(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    errors: list[str] = []
    start_text = request.GET.get("start", "")
    try:
        start = date.fromisoformat(start_text) if start_text else None
    except ValueError:
        start = None
        errors.append("Give the start as YYYY-MM-DD.")
    if start is None:
        start = selectors.week_start_of(timezone.localdate())
    clinician = actor
    if clinician_text := request.GET.get("clinician", ""):
        try:
            clinician_id = UUID(clinician_text)
        except ValueError as exc:
            raise NotFound("No such clinician.") from exc
        clinician = selectors.clinician_get(actor=actor, public_id=clinician_id)
    the_week = selectors.therapist_week(actor=actor, clinician=clinician, week_start=start)
    return render(
        request,
        "scheduling/week.html",
        {"week": the_week, "errors": errors, "other": clinician.pk != actor.pk},
        status=400 if errors else 200,
    )


@login_required
def client_appointments(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    appointments = selectors.client_timeline_appointments(actor=actor, client=client)
    return render(
        request,
        "scheduling/client_appointments.html",
        {"client": client, "appointments": appointments},
    )


@login_required
@require_http_methods(["GET", "POST"])
def appointment_new(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    # The client a new appointment will belong to: an empty form, nothing read is recorded (the
    # service decides again and records the write).
    client = client_get(actor=actor, public_id=client_id, action=Action.CREATE, category=CATEGORY)
    form = AppointmentScheduleForm(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appointment = services.appointment_schedule(
                actor=actor,
                client=client,
                clinician=data["clinician"],
                kind=data["kind"],
                modality=data["modality"],
                starts_at=data["starts_at"],
                duration_minutes=data["duration_minutes"],
                location=data["location"],
                is_telehealth=data["is_telehealth"],
            )
        except DomainError as exc:
            if exc.status in {403, 404}:
                raise
            add_domain_errors(form, exc)
        else:
            messages.success(
                request,
                f"Scheduled for {timezone.localtime(appointment.starts_at):%Y-%m-%d %H:%M}.",
            )
            return redirect("scheduling:client_appointments", client_id=client.public_id)
    return render(
        request,
        "scheduling/appointment_form.html",
        {"form": form, "client": client},
        status=_status(form),
    )


@login_required
@require_http_methods(["GET", "POST"])
def appointment_attendance(request: HttpRequest, appointment_id: UUID) -> HttpResponse:
    actor = _actor(request)
    appointment = selectors.appointment_get(actor=actor, public_id=appointment_id)
    form = AttendanceForm(request.POST or None, initial={"version": appointment.version})
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["status"] in CANCELLED_STATUSES:
                services.appointment_cancel(
                    actor=actor,
                    appointment=appointment,
                    status=data["status"],
                    reason=data["cancellation_reason"],
                    version=data["version"],
                )
            else:
                services.appointment_record_attendance(
                    actor=actor,
                    appointment=appointment,
                    status=data["status"],
                    modality=data["modality"],
                    version=data["version"],
                )
        except Conflict as exc:
            form.add_error(None, exc.message)
            status = 409
        except DomainError as exc:
            if exc.status in {403, 404}:
                raise
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Attendance recorded.")
            return redirect(
                "scheduling:client_appointments", client_id=appointment.client.public_id
            )
    return _attendance_page(request, appointment, form=form, status=_status(form, status))


def _attendance_page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    form: AttendanceForm | None = None,
    correction_form: AttendanceCorrectionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The appointment with its forms: record attendance while scheduled, correct it once
    recorded (a bound form is shown whatever the status, with its errors)."""
    initial = {"version": appointment.version}
    return render(
        request,
        "scheduling/attendance_form.html",
        {
            "form": form or AttendanceForm(initial=initial),
            "correction_form": correction_form or AttendanceCorrectionForm(initial=initial),
            "appointment": appointment,
            "recordable": appointment.status == AppointmentStatus.SCHEDULED,
            "correctable": appointment.status in ATTENDANCE_OUTCOMES,
        },
        status=status,
    )


@login_required
@require_POST
def appointment_attendance_correct(request: HttpRequest, appointment_id: UUID) -> HttpResponse:
    actor = _actor(request)
    appointment = selectors.appointment_get(actor=actor, public_id=appointment_id)
    form = AttendanceCorrectionForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.appointment_correct_attendance(
                actor=actor,
                appointment=appointment,
                status=data["status"],
                modality=data["modality"],
                reason=data["reason"],
                version=data["version"],
            )
        except Conflict as exc:
            form.add_error(None, exc.message)
            status = 409
        except DomainError as exc:
            if exc.status in {403, 404}:
                raise
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Attendance corrected.")
            return redirect(
                "scheduling:client_appointments", client_id=appointment.client.public_id
            )
    return _attendance_page(request, appointment, correction_form=form, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def group_new(request: HttpRequest, program_id: UUID) -> HttpResponse:
    actor = _actor(request)
    program = Program.objects.select_related("organisation").filter(public_id=program_id).first()
    if program is None:
        raise NotFound("No such program.")
    check(actor, Action.CREATE, program, CATEGORY, PURPOSE, detail={"of": "group_session"})
    form = GroupSessionForm(request.POST or None, program=program)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            session = services.group_session_create(actor=actor, program=program, **data)
        except DomainError as exc:
            if exc.status in {403, 404}:
                raise
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Group session “{session.title}” created.")
            return redirect("scheduling:group_detail", session_id=session.public_id)
    return render(
        request,
        "scheduling/group_form.html",
        {"form": form, "program": program},
        status=_status(form),
    )


def _group_page(
    request: HttpRequest,
    session_id: UUID,
    *,
    add_form: RosterAddForm | None = None,
    attendance_form: GroupAttendanceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    session = selectors.group_session_get(actor=actor, public_id=session_id)
    roster = selectors.group_roster(actor=actor, session=session)
    on_roster = {seat.client_id for seat in roster}
    candidates = client_list(actor=actor, program=session.program).exclude(pk__in=on_roster)
    return render(
        request,
        "scheduling/group_detail.html",
        {
            "session": session,
            "roster": roster,
            "add_form": add_form or RosterAddForm(clients=candidates),
            "attendance_form": attendance_form or GroupAttendanceForm(seats=roster),
            "started": session.starts_at <= timezone.now(),
        },
        status=status,
    )


@login_required
def group_detail(request: HttpRequest, session_id: UUID) -> HttpResponse:
    return _group_page(request, session_id)


@login_required
@require_POST
def group_roster_add(request: HttpRequest, session_id: UUID) -> HttpResponse:
    actor = _actor(request)
    session = selectors.group_session_get(actor=actor, public_id=session_id)
    candidates = client_list(actor=actor, program=session.program)
    form = RosterAddForm(request.POST, clients=candidates)
    if form.is_valid():
        try:
            services.group_roster_add(
                actor=actor, session=session, client=form.cleaned_data["client"]
            )
        except DomainError as exc:
            if exc.status in {403, 404}:
                raise
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Added to the roster.")
            return redirect("scheduling:group_detail", session_id=session.public_id)
    return _group_page(request, session_id, add_form=form, status=400)


@login_required
@require_POST
def group_roster_remove(request: HttpRequest, session_id: UUID, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    session = selectors.group_session_get(actor=actor, public_id=session_id)
    client = client_get(actor=actor, public_id=client_id)
    services.group_roster_remove(actor=actor, session=session, client=client)
    messages.success(request, f"{client.display_name} was taken off the roster.")
    return redirect("scheduling:group_detail", session_id=session.public_id)


@login_required
@require_POST
def group_attendance(request: HttpRequest, session_id: UUID) -> HttpResponse:
    actor = _actor(request)
    session = selectors.group_session_get(actor=actor, public_id=session_id)
    roster = selectors.group_roster(actor=actor, session=session)
    form = GroupAttendanceForm(request.POST, seats=roster)
    if form.is_valid():
        attendance = {
            UUID(name): value
            for name, value in form.cleaned_data.items()
            if name != "modality" and value
        }
        if not attendance:
            form.add_error(None, "Choose an attendance status for at least one client.")
        else:
            try:
                services.group_record_attendance(
                    actor=actor,
                    session=session,
                    attendance=attendance,
                    modality=form.cleaned_data["modality"],
                )
            except DomainError as exc:
                if exc.status in {403, 404}:
                    raise
                add_domain_errors(form, exc)
            else:
                messages.success(request, "Attendance recorded.")
                return redirect("scheduling:group_detail", session_id=session.public_id)
    return _group_page(request, session_id, attendance_form=form, status=400)
