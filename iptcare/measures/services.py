"""Every write of measurement-based care: administrations (in session, on a kiosk, in the
portal, through a single-use link or the API — all stored by ``administration_submit``), links,
and the alert life cycle.

Shape: keyword-only, the actor first, one ``writing`` block — the access decision, then one
transaction that scores, stores, raises alerts and ends with the write's audit event.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from iptcare.access.policy import LinkHolder, writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User, hash_token_secret
from iptcare.clients.models import Client, Episode
from iptcare.core.errors import Conflict, InvalidInput, NotFound
from iptcare.core.mail import Delivery, send_after_commit
from iptcare.measures import alerts, engine, fhir, program_settings
from iptcare.measures.models import (
    Administration,
    Alert,
    AlertKind,
    AlertStatus,
    MeasureLink,
    MeasureSettings,
    Mode,
)

CATEGORY = DataCategory.CLINICAL_RECORD
LINK_PREFIX = "m_"
DEFAULT_LINK_HOURS = 72
# The same answer for an unknown, a used and an expired link (``link_open``).
LINK_GONE = "This link has expired or has already been used."
OPEN_EPISODE = ("referred", "admitted")


def scoring_context(client: Client) -> dict[str, str]:
    """What an instrument's context-dependent cutoffs may use (AUDIT-C: sex at birth)."""
    sex = client.sex_assigned_at_birth
    return {"sex": sex} if sex in {"male", "female"} else {}


# --- administrations ----------------------------------------------------------------------------


def administration_submit(
    *,
    actor: User | LinkHolder,
    client: Client,
    instrument_code: str,
    answers: Mapping[str, Any],
    mode: Mode,
    purpose: Purpose = Purpose.TREATMENT,
    link: MeasureLink | None = None,
) -> Administration:
    """Store one completed instrument, however it arrived: scored, stored with its FHIR
    QuestionnaireResponse and Observations in the client's current open episode, the link it
    answers (if any) spent, alerts raised, the write's audit event — one transaction.

    Bad answers raise ``engine.InvalidAnswers`` (each bad item named) and change nothing. A link
    is spent by a conditional update that only a still-unused, unexpired link passes: if a
    second tab submitted it first, nothing of this submit is kept."""
    instrument = engine.get(instrument_code)
    detail = {"measure": instrument.code, "mode": str(mode)}
    with writing(actor, Action.CREATE, client, CATEGORY, purpose, detail=detail) as grant:
        result = engine.score(instrument, answers, context=scoring_context(client))
        if len(result.missing) == len(instrument.items):
            # Nothing answered: storing it would spend a client's link on an empty form.
            raise engine.InvalidAnswers({"answers": "Answer at least one question."})
        episode, history = _open_episode_and_history(client, instrument)
        administration = _build(
            client=client,
            episode=episode,
            instrument=instrument,
            answers=dict(answers),
            result=result,
            mode=mode,
            # A clinician in session or on a kiosk; nobody for what the client sent.
            administered_by=actor
            if isinstance(actor, User) and mode in (Mode.IN_SESSION, Mode.KIOSK)
            else None,
        )
        administration.save(force_insert=True)
        if link is not None:
            _spend(link, administration)
        alerts.raise_alerts(
            client=client,
            episode=episode,
            findings=alerts.administration_findings(
                administration=administration, instrument=instrument, history=history
            ),
            source_type="administration",
            source_id=str(administration.public_id),
        )
        grant.record_as(administration)
    return administration


def administer(
    *,
    actor: User,
    client: Client,
    instrument_code: str,
    answers: Mapping[str, Any],
    mode: str = Mode.IN_SESSION,
) -> Administration:
    """A clinician records an instrument completed in session (or on a kiosk they started)."""
    if mode not in {Mode.IN_SESSION, Mode.KIOSK}:
        raise InvalidInput("Unknown mode.", field_errors={"mode": ["In session or kiosk."]})
    return administration_submit(
        actor=actor,
        client=client,
        instrument_code=instrument_code,
        answers=answers,
        mode=Mode(mode),
    )


def _open_episode_and_history(
    client: Client, instrument: engine.Instrument
) -> tuple[Episode | None, alerts.History]:
    """The client's current open episode (the latest referral) and what the administration
    rules need to know of it, in one query."""
    from iptcare.scheduling.models import ATTENDED_STATUSES, Appointment

    prior = (
        Administration.objects.filter(
            client_id=OuterRef("client_id"),
            instrument=instrument.code,
            episode_id=OuterRef("pk"),
            total__isnull=False,
        )
        .order_by("completed_at")
        .values("total")[:1]
    )
    attended = (
        Appointment.objects.filter(
            client_id=OuterRef("client_id"),
            status__in=sorted(ATTENDED_STATUSES),
            starts_at__date__gte=OuterRef("admission_date"),
        )
        .order_by()
        .values("client_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    off_track = MeasureSettings.objects.filter(program_id=OuterRef("program_id")).values(
        "not_on_track_session"
    )[:1]
    episode = (
        Episode.objects.filter(client=client, status__in=OPEN_EPISODE)
        .annotate(
            prior_total=Subquery(prior),
            sessions_attended=Coalesce(Subquery(attended), 0),
            off_track_session=Subquery(off_track),
        )
        .order_by("-referral_date")
        .first()
    )
    if episode is None:
        # No open episode: the client's whole series is the baseline's.
        prior_total = (
            Administration.objects.filter(
                client=client, instrument=instrument.code, total__isnull=False
            )
            .order_by("completed_at")
            .values_list("total", flat=True)
            .first()
        )
        return None, alerts.History(
            prior_total=prior_total,
            sessions_attended=0,
            off_track_session=program_settings.not_on_track_session(client.program_id),
        )
    return episode, alerts.History(
        prior_total=episode.prior_total,
        sessions_attended=episode.sessions_attended if episode.admission_date else 0,
        off_track_session=(
            episode.off_track_session or program_settings.default_not_on_track_session()
        ),
    )


def _build(
    *,
    client: Client,
    episode: Episode | None,
    instrument: engine.Instrument,
    answers: dict[str, str],
    result: engine.ScoreResult,
    mode: str,
    administered_by: User | None,
) -> Administration:
    """The unsaved administration with its FHIR QuestionnaireResponse and Observations."""
    now = timezone.now()
    administration = Administration(
        organisation=client.organisation,
        program_id=client.program_id,
        client=client,
        episode=episode,
        instrument=instrument.code,
        instrument_version=instrument.version,
        mode=mode,
        administered_by=administered_by,
        completed_at=now,
        answers=answers,
        item_scores=dict(result.item_scores),
        total=result.total,
        band=result.band.code if result.band else "",
        band_label=result.band.label if result.band else "",
        subscales=dict(result.subscales),
        flags=[f.to_dict() for f in result.flags],
        screens=[s.to_dict() for s in result.screens],
        complete=result.complete,
        missing=list(result.missing),
    )
    administration.questionnaire_response = fhir.questionnaire_response(
        instrument=instrument,
        answers=answers,
        result=result,
        administration_id=administration.public_id,
        client_id=client.public_id,
        authored=now,
    )
    administration.observations = fhir.observations(
        instrument=instrument,
        result=result,
        administration_id=administration.public_id,
        client_id=client.public_id,
        effective=now,
    )
    return administration


def _spend(link: MeasureLink, administration: Administration) -> None:
    """Spend ``link`` on ``administration``, if it is still unused and unexpired: a conditional
    update, so that of two submits of one link only the first to commit keeps anything (the
    second waits for the first's row lock on PostgreSQL, then matches nothing)."""
    now = timezone.now()
    spent = MeasureLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now, administration=administration
    )
    if spent != 1:
        raise NotFound(LINK_GONE)
    link.used_at, link.administration = now, administration


# --- single-use links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedLink:
    link: MeasureLink
    secret: str  # shown once; only its hash is stored
    # What became of the email, if one was asked for: the page shows it with the link, so a
    # failed email never loses the link.
    email: Delivery

    @property
    def path(self) -> str:
        return link_path(self.secret)


def link_path(secret: str) -> str:
    return f"/m/{secret}/"


def link_issue(
    *,
    actor: User,
    client: Client,
    instrument_code: str,
    base_url: str,
    hours: int = DEFAULT_LINK_HOURS,
    email: str = "",
) -> IssuedLink:
    """A single-use link for the client to complete one instrument; optionally emailed.

    The email says only that the program asks them to fill in a short questionnaire — no name of
    an instrument, no diagnosis, nothing clinical (Part 2 / HIPAA minimum necessary)."""
    errors: dict[str, list[str]] = {}
    try:
        instrument = engine.get(instrument_code)
    except engine.UnknownInstrument:
        errors["instrument"] = ["No such instrument."]
    if not 1 <= hours <= 24 * 14:
        errors["hours"] = ["Between 1 hour and 14 days."]
    secret = secrets.token_urlsafe(32)
    with writing(
        actor,
        Action.CREATE,
        client,
        CATEGORY,
        Purpose.TREATMENT,
        detail={"measure_link": instrument_code},
    ) as grant:
        if errors:
            raise InvalidInput("The link was not created.", field_errors=errors)
        link = MeasureLink.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            episode=alerts.open_episode(client),
            instrument=instrument.code,
            secret_hash=hash_token_secret(secret),
            issued_by=actor,
            expires_at=timezone.now() + timedelta(hours=hours),
            sent_to=email,
        )
        grant.record_as(link)
        delivery = Delivery()
        if email:
            delivery = send_after_commit(
                to=email,
                subject="A short questionnaire from your care team",
                body=(
                    "Your care team has asked you to fill in a short questionnaire before your "
                    f"next session.\n\nOpen this link (it works once and expires in {hours} "
                    f"hours):\n{base_url.rstrip('/')}{link_path(secret)}\n\n"
                    "If you did not expect this message, you can ignore it."
                ),
            )
    return IssuedLink(link=link, secret=secret, email=delivery)


def link_open(secret: str) -> MeasureLink:
    """The usable link for ``secret`` with its organisation and client — the same 404 for
    unknown, used and expired links, so the page never tells a stranger whether a link existed."""
    link = (
        MeasureLink.objects.select_related("organisation", "client__organisation")
        .filter(secret_hash=hash_token_secret(secret))
        .first()
    )
    if link is None or link.used_at is not None or link.expires_at <= timezone.now():
        raise NotFound(LINK_GONE)
    return link


def link_submit(
    *, secret: str, answers: Mapping[str, Any], link: MeasureLink | None = None
) -> Administration:
    """The client submits the questionnaire of a single-use link (``administration_submit``).
    Bad answers change nothing and leave the link usable.

    ``link``: the link as ``link_open`` read it earlier in the same request (the conditional
    update that spends it still refuses a link spent or expired in between)."""
    link = link or link_open(secret)
    holder = LinkHolder(
        organisation_id=link.organisation_id,
        client_id=link.client.public_id,
        link_id=link.public_id,
    )
    return administration_submit(
        actor=holder,
        client=link.client,
        instrument_code=link.instrument,
        answers=answers,
        mode=Mode.LINK,
        link=link,
    )


# --- alert life cycle ---------------------------------------------------------------------------


def _alert_for_update(alert: Alert, version: int) -> Alert:
    locked = Alert.objects.select_for_update().get(pk=alert.pk)
    if locked.version != version:
        raise Conflict("Someone else changed this alert; reload it to see what they did.")
    return locked


def alert_acknowledge(*, actor: User, alert: Alert, version: int, note: str) -> Alert:
    """Acknowledge an alert with the action taken (required for safety alerts, and for all)."""
    purpose = Purpose.TREATMENT if alert.clinician_id == actor.pk else Purpose.OPERATIONS
    with writing(actor, Action.UPDATE, alert, CATEGORY, purpose, detail={"alert": "acknowledge"}):
        note = note.strip()
        if not note:
            raise InvalidInput(
                "Say what you did.", field_errors={"note": ["An action note is required."]}
            )
        locked = _alert_for_update(alert, version)
        if locked.status != AlertStatus.OPEN:
            raise InvalidInput("Only an open alert can be acknowledged.", field_errors={})
        locked.status = AlertStatus.ACKNOWLEDGED
        locked.acknowledged_at = timezone.now()
        locked.acknowledged_by = actor
        locked.action_note = note
        locked.version += 1
        locked.save()
    return locked


def alert_resolve(*, actor: User, alert: Alert, version: int, note: str) -> Alert:
    purpose = Purpose.TREATMENT if alert.clinician_id == actor.pk else Purpose.OPERATIONS
    with writing(actor, Action.UPDATE, alert, CATEGORY, purpose, detail={"alert": "resolve"}):
        note = note.strip()
        if not note:
            raise InvalidInput(
                "Say how it was resolved.",
                field_errors={"note": ["A resolution note is required."]},
            )
        locked = _alert_for_update(alert, version)
        if locked.status == AlertStatus.RESOLVED:
            raise InvalidInput("This alert is already resolved.", field_errors={})
        if locked.immediate and locked.status == AlertStatus.OPEN:
            raise InvalidInput(
                "Acknowledge a safety alert with the action taken before resolving it.",
                field_errors={},
            )
        _mark_resolved(locked, actor=actor, note=note)
    return locked


def _mark_resolved(locked: Alert, *, actor: User, note: str) -> None:
    """What resolving means, for a row locked by the caller: the one place that writes it."""
    locked.status = AlertStatus.RESOLVED
    locked.resolved_at = timezone.now()
    locked.resolved_by = actor
    locked.resolution_note = note
    locked.version += 1
    locked.save()


def alerts_resolve_for_withdrawn(
    *,
    actor: User,
    client: Client,
    source_type: str,
    source_ids: Collection[str],
    note: str,
) -> list[Alert]:
    """Resolve the unresolved alerts raised by records that were just withdrawn as unfounded
    (``source_type``/``source_ids`` as ``alerts.raise_alert`` stored them), with ``note``.

    Runs inside the caller's write (``writing``), so the withdrawal and these resolutions commit
    or roll back together, and each resolution is named in the withdrawal's one audit event.
    An alert already resolved stays as it is; an immediate one needs no acknowledgement first,
    since its cause no longer stands. Each resolution is decided as ``alert_resolve`` decides
    (UPDATE of the alert) — for treatment, the purpose of the correction the caller is allowed
    on the same client (an alert's scope is its client's), so it is allowed wherever the
    withdrawal was.
    """
    if not source_ids:
        return []
    resolved = list(
        Alert.objects.select_for_update(of=("self",))
        .select_related("organisation", "client")
        .filter(client=client, source_type=source_type, source_id__in=list(source_ids))
        .exclude(status=AlertStatus.RESOLVED)
        .order_by("id")
    )
    for alert in resolved:
        with writing(
            actor,
            Action.UPDATE,
            alert,
            CATEGORY,
            Purpose.TREATMENT,
            detail={"alert": "resolve", "withdrawn": source_type, "source_id": alert.source_id},
        ):
            _mark_resolved(alert, actor=actor, note=note)
    return resolved


def no_show_alert_reconsider(*, actor: User, client: Client, reason: str) -> list[Alert]:
    """After a no-show was corrected to attended (in the caller's transaction): an open no-show
    alert whose cause is gone from the record is resolved, audited, with the correction's
    reason. Its cause is gone when the outcomes of every appointment that had started when it
    was raised (all of them, not only the latest) no longer hold a run of no-shows; a run that
    still stands there, even one that has since ended, keeps it open."""
    alerts.lock_client(client)
    gone = [
        alert
        for alert in Alert.objects.filter(
            client=client, source_type=alerts.ATTENDANCE_SOURCE, kind=AlertKind.NO_SHOWS
        ).exclude(status=AlertStatus.RESOLVED)
        if not alerts.had_no_show_run(
            alerts.attendance_outcomes(client, until=alert.raised_at, limit=None)
        )
    ]
    if not gone:
        return []
    return alerts_resolve_for_withdrawn(
        actor=actor,
        client=client,
        source_type=alerts.ATTENDANCE_SOURCE,
        source_ids=sorted({a.source_id for a in gone}),
        note=f"Attendance was corrected ({reason}): the record no longer shows a run of no-shows.",
    )


__all__ = [
    "AlertKind",
    "IssuedLink",
    "administer",
    "administration_submit",
    "alert_acknowledge",
    "alert_resolve",
    "alerts_resolve_for_withdrawn",
    "link_issue",
    "link_open",
    "link_submit",
]
