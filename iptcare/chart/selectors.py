"""Caseload and chart: compositions of other apps' selectors, each through the access policy.

Query counts are fixed: they do not grow with the size of a caseload or of a client's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.utils import timezone

from iptcare.access.policy import authorize, decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.clients.selectors import ClinicalChart, client_chart_clinical, client_get
from iptcare.encounters.models import SessionNote
from iptcare.encounters.selectors import client_timeline_notes, unsigned_note_counts
from iptcare.ipt.phases import PhaseInfo
from iptcare.ipt.selectors import ipt_status_for_clients
from iptcare.measures.schedules import DueStatus
from iptcare.measures.selectors import LatestScore, measures_status_for_clients
from iptcare.plans.selectors import plan_review_status_for_clients
from iptcare.scheduling.models import Appointment
from iptcare.scheduling.selectors import (
    client_chart_appointments,
    next_appointment_and_last_seen,
)

OPEN = ("referred", "admitted")
# The chart shows the latest of each; the full lists are one click away.
TIMELINE_LIMIT = 25


@dataclass(frozen=True)
class CaseloadRow:
    episode: Episode
    client: Client
    next_appointment: datetime | None
    last_seen: datetime | None
    unsigned_notes: int
    plan_version: int | None = None
    plan_review_due: date | None = None
    plan_overdue: bool = False
    ipt: PhaseInfo | None = None
    latest_scores: tuple[LatestScore, ...] = ()
    open_alerts: int = 0
    safety_alerts: int = 0
    measures_overdue: tuple[DueStatus, ...] = ()
    measures_due: tuple[DueStatus, ...] = ()


def caseload(*, actor: User) -> list[CaseloadRow]:
    """Open episodes whose primary clinician is ``actor``, one audit event per program (a list
    is recorded as one event of its program, with how many episodes it showed)."""
    episodes = list(
        Episode.objects.filter(primary_clinician=actor, status__in=OPEN)
        .select_related("client", "program__organisation")
        .order_by("client__legal_family_name", "client__legal_given_name")
    )
    programs = {e.program_id: e.program for e in episodes}
    for program in programs.values():
        authorize(
            actor,
            Action.LIST,
            program,
            DataCategory.CLINICAL_RECORD,
            Purpose.TREATMENT,
            detail={
                "view": "caseload",
                "episodes": sum(1 for e in episodes if e.program_id == program.pk),
            },
        )
    client_ids = [e.client_id for e in episodes]
    visits = next_appointment_and_last_seen(client_ids=client_ids)
    drafts = unsigned_note_counts(author=actor, client_ids=client_ids)
    plans = plan_review_status_for_clients(client_ids=client_ids)
    ipt = ipt_status_for_clients(client_ids=client_ids)
    measures = measures_status_for_clients(client_ids=client_ids)
    return [
        CaseloadRow(
            episode=e,
            client=e.client,
            next_appointment=visits.get(e.client_id, (None, None))[0],
            last_seen=visits.get(e.client_id, (None, None))[1],
            unsigned_notes=drafts.get(e.client_id, 0),
            plan_version=plans[e.client_id].active_plan_version if e.client_id in plans else None,
            plan_review_due=plans[e.client_id].review_due if e.client_id in plans else None,
            plan_overdue=plans[e.client_id].overdue if e.client_id in plans else False,
            ipt=ipt.get(e.client_id),
            latest_scores=measures[e.client_id].latest,
            open_alerts=measures[e.client_id].open_alerts,
            safety_alerts=measures[e.client_id].safety_alerts,
            measures_overdue=tuple(measures[e.client_id].overdue),
            measures_due=tuple(measures[e.client_id].due_now),
        )
        for e in episodes
    ]


@dataclass(frozen=True)
class TimelineEntry:
    when: date
    at: datetime | None
    kind: str  # "appointment" or "note"
    item: Any


@dataclass
class Chart:
    client: Client
    clinical: ClinicalChart | None = None
    timeline: list[TimelineEntry] | None = None


def client_chart(*, actor: User, client_id: UUID) -> Chart:
    """Who the client is; and, for those who may read the clinical record, episodes,
    diagnoses and the timeline of appointments and notes (a fixed number of queries).

    One audit event per category read, appended together at the request's edge."""
    client = client_get(actor=actor, public_id=client_id)
    if not decide(actor, Action.VIEW, client, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT):
        return Chart(client=client)
    clinical = client_chart_clinical(actor=actor, client=client)
    appointments: list[Appointment] = client_chart_appointments(
        actor=actor, client=client, limit=TIMELINE_LIMIT
    )
    notes: list[SessionNote] = client_timeline_notes(
        actor=actor, client=client, limit=TIMELINE_LIMIT
    )
    tz = timezone.get_current_timezone()
    entries = [
        TimelineEntry(
            when=a.starts_at.astimezone(tz).date(), at=a.starts_at, kind="appointment", item=a
        )
        for a in appointments
    ] + [
        TimelineEntry(when=n.session_date, at=n.signed_at or n.created_at, kind="note", item=n)
        for n in notes
    ]
    entries.sort(key=lambda e: (e.when, e.kind == "note", e.at or timezone.now()), reverse=True)
    return Chart(client=client, clinical=clinical, timeline=entries)
