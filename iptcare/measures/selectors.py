"""Every read of measurement-based care, already filtered by the access policy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from uuid import UUID

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from iptcare.access.policy import authorize, decide, program_reach
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.clients.selectors import episode_get
from iptcare.core.errors import NotFound
from iptcare.measures import engine, schedules
from iptcare.measures.models import Administration, Alert, AlertStatus, MeasureSchedule
from iptcare.scheduling.models import ATTENDED_STATUSES, Appointment

CATEGORY = DataCategory.CLINICAL_RECORD


def administrations_for_client(*, actor: User, client: Client) -> list[Administration]:
    """All of a client's administrations, oldest first (one query, one audit event)."""
    authorize(actor, Action.VIEW, client, CATEGORY, Purpose.TREATMENT, detail={"view": "measures"})
    return list(
        Administration.objects.filter(client=client)
        .select_related("administered_by")
        .order_by("completed_at")
    )


@dataclass(frozen=True)
class Series:
    instrument: engine.Instrument
    administrations: list[Administration]

    @property
    def scored(self) -> list[Administration]:
        return [a for a in self.administrations if a.total is not None]

    @property
    def baseline(self) -> Administration | None:
        return self.scored[0] if self.scored else None

    @property
    def latest(self) -> Administration | None:
        return self.scored[-1] if self.scored else None

    @property
    def trend(self) -> str:
        """ "improved" / "deteriorated" / "no reliable change" since baseline, or "" if unknown."""
        base, last = self.baseline, self.latest
        rule = self.instrument.reliable_change
        if base is None or last is None or base is last or rule is None:
            return ""
        assert base.total is not None and last.total is not None
        outcome = engine.reliable_change(self.instrument, base.total, last.total).outcome
        return outcome.replace("_", " ")


def series_by_instrument(administrations: list[Administration]) -> list[Series]:
    known = engine.load_all()
    groups: dict[str, list[Administration]] = {}
    for a in administrations:
        groups.setdefault(a.instrument, []).append(a)
    return [Series(known[code], rows) for code, rows in sorted(groups.items()) if code in known]


def administration_get(*, actor: User, public_id: UUID) -> Administration:
    administration = (
        Administration.objects.select_related("client__organisation", "organisation", "client")
        .filter(public_id=public_id)
        .first()
    )
    if administration is None:
        raise NotFound("No such administration.")
    authorize(actor, Action.VIEW, administration, CATEGORY, Purpose.TREATMENT)
    return administration


# --- alerts -------------------------------------------------------------------------------------


def _alerts():  # type: ignore[no-untyped-def]
    return Alert.objects.select_related(
        "client", "client__organisation", "organisation", "program", "clinician"
    )


INBOX_LIMIT = 200  # per list; the inbox says when there are more, newest immediate ones first


@dataclass(frozen=True)
class Inbox:
    mine: list[Alert]
    supervision: list[Alert]
    mine_truncated: bool = False
    supervision_truncated: bool = False


def _unresolved(actor: User) -> QuerySet[Alert]:
    return (
        _alerts()
        .filter(organisation_id=actor.organisation_id)
        .exclude(status=AlertStatus.RESOLVED)
        .order_by("-immediate", "-raised_at", "-id")
    )


def alert_inbox(*, actor: User) -> Inbox:
    """Unresolved alerts: those of my clients, and — for clinical supervisors — those of the
    programs I supervise (up to ``INBOX_LIMIT`` each, immediate ones first). Each list is its own
    query, narrowed in SQL to what the actor could see (a clinician's own alerts; the programs in
    which they may sign), so the inbox does not depend on the size of the organisation; the
    policy still decides every row. One audit event per program whose alerts are shown."""
    if actor.organisation_id is None:
        return Inbox([], [])
    own = list(_unresolved(actor).filter(clinician_id=actor.pk)[: INBOX_LIMIT + 1])
    reach = program_reach(actor, Action.SIGN, CATEGORY, Purpose.OPERATIONS)
    others: list[Alert] = []
    if reach is None or reach:
        query = _unresolved(actor).exclude(clinician_id=actor.pk)
        if reach is not None:
            query = query.filter(program_id__in=sorted(reach))
        others = list(query[: INBOX_LIMIT + 1])
    mine = [a for a in own if decide(actor, Action.VIEW, a, CATEGORY, Purpose.TREATMENT)]
    supervision = [a for a in others if decide(actor, Action.SIGN, a, CATEGORY, Purpose.OPERATIONS)]
    shown_mine, shown_supervision = mine[:INBOX_LIMIT], supervision[:INBOX_LIMIT]
    for program in {a.program for a in shown_mine + shown_supervision}:
        authorize(
            actor,
            Action.LIST,
            program,
            CATEGORY,
            Purpose.TREATMENT
            if any(a.program_id == program.pk for a in shown_mine)
            else Purpose.OPERATIONS,
            detail={"view": "alert inbox"},
        )
    return Inbox(
        shown_mine,
        shown_supervision,
        mine_truncated=len(own) > INBOX_LIMIT,
        supervision_truncated=len(others) > INBOX_LIMIT,
    )


def alert_get(*, actor: User, public_id: UUID) -> Alert:
    alert = _alerts().filter(public_id=public_id).first()
    if alert is None:
        raise NotFound("No such alert.")
    purpose = Purpose.TREATMENT if alert.clinician_id == actor.pk else Purpose.OPERATIONS
    if purpose == Purpose.OPERATIONS and not decide(actor, Action.SIGN, alert, CATEGORY, purpose):
        purpose = Purpose.TREATMENT
    authorize(actor, Action.VIEW, alert, CATEGORY, purpose)
    return alert


def client_alerts(*, client: Client) -> list[Alert]:
    """A client's unresolved alerts, for pages that have already authorized the client's record."""
    return list(_alerts().filter(client=client).exclude(status=AlertStatus.RESOLVED))


# --- schedules, due measures and the caseload's measure columns ---------------------------------

OPEN_EPISODE = ("referred", "admitted")


@dataclass(frozen=True)
class EpisodeDates:
    """What the due computation needs of an episode."""

    id: int
    client_id: int
    admission_date: date | None
    discharge_date: date | None

    @classmethod
    def of(cls, episode: Episode) -> EpisodeDates:
        return cls(episode.pk, episode.client_id, episode.admission_date, episode.discharge_date)


@dataclass(frozen=True)
class LatestScore:
    instrument: str
    label: str  # short, for a table cell: "PHQ-9"
    total: float
    band_label: str
    # "improved" / "deteriorated" / "no reliable change" since the episode's baseline, or "".
    trend: str


@dataclass(frozen=True)
class EpisodeMeasures:
    rules: tuple[schedules.ScheduleRule, ...]
    is_default: bool  # no schedule saved: the program default applies
    due: tuple[schedules.DueStatus, ...]
    latest: tuple[LatestScore, ...]


def _trend(code: str, baseline: float, latest: float) -> str:
    instrument = engine.load_all().get(code)
    if instrument is None or instrument.reliable_change is None or instrument.total is None:
        return ""
    return engine.reliable_change(instrument, baseline, latest).outcome.replace("_", " ")


def measures_for_episodes(
    episodes: Sequence[EpisodeDates], *, today: date | None = None
) -> dict[int, EpisodeMeasures]:
    """Schedule, due/overdue measures and latest scores of many episodes (by episode primary
    key) in three queries, whatever the number of episodes, sessions or administrations.

    For callers that have already authorised the episodes (the caseload, the schedule page) or
    that act for the program itself (the overdue sweep): no audit event is written here."""
    today = today or timezone.localdate()
    ids = [e.id for e in episodes]
    if not ids:
        return {}
    # The current time zone once: timezone.localdate() per row looks it up again every time,
    # which dominated the caseload for clients with a long history.
    tz = timezone.get_current_timezone()
    stored: dict[int, list[schedules.ScheduleRule]] = {}
    for row in MeasureSchedule.objects.filter(episode_id__in=ids, active=True).order_by(
        "episode_id", "instrument"
    ):
        stored.setdefault(row.episode_id, []).append(row.rule())
    given: dict[int, dict[str, list[tuple[date, float | None, str]]]] = {}
    for episode_id, code, at, total, band_label in (
        Administration.objects.filter(episode_id__in=ids)
        .order_by("completed_at")
        .values_list("episode_id", "instrument", "completed_at", "total", "band_label")
    ):
        given.setdefault(episode_id, {}).setdefault(code, []).append(
            (at.astimezone(tz).date(), total, band_label)
        )
    admissions = [e.admission_date for e in episodes if e.admission_date is not None]
    sessions: dict[int, list[date]] = {}
    if admissions:
        since = datetime.combine(min(admissions), time.min, tzinfo=tz)
        client_ids = list(dict.fromkeys(e.client_id for e in episodes))
        for client_id, at in (
            Appointment.objects.filter(
                client_id__in=client_ids,
                status__in=sorted(ATTENDED_STATUSES),
                starts_at__gte=since,
            )
            .order_by()
            .values_list("client_id", "starts_at")
        ):
            sessions.setdefault(client_id, []).append(at.astimezone(tz).date())
    result: dict[int, EpisodeMeasures] = {}
    for e in episodes:
        rules = stored.get(e.id) or schedules.default_schedule()
        by_code = given.get(e.id, {})
        due = schedules.schedule_status(
            rules,
            admission_date=e.admission_date,
            session_dates=sessions.get(e.client_id, []),
            administered={code: [row[0] for row in rows] for code, rows in by_code.items()},
            today=today,
            discharge_date=e.discharge_date,
        )
        latest = []
        for code, rows in sorted(by_code.items()):
            scored = [(total, band) for _, total, band in rows if total is not None]
            if not scored:
                continue
            (base, _), (last, band) = scored[0], scored[-1]
            trend = _trend(code, base, last) if len(scored) > 1 else ""
            latest.append(LatestScore(code, code.upper(), last, band, trend))
        result[e.id] = EpisodeMeasures(
            rules=tuple(rules),
            is_default=e.id not in stored,
            due=tuple(due),
            latest=tuple(latest),
        )
    return result


@dataclass(frozen=True)
class ClientMeasures:
    """The caseload's measure columns for one client (their current open episode)."""

    episode_id: int | None = None
    latest: tuple[LatestScore, ...] = ()
    due: tuple[schedules.DueStatus, ...] = ()
    open_alerts: int = 0
    safety_alerts: int = 0

    @property
    def overdue(self) -> list[schedules.DueStatus]:
        return [d for d in self.due if d.state == "overdue"]

    @property
    def due_now(self) -> list[schedules.DueStatus]:
        return [d for d in self.due if d.state == "due"]


def measures_status_for_clients(
    *, client_ids: Iterable[int], today: date | None = None
) -> dict[int, ClientMeasures]:
    """Latest scores with band and trend, due/overdue measures and unresolved alert counts for
    many clients (by client primary key) in five queries, whatever their number or history.

    The measures are those of each client's current open episode (admitted before referred,
    then the latest). For compositions (the caseload) whose caller has already asked the access
    policy for the list of clients: no audit event is written here."""
    ids = list(dict.fromkeys(client_ids))
    result = {cid: ClientMeasures() for cid in ids}
    if not ids:
        return result
    current: dict[int, tuple[tuple[bool, date, int], EpisodeDates]] = {}
    for pk, client_id, status, referral, admission, discharge in (
        Episode.objects.filter(client_id__in=ids, status__in=OPEN_EPISODE)
        .order_by()
        .values_list(
            "id", "client_id", "status", "referral_date", "admission_date", "discharge_date"
        )
    ):
        rank = (status == "admitted", referral, pk)
        if client_id not in current or rank > current[client_id][0]:
            current[client_id] = (rank, EpisodeDates(pk, client_id, admission, discharge))
    measures = measures_for_episodes([e for _, e in current.values()], today=today)
    counts = {
        row["client_id"]: (row["n"], row["safety"])
        for row in Alert.objects.filter(client_id__in=ids)
        .exclude(status=AlertStatus.RESOLVED)
        .values("client_id")
        .annotate(n=Count("id"), safety=Count("id", filter=Q(immediate=True)))
        .order_by()
    }
    for cid in ids:
        episode = current.get(cid)
        m = measures.get(episode[1].id) if episode else None
        n, safety = counts.get(cid, (0, 0))
        result[cid] = ClientMeasures(
            episode_id=episode[1].id if episode else None,
            latest=m.latest if m else (),
            due=m.due if m else (),
            open_alerts=n,
            safety_alerts=safety,
        )
    return result


@dataclass(frozen=True)
class EpisodeSchedule:
    episode: Episode
    measures: EpisodeMeasures
    version: int  # 0: the program default, never saved for this episode
    history: list[MeasureSchedule]  # every stored row, newest version first


def episode_schedule(
    *, actor: User, episode_id: UUID, action: Action = Action.VIEW
) -> EpisodeSchedule:
    """An episode's measure schedule, what is due now, and the schedule's history."""
    episode = episode_get(actor=actor, public_id=episode_id, action=action)
    history = list(
        MeasureSchedule.objects.filter(episode=episode)
        .select_related("created_by", "deactivated_by")
        .order_by("-version", "instrument")
    )
    measures = measures_for_episodes([EpisodeDates.of(episode)])[episode.pk]
    return EpisodeSchedule(
        episode=episode,
        measures=measures,
        version=max((r.version for r in history), default=0),
        history=history,
    )
