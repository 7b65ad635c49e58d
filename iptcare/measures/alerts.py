"""Alert rules and raising alerts. Each rule is a small pure function over plain data, tested
at its boundaries; ``raise_alert`` keeps one unresolved alert per cause (``dedupe_key``).

Rules and their sources:
- Safety — any flag of severity "safety" in a scored administration (PHQ-9 item 9 > 0, "regardless
  of total": DOMAIN.md §3; the flag itself is data in the instrument file). Immediate; must be
  acknowledged with an action note before it can be resolved.
- Reliable deterioration — change from the episode's first (baseline) administration of the same
  instrument is reliable and in the worse direction (Jacobson & Truax 1991; the instrument file
  gives the threshold and its source). Instruments without a reliable-change rule raise none.
- Not on track — no reliable improvement from baseline by session ``NOT_ON_TRACK_SESSION``
  (attended sessions in the episode), the rule-based fallback DOMAIN.md §3 names until local
  expected-recovery curves exist (Lambert; de Jong 2021).
- Consecutive no-shows — the client's last two or more past appointments were no-shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from iptcare.clients.models import Client, Episode
from iptcare.measures import engine
from iptcare.measures.models import Administration, Alert, AlertKind, AlertStatus

NO_SHOW_RUN = 2


def open_episode(client: Client) -> Episode | None:
    """The client's current open episode (the latest referral) with its primary clinician: the
    episode an administration belongs to and whose clinician an alert goes to."""
    return (
        Episode.objects.filter(client=client, status__in=("referred", "admitted"))
        .select_related("primary_clinician")
        .order_by("-referral_date")
        .first()
    )


# --- pure rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str
    title: str
    detail: str
    dedupe_key: str
    immediate: bool = False


def safety_findings(
    instrument: str, flags: Sequence[dict[str, object]], source_id: str
) -> list[Finding]:
    return [
        Finding(
            kind=AlertKind.SAFETY,
            title=f"{instrument.upper()}: {flag['code']}",
            detail=str(flag["message"]),
            dedupe_key=f"safety:{source_id}:{flag['code']}",
            immediate=True,
        )
        for flag in flags
        if flag.get("severity") == "safety"
    ]


def deterioration_finding(
    instrument: engine.Instrument, baseline: float | None, latest: float | None
) -> Finding | None:
    if baseline is None or latest is None or instrument.reliable_change is None:
        return None
    change = engine.reliable_change(instrument, baseline, latest)
    if change.outcome != "deteriorated":
        return None
    return Finding(
        kind=AlertKind.DETERIORATION,
        title=f"{instrument.title}: reliable deterioration",
        detail=(
            f"From {baseline:g} at baseline to {latest:g}: a change of {change.change:+g} points "
            f"(reliable at {change.threshold:g}; {change.source.citation})."
        ),
        dedupe_key=f"deterioration:{instrument.code}",
    )


def not_on_track_finding(
    instrument: engine.Instrument,
    baseline: float | None,
    latest: float | None,
    sessions_attended: int,
    by_session: int,
) -> Finding | None:
    if baseline is None or latest is None or instrument.reliable_change is None:
        return None
    if sessions_attended < by_session:
        return None
    if engine.reliable_change(instrument, baseline, latest).outcome == "improved":
        return None
    return Finding(
        kind=AlertKind.NOT_ON_TRACK,
        title=f"{instrument.title}: not on track",
        detail=(
            f"No reliable improvement after {sessions_attended} attended sessions "
            f"(baseline {baseline:g}, latest {latest:g}; the program checks at session "
            f"{by_session}). Review the formulation and plan with the client and in supervision."
        ),
        dedupe_key=f"not_on_track:{instrument.code}",
    )


def no_show_finding(recent_statuses: Sequence[str]) -> Finding | None:
    """``recent_statuses``: the client's past appointments, newest first."""
    run = 0
    for status in recent_statuses:
        if status != "no_show":
            break
        run += 1
    if run < NO_SHOW_RUN:
        return None
    return Finding(
        kind=AlertKind.NO_SHOWS,
        title=f"{run} consecutive no-shows",
        detail="Reach out: consecutive missed sessions often come before dropping out.",
        dedupe_key="no_shows",
    )


def had_no_show_run(statuses: Sequence[str]) -> bool:
    """Whether the outcomes (newest first) hold a run of ``NO_SHOW_RUN`` no-shows anywhere: the
    cause a no-show alert was raised for. A run that has since ended still happened; only a
    correction of the record can make it disappear."""
    run = 0
    for status in statuses:
        run = run + 1 if status == "no_show" else 0
        if run >= NO_SHOW_RUN:
            return True
    return False


# --- raising ------------------------------------------------------------------------------------


def finding_fields(finding: Finding, source: tuple[str, str]) -> dict[str, Any]:
    """What an alert row records of its finding and cause, whichever rule (or the demo) raises
    it: the one place that maps a finding to the row."""
    return {
        "kind": finding.kind,
        "immediate": finding.immediate,
        "title": finding.title[:200],
        "detail": finding.detail,
        "source_type": source[0],
        "source_id": source[1],
        "dedupe_key": finding.dedupe_key,
    }


def _alert_row(
    client: Client,
    episode: Episode | None,
    finding: Finding,
    source: tuple[str, str],
    clinician_id: int | None,
    raised_at: datetime,
) -> Alert:
    return Alert(
        organisation_id=client.organisation_id,
        program_id=client.program_id,
        client=client,
        episode=episode,
        clinician_id=clinician_id,
        raised_at=raised_at,
        **finding_fields(finding, source),
    )


def raise_alerts(
    *,
    client: Client,
    episode: Episode | None,
    findings: Sequence[Finding],
    source_type: str = "",
    source_id: str = "",
    fallback_clinician: Any = None,
) -> list[Alert]:
    """Open an alert for each finding whose cause has no unresolved alert yet (in the caller's
    transaction); return the alert of every finding, new or already open. An alert goes to the
    episode's primary clinician, else to ``fallback_clinician`` (who recorded the cause).

    Duplicates are skipped by looking first, with the client's row locked for the rest of the
    transaction (PostgreSQL; SQLite has one writer at a time), so that two transactions cannot
    both find a cause without its alert. The insert itself skips nothing: a row that breaks a
    constraint fails the whole write — an alert, a safety alert above all, never vanishes
    silently. The partial unique index (one unresolved alert per client and cause) stays as the
    last guard."""
    if not findings:
        return []
    lock_client(client)
    keys = [f.dedupe_key for f in findings]
    open_alerts = {
        a.dedupe_key: a
        for a in Alert.objects.filter(client=client, dedupe_key__in=keys).exclude(
            status=AlertStatus.RESOLVED
        )
    }
    clinician_id = (
        episode.primary_clinician_id
        if episode is not None and episode.primary_clinician_id is not None
        else getattr(fallback_clinician, "pk", None)
    )
    now = timezone.now()
    new: dict[str, Alert] = {}
    for finding in findings:
        if finding.dedupe_key not in open_alerts and finding.dedupe_key not in new:
            new[finding.dedupe_key] = _alert_row(
                client, episode, finding, (source_type, source_id), clinician_id, now
            )
    Alert.objects.bulk_create(list(new.values()))
    return [open_alerts.get(k) or new[k] for k in dict.fromkeys(keys)]


def raise_alert(
    *,
    client: Client,
    episode: Episode | None,
    finding: Finding,
    source_type: str = "",
    source_id: str = "",
    fallback_clinician: Any = None,
) -> Alert:
    """Open an alert for ``finding`` unless one for the same cause is still unresolved
    (``raise_alerts``)."""
    return raise_alerts(
        client=client,
        episode=episode,
        findings=[finding],
        source_type=source_type,
        source_id=source_id,
        fallback_clinician=fallback_clinician,
    )[0]


@dataclass(frozen=True)
class History:
    """What the administration rules need besides the administration: the earliest scored total
    of the instrument in the episode before it (None: this is the first), the sessions attended
    since admission, and the program's not-on-track session."""

    prior_total: float | None
    sessions_attended: int
    off_track_session: int


def administration_findings(
    *, administration: Administration, instrument: engine.Instrument, history: History
) -> list[Finding]:
    """Every administration rule's findings for ``administration`` (pure)."""
    source_id = str(administration.public_id)
    findings: list[Finding] = list(
        safety_findings(instrument.code, administration.flags, source_id)
    )
    latest = administration.total
    if latest is None or instrument.reliable_change is None:
        return findings
    baseline = history.prior_total if history.prior_total is not None else latest
    deterioration = deterioration_finding(instrument, baseline, latest)
    if deterioration is not None:
        findings.append(deterioration)
        return findings
    off_track = not_on_track_finding(
        instrument, baseline, latest, history.sessions_attended, history.off_track_session
    )
    if off_track is not None:
        findings.append(off_track)
    return findings


# No-show alerts carry this source type (and no source id): they are about the run, not one
# appointment.
ATTENDANCE_SOURCE = "appointments"


def attendance_outcomes(
    client: Client, *, until: datetime | None = None, limit: int | None = 10
) -> list[str]:
    """The client's outcomes of appointments that started by ``until`` (now), newest first, as
    the no-show rule reads them; ``limit=None`` for all of them."""
    from iptcare.scheduling.models import Appointment

    rows = (
        Appointment.objects.filter(client=client, starts_at__lte=until or timezone.now())
        .exclude(status="scheduled")
        .exclude(status__in=("cancelled_program",))
        .order_by("-starts_at")
        .values_list("status", flat=True)
    )
    return list(rows if limit is None else rows[:limit])


def lock_client(client: Client) -> None:
    """Serialise the alert rules per client (in the caller's transaction): two writes that may
    raise or resolve the same client's alerts must not decide on each other's uncommitted
    state. A row lock on PostgreSQL; SQLite has one writer at a time anyway."""
    list(Client.objects.select_for_update().filter(pk=client.pk).values_list("pk", flat=True))


def evaluate_attendance(*, client: Client) -> Alert | None:
    """After attendance is recorded: two or more consecutive no-shows raise an alert."""
    lock_client(client)
    finding = no_show_finding(attendance_outcomes(client))
    if finding is None:
        return None
    return raise_alert(
        client=client, episode=open_episode(client), finding=finding, source_type=ATTENDANCE_SOURCE
    )


# --- screens and returns to use (from iptcare.recovery) -----------------------------------------

# An event's alerts carry this source type and the event's public id, so that withdrawing the
# event can find and resolve them (``recovery.services._withdraw``).
RETURN_TO_USE_SOURCE = "return_to_use_event"
# A screen's unexpected-positive alert carries this source type and the screen's public id.
SCREEN_SOURCE = "drug_screen"

# DOMAIN.md §3 and issue 5: an unexpected positive after abstinence is a relapse event; an opioid
# return to use after >= 7 days of abstinence carries overdose risk (tolerance is lost), so the
# alert prompts naloxone. The >= 7-day threshold is the product's rule (issue 5), applied by
# iptcare.recovery.abstinence when it marks an event's ``overdose_risk``.
NALOXONE_PROMPT = (
    "Tolerance falls quickly after a break from opioids, so the usual amount can now cause an "
    "overdose. Contact the client today: make sure they have naloxone and know how to use it, "
    "and review their overdose safety plan."
)


def unexpected_positive_finding(screen_id: str, substances: Sequence[str]) -> Finding | None:
    if not substances:
        return None
    listed = ", ".join(substances)
    return Finding(
        kind=AlertKind.UNEXPECTED_POSITIVE,
        title=f"Unexpected positive screen: {listed}",
        detail="Not explained by a recorded medication. Discuss it with the client without "
        "judgement and review the plan.",
        dedupe_key=f"screen:{screen_id}",
    )


def return_to_use_findings(
    *, event_id: str, substance: str, source: str, after_days: int | None, overdose_risk: bool
) -> list[Finding]:
    """A reported or calendar return to use raises a return-to-use alert (a screen's is already
    covered by its unexpected-positive alert); an overdose-risk one always raises the
    immediate overdose alert with the naloxone prompt."""
    out: list[Finding] = []
    after = f" after {after_days} days without use" if after_days is not None else ""
    if source != "screen":
        out.append(
            Finding(
                kind=AlertKind.RETURN_TO_USE,
                title=f"Return to use: {substance}{after}",
                detail="Recorded from the client's calendar or report. Review triggers and the "
                "plan with the client.",
                dedupe_key=f"return:{event_id}",
            )
        )
    if overdose_risk:
        out.append(
            Finding(
                kind=AlertKind.OVERDOSE_RISK,
                title=f"Overdose risk: opioid use{after}",
                detail=NALOXONE_PROMPT,
                dedupe_key=f"overdose:{event_id}",
                immediate=True,
            )
        )
    return out


def evaluate_recovery(
    *,
    client: Client,
    screen: object | None = None,
    unexpected: Sequence[str] = (),
    events: Sequence[object] = (),
    recorded_by: Any = None,
) -> list[Alert]:
    """Alerts for a recorded screen's unexpected positives and for new return-to-use events
    (``iptcare.recovery`` calls this inside its transaction)."""
    episode = open_episode(client)
    raised: list[Alert] = []
    if screen is not None:
        screen_id = str(getattr(screen, "public_id", ""))
        finding = unexpected_positive_finding(screen_id, unexpected)
        if finding is not None:
            raised.append(
                raise_alert(
                    client=client,
                    episode=episode,
                    finding=finding,
                    source_type=SCREEN_SOURCE,
                    source_id=screen_id,
                    fallback_clinician=recorded_by,
                )
            )
    for event in events:
        event_id = str(getattr(event, "public_id", ""))
        for finding in return_to_use_findings(
            event_id=event_id,
            substance=str(event.get_substance_display()),  # type: ignore[attr-defined]
            source=str(getattr(event, "source", "")),
            after_days=getattr(event, "after_abstinent_days", None),
            overdose_risk=bool(getattr(event, "overdose_risk", False)),
        ):
            raised.append(
                raise_alert(
                    client=client,
                    episode=episode,
                    finding=finding,
                    source_type=RETURN_TO_USE_SOURCE,
                    source_id=event_id,
                    fallback_clinician=recorded_by,
                )
            )
    return raised
