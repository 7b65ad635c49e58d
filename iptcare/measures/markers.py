"""What the progress chart marks on its time axis: attended sessions and the start of each IPT
phase (the session after the initial phase; the first termination session), from the client's
current IPT treatment contract and the program's phase boundaries (``iptcare.ipt.phases``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone

from iptcare.clients.models import Client
from iptcare.ipt.models import PhaseBoundaries, TreatmentContract
from iptcare.ipt.phases import DEFAULT_BOUNDARIES, PHASE_LABELS, Boundaries
from iptcare.measures.chart import Marker
from iptcare.scheduling.models import ATTENDED_STATUSES, Appointment, AppointmentKind, Modality


@dataclass(frozen=True)
class ChartMarkers:
    sessions: list[date] = field(default_factory=list)
    phases: list[Marker] = field(default_factory=list)


def phase_markers(ipt_sessions: list[date], contract_sessions: int, b: Boundaries) -> list[Marker]:
    """Pure: the date each phase began, given the dates of attended IPT sessions (in order)."""
    out: list[Marker] = []
    middle_at = b.initial_sessions + 1
    termination_at = max(contract_sessions - b.termination_sessions + 1, 1)
    if middle_at < termination_at and len(ipt_sessions) >= middle_at:
        out.append(Marker(ipt_sessions[middle_at - 1], PHASE_LABELS["middle"]))
    if len(ipt_sessions) >= termination_at:
        out.append(Marker(ipt_sessions[termination_at - 1], PHASE_LABELS["termination"]))
    return out


def chart_markers(client: Client) -> ChartMarkers:
    """Three queries: attended sessions, the latest IPT contract, the program's boundaries."""
    tz = timezone.get_current_timezone()
    rows = list(
        Appointment.objects.filter(client=client, status__in=sorted(ATTENDED_STATUSES))
        .order_by("starts_at")
        .values_list("starts_at", "modality", "kind")
    )
    sessions = sorted({starts.astimezone(tz).date() for starts, _, _ in rows})
    contract = (
        TreatmentContract.objects.filter(episode__client=client, episode__status="admitted")
        .order_by("-episode__admission_date", "-version")
        .values("sessions", "start_date")
        .first()
    )
    if contract is None:
        return ChartMarkers(sessions=sessions)
    saved = (
        PhaseBoundaries.objects.filter(program_id=client.program_id)
        .values_list("initial_sessions", "termination_sessions")
        .first()
    )
    boundaries = Boundaries(*saved) if saved else DEFAULT_BOUNDARIES
    ipt = [
        starts.astimezone(tz).date()
        for starts, modality, kind in rows
        if modality == Modality.IPT
        and kind != AppointmentKind.GROUP
        and starts.astimezone(tz).date() >= contract["start_date"]
    ]
    return ChartMarkers(
        sessions=sessions, phases=phase_markers(ipt, contract["sessions"], boundaries)
    )
