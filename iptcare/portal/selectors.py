"""What a client sees in the portal: their own record only, in plain language."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from iptcare.access.policy import authorize
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.measures import engine
from iptcare.measures.models import Administration, MeasureLink
from iptcare.measures.selectors import Series, series_by_instrument
from iptcare.plans.models import PlanGoal, PlanStatus, TreatmentPlan
from iptcare.portal.services import account_of, due_instruments
from iptcare.scheduling.models import Appointment, AppointmentStatus

# How a client reads a change since they started (lower-is-better and higher-is-better alike).
TREND_WORDS = {
    "improved": "better than when you started",
    "deteriorated": "harder than when you started",
    "no reliable change": "about the same as when you started",
}


@dataclass(frozen=True)
class Requested:
    link: MeasureLink
    title: str


@dataclass(frozen=True)
class Due:
    code: str
    title: str


@dataclass(frozen=True)
class Progress:
    title: str
    latest: float
    latest_at: datetime
    meaning: str
    trend: str


@dataclass
class PortalHome:
    client: Client
    requested: list[Requested] = field(default_factory=list)
    due: list[Due] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)


def _progress(series: Series) -> Progress | None:
    latest = series.latest
    if latest is None or latest.total is None:
        return None
    band = next((b for b in series.instrument.bands if b.code == latest.band), None)
    return Progress(
        title=series.instrument.title,
        latest=latest.total,
        latest_at=latest.completed_at,
        meaning=band.client_label if band else "",
        trend=TREND_WORDS.get(series.trend, ""),
    )


def portal_home(*, actor: User) -> PortalHome:
    account = account_of(actor)
    client = account.client
    now = timezone.now()
    authorize(
        actor, Action.VIEW, client, DataCategory.CLINICAL_RECORD, Purpose.SELF,
        detail={"view": "portal"},
    )  # fmt: skip
    links = list(
        MeasureLink.objects.filter(
            client=client, used_at__isnull=True, expires_at__gt=now
        ).order_by("expires_at")
    )
    known = engine.load_all()
    appointments = list(
        Appointment.objects.filter(
            client=client, status=AppointmentStatus.SCHEDULED, starts_at__gte=now
        )
        .select_related("clinician")
        .only("public_id", "starts_at", "kind", "duration_minutes", "clinician__full_name")
        .order_by("starts_at")[:10]
    )
    plan = (
        TreatmentPlan.objects.filter(episode__client=client, status=PlanStatus.ACTIVE)
        .order_by("-activated_at", "-id")
        .first()
    )
    goals = list(PlanGoal.objects.filter(plan=plan).values_list("text", flat=True)) if plan else []
    administrations = list(
        Administration.objects.filter(client=client)
        .only("instrument", "total", "band", "completed_at", "client_id")
        .order_by("completed_at")
    )
    due_codes = due_instruments(client)
    progress = [p for s in series_by_instrument(administrations) if (p := _progress(s))]
    asked = {link.instrument for link in links}
    return PortalHome(
        client=client,
        requested=[
            Requested(link, known[link.instrument].title)
            for link in links
            if link.instrument in known
        ],
        due=[
            Due(code, known[code].title)
            for code in due_codes
            if code in known and code not in asked
        ],
        appointments=appointments,
        goals=goals,
        progress=progress,
    )
