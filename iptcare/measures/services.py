"""Every write of measurement-based care: administrations (in session or through a single-use
link), links, and the alert life cycle.

Shape (STYLE.md): keyword-only, ``actor`` first, the access decision through ``authorize`` before
the transaction, then one atomic block: score, store, FHIR, alerts, audit — all or nothing.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.db.models import Count, Field, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from iptcare.access.policy import authorize
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User, hash_token_secret
from iptcare.audit import chain
from iptcare.audit import services as audit
from iptcare.audit.models import Outcome
from iptcare.clients.models import Client, Episode
from iptcare.core.db import statement
from iptcare.core.db.prepared import prepared, prepared_update
from iptcare.core.db.writes import PreparedInsert
from iptcare.core.errors import Conflict, InvalidInput, NotFound
from iptcare.core.mail import Delivery, send_after_commit
from iptcare.core.models import Organisation
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


_open_episode = alerts.open_episode


def scoring_context(client: Client) -> dict[str, str]:
    """What an instrument's context-dependent cutoffs may use (AUDIT-C: sex at birth)."""
    sex = client.sex_assigned_at_birth
    return {"sex": sex} if sex in {"male", "female"} else {}


# --- administrations ----------------------------------------------------------------------------


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
    instrument = engine.get(instrument_code)
    authorize(
        actor,
        Action.CREATE,
        client,
        CATEGORY,
        Purpose.TREATMENT,
        detail={"measure": instrument.code},
    )
    result = engine.score(instrument, answers, context=scoring_context(client))
    with transaction.atomic():
        return _store(
            client=client,
            instrument=instrument,
            answers=dict(answers),
            result=result,
            mode=mode,
            administered_by=actor,
        )


@dataclass(frozen=True)
class _KnownHistory:
    """What ``link_submit`` already read together with the link, so that ``_store`` and the
    alert rules need not read it again: the client's open episode (with its clinician),
    (earliest scored total of the instrument in that episode, sessions attended since
    admission), and the program's not-on-track session."""

    episode: Episode
    history: tuple[float | None, int]
    off_track_session: int


def _store(
    *,
    client: Client,
    instrument: engine.Instrument,
    answers: dict[str, str],
    result: engine.ScoreResult,
    mode: str,
    administered_by: User | None,
    known: _KnownHistory | None = None,
) -> Administration:
    """Build the administration (with its FHIR JSON) and write it with its alerts."""
    administration = _build(
        client=client,
        instrument=instrument,
        answers=answers,
        result=result,
        mode=mode,
        administered_by=administered_by,
        episode=known.episode if known is not None else _open_episode(client),
    )
    _write(administration, instrument, known)
    return administration


def _build(
    *,
    client: Client,
    instrument: engine.Instrument,
    answers: dict[str, str],
    result: engine.ScoreResult,
    mode: str,
    administered_by: User | None,
    episode: Episode | None,
) -> Administration:
    """The unsaved administration with its FHIR QuestionnaireResponse and Observations: CPU
    work only, so that ``link_submit`` can do it before taking the write lock."""
    now = timezone.now()
    administration = Administration(
        organisation_id=client.organisation_id,
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


def _write(
    administration: Administration,
    instrument: engine.Instrument,
    known: _KnownHistory | None,
) -> None:
    """Insert a built administration and run the alert rules (in the caller's transaction)."""
    administration.save(force_insert=True)
    alerts.evaluate_administration(
        administration=administration,
        instrument=instrument,
        episode=administration.episode,
        history=known.history if known is not None else None,
        off_track_session=known.off_track_session if known is not None else None,
    )


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
    """A single-use link for the client to complete one instrument; optionally emailed, after
    the link is committed (``IssuedLink.email`` says whether that worked).

    The email says only that the program asks them to fill in a short questionnaire — no name of
    an instrument, no diagnosis, nothing clinical (Part 2 / HIPAA minimum necessary)."""
    errors: dict[str, list[str]] = {}
    try:
        instrument = engine.get(instrument_code)
    except engine.UnknownInstrument:
        errors["instrument"] = ["No such instrument."]
    if not 1 <= hours <= 24 * 14:
        errors["hours"] = ["Between 1 hour and 14 days."]
    if errors:
        raise InvalidInput("The link was not created.", field_errors=errors)
    authorize(
        actor,
        Action.CREATE,
        client,
        CATEGORY,
        Purpose.TREATMENT,
        detail={"measure_link": instrument.code},
    )
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = MeasureLink.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            episode=_open_episode(client),
            instrument=instrument.code,
            secret_hash=hash_token_secret(secret),
            issued_by=actor,
            expires_at=timezone.now() + timedelta(hours=hours),
            sent_to=email,
        )
    delivery = Delivery()
    if email:
        delivery = send_after_commit(
            to=email,
            subject="A short questionnaire from your care team",
            body=(
                "Your care team has asked you to fill in a short questionnaire before your next "
                f"session.\n\nOpen this link (it works once and expires in {hours} hours):\n"
                f"{base_url.rstrip('/')}{link_path(secret)}\n\n"
                "If you did not expect this message, you can ignore it."
            ),
        )
    return IssuedLink(link=link, secret=secret, email=delivery)


# What a submit reads of the link and of the rows it refers to (``link_open``): each model's
# columns in the model's field order, which is how ``Model.from_db`` takes them, and the path
# from the link that selects them.
_LINK_MODELS: tuple[tuple[type[models.Model], str, frozenset[str]], ...] = (
    (
        MeasureLink,
        "",
        frozenset(
            {"id", "public_id", "organisation_id", "client_id", "episode_id"}
            | {"instrument", "expires_at", "used_at"}
        ),
    ),
    (Organisation, "organisation__", frozenset({"id", "public_id"})),
    (
        Client,
        "client__",
        frozenset({"id", "public_id", "organisation_id", "program_id", "sex_assigned_at_birth"}),
    ),
    (
        Episode,
        "episode__",
        frozenset(
            {"id", "public_id", "organisation_id", "program_id", "client_id", "status"}
            | {"primary_clinician_id", "admission_date"}
        ),
    ),
)
# Read with them, after them, in this order.
_LINK_FACTS = (
    "open_episode_id",
    "prior_baseline",
    "sessions_attended",
    "program_off_track_session",
)


@functools.cache
def _link_columns() -> tuple[tuple[type[models.Model], str, tuple[str, ...]], ...]:
    """Each model of ``_LINK_MODELS`` with its path and its columns in field order."""
    found = []
    for model, path, wanted in _LINK_MODELS:
        names = tuple(f.attname for f in model._meta.concrete_fields if f.attname in wanted)
        if len(names) != len(wanted):
            raise ImproperlyConfigured(f"{model.__name__} has no {sorted(wanted - set(names))}")
        found.append((model, path, names))
    return tuple(found)


def _open_link_query(secret_hash: str) -> QuerySet[MeasureLink, tuple[Any, ...]]:
    """``link_open``'s one query (prepared below: the same SQL on every submit)."""
    from iptcare.scheduling.models import ATTENDED_STATUSES, Appointment

    open_episode = (
        Episode.objects.filter(client_id=OuterRef("client_id"), status__in=("referred", "admitted"))
        .order_by("-referral_date")
        .values("id")[:1]
    )
    baseline = (
        Administration.objects.filter(
            client_id=OuterRef("client_id"),
            instrument=OuterRef("instrument"),
            episode_id=OuterRef("episode_id"),
            total__isnull=False,
        )
        .order_by("completed_at")
        .values("total")[:1]
    )
    attended = (
        Appointment.objects.filter(
            client_id=OuterRef("client_id"),
            status__in=sorted(ATTENDED_STATUSES),
            starts_at__date__gte=OuterRef("episode__admission_date"),
        )
        .order_by()
        .values("client_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    off_track = MeasureSettings.objects.filter(program_id=OuterRef("client__program_id")).values(
        "not_on_track_session"
    )[:1]
    # Only the columns a submit uses (each column read costs Python on every submit); one
    # left out is deferred on the instance and read by a query of its own where it is used,
    # which the query-count tests catch.
    columns = [path + name for _model, path, names in _link_columns() for name in names]
    return (
        MeasureLink.objects.annotate(
            open_episode_id=Subquery(open_episode),
            prior_baseline=Subquery(baseline),
            sessions_attended=Coalesce(Subquery(attended), 0),
            program_off_track_session=Subquery(off_track),
        )
        .filter(secret_hash=secret_hash)
        .values_list(*columns, *_LINK_FACTS)[:1]
    )


_OPEN_LINK = prepared(_open_link_query, secret_hash=str)


# The link is spent by the submit's last write: only a still-unused, unexpired link passes.
_SPEND_LINK = prepared_update(
    lambda link_id, administration_id, now: (
        MeasureLink.objects.filter(pk=link_id, used_at__isnull=True, expires_at__gt=now),
        {"used_at": now, "administration_id": administration_id},
    ),
    link_id=int,
    administration_id=int,
    now=datetime,
)


@dataclass(frozen=True)
class OpenedLink:
    """A usable link, read once per request with what a submit needs (``link_open``)."""

    link: MeasureLink
    known: _KnownHistory | None


def link_open(secret: str) -> OpenedLink:
    """The usable link for ``secret`` — the same 404 for unknown, used and expired links, so the
    page never tells a stranger whether a link existed — read once per request (the page shows
    the form, then ``link_submit(opened=...)``) with what storing and the alert rules need, in
    the same query: the link's episode with its clinician, the client's current open episode,
    the earliest scored total of the instrument in the episode, the sessions attended since
    admission and the program's not-on-track session. So a submit stays within its query
    budget (bench/README.md).

    The history is used only while the link's episode is still the client's open episode;
    otherwise ``_store`` reads it afresh, exactly as an in-session administration does."""
    row = _OPEN_LINK.row(secret_hash=hash_token_secret(secret))
    if row is None:
        raise NotFound(LINK_GONE)
    # The row as the models it holds (``PreparedQuery.row``: building them from the values
    # costs less Python than the queryset's own row handling).
    instances: list[Any] = []
    start = 0
    for model, _path, names in _link_columns():
        values = row[start : start + len(names)]
        start += len(names)
        instances.append(None if values[0] is None else model.from_db("default", names, values))
    link, organisation, client, episode = instances
    open_episode_id, prior, sessions_attended, off_track_session = row[start:]
    if link.used_at is not None or link.expires_at <= timezone.now():
        raise NotFound(LINK_GONE)
    link.organisation, link.client, link.episode = organisation, client, episode
    if episode is None or link.episode_id != open_episode_id:
        return OpenedLink(link=link, known=None)
    known = _KnownHistory(
        episode=episode,
        history=(None if prior is None else float(prior), int(sessions_attended)),
        off_track_session=(
            int(off_track_session)
            if off_track_session is not None
            else program_settings.default_not_on_track_session()
        ),
    )
    return OpenedLink(link=link, known=known)


def link_submit(
    *, secret: str, answers: Mapping[str, Any], opened: OpenedLink | None = None
) -> Administration:
    """The client submits the questionnaire: scored, stored, alerts raised, link spent — one
    transaction. Bad answers change nothing and leave the link usable.

    The link is spent by the last write: a conditional UPDATE that only a still-unused,
    unexpired link passes; if a second tab submitted first, this one rolls back entirely.

    ``opened``: the link as ``link_open`` read it earlier in the same request (not read again;
    the final conditional UPDATE still refuses a link spent or expired in between)."""
    opened = opened or link_open(secret)
    link, known = opened.link, opened.known
    instrument = engine.get(link.instrument)
    result = engine.score(instrument, answers, context=scoring_context(link.client))
    # Everything that needs no lock happens before the transaction: on SQLite the write lock is
    # taken at BEGIN and every other submit waits for it. So the administration, its alerts and
    # the spending of the link are built *and compiled* here (iptcare.core.db.writes), and the
    # audit event prepared (iptcare.audit.chain.PreparedEvent); under the lock only their
    # statements run, and the event takes its place at the head of the chain.
    administration = _build(
        client=link.client,
        instrument=instrument,
        answers=dict(answers),
        result=result,
        mode=Mode.LINK,
        administered_by=None,
        episode=known.episode if known is not None else _open_episode(link.client),
    )
    insert = PreparedInsert([administration])
    raised = (
        alerts.administration_alerts(
            administration=administration,
            instrument=instrument,
            episode=known.episode,
            history=known.history,
            off_track_session=known.off_track_session,
        )
        if known is not None
        else None
    )
    insert_alerts = alerts.insert_alerts(raised) if raised else None
    event = audit.prepare(
        actor=None,
        actor_email="client (single-use link)",
        action=Action.CREATE,
        data_category=CATEGORY,
        outcome=Outcome.ALLOWED,
        organisation_id=link.organisation.public_id,
        client_id=link.client.public_id,
        resource_type="administration",
        resource_id=str(administration.public_id),
        purpose=Purpose.TREATMENT,
        reason="completed by the client through a single-use link",
        detail={"measure": instrument.code, "link": str(link.public_id)},
    )
    now = timezone.now()
    if raised is not None and connection.vendor == "postgresql":
        _store_and_spend_in_one_statement(link, administration, insert, insert_alerts, event, now)
        return administration
    with transaction.atomic():
        insert.execute()
        if raised is None:  # the history is read under the lock, as in session
            alerts.evaluate_administration(
                administration=administration, instrument=instrument, episode=administration.episode
            )
        elif insert_alerts is not None:
            insert_alerts.execute()
        spent = _SPEND_LINK.execute(link_id=link.pk, administration_id=administration.pk, now=now)
        if spent != 1:  # a second tab submitted first: nothing of this one is kept
            raise NotFound(LINK_GONE)
        link.used_at, link.administration = now, administration
        audit.record_prepared(event)
    return administration


def _store_and_spend_in_one_statement(
    link: MeasureLink,
    administration: Administration,
    insert: PreparedInsert,
    insert_alerts: PreparedInsert | None,
    event: chain.PreparedEvent | None,
    now: datetime,
) -> None:
    """PostgreSQL: ``link_submit``'s writes — the administration, its alerts, the link spent,
    the audit event — as one statement that is its own transaction (ADR 0013,
    ``iptcare.core.db.statement``): one round trip instead of six (BEGIN, four writes, COMMIT)::

        WITH adm AS (INSERT administration ... RETURNING id),
             alerts AS (INSERT alerts ... ON CONFLICT DO NOTHING RETURNING 1),
             spent AS (UPDATE link SET administration_id = (SELECT id FROM adm) ...
                       WHERE unused and unexpired RETURNING 1),
             gate AS MATERIALIZED (SELECT iptcare_require(EXISTS (SELECT FROM spent)), alerts),
             chain AS MATERIALIZED (... the chain's lock, read through gate ...),
             audit AS (INSERT audit event ... RETURNING id, chain, seq, prev_hash, hash)
        SELECT (SELECT id FROM adm), gate.ok, audit.* FROM gate, audit

    The link is spent by a conditional UPDATE that only a still-unused, unexpired link passes
    (a second tab's submit that committed first makes it match nothing: its row lock is waited
    for, then the condition checked again); ``iptcare_require`` then aborts the statement, and
    with it the administration and the alerts it wrote. ``gate`` reads the writes' RETURNING, so
    they run before the audit chain's lock is taken (the order of every other transaction: the
    audit event last), and a failed requirement never takes it."""
    quote = connection.ops.quote_name
    meta = MeasureLink._meta

    def column(name: str) -> str:
        field = meta.get_field(name)
        assert isinstance(field, Field) and field.column  # a concrete column of the link's table
        return quote(field.column)

    insert_sql, params = insert.statement()
    (key,) = insert.returning
    ctes = [f"adm AS ({insert_sql})"]
    gate = "iptcare_require(EXISTS (SELECT FROM spent), %s) AS ok"
    if insert_alerts is not None:
        alerts_sql, alerts_params = insert_alerts.statement()
        ctes.append(f"alerts AS ({alerts_sql} RETURNING 1)")
        params += alerts_params
        gate += ", (SELECT count(*) FROM alerts) AS alerts"
    # Identifiers come from the models' metadata, never from input; values are parameters.
    ctes.append(
        f"spent AS (UPDATE {quote(meta.db_table)} SET {column('used_at')} = %s,"  # noqa: S608
        f" {column('administration')} = (SELECT {quote(key)} FROM adm)"
        f" WHERE {column('id')} = %s AND {column('used_at')} IS NULL"
        f" AND {column('expires_at')} > %s RETURNING 1)"
    )
    params += [now, link.pk, now]
    ctes.append(f"gate AS MATERIALIZED (SELECT {gate})")
    params.append(LINK_GONE)
    select = f"SELECT (SELECT {quote(key)} FROM adm), gate.ok"  # noqa: S608
    if event is None:
        select += " FROM gate"
    else:
        audit_sql, audit_params = chain.pg_append_ctes([event], after="gate")
        ctes.append(audit_sql)
        params += audit_params
        select += ", audit.* FROM gate, audit"
    try:
        row = statement.fetch_one(f"WITH {', '.join(ctes)} {select}", params)
    except statement.RequirementFailed:
        raise NotFound(LINK_GONE) from None
    insert.saved([row[0]])
    if insert_alerts is not None:
        insert_alerts.saved()
    # The audit event is in the chain (row[2:] is chain.RETURNED of it); nothing
    # here needs it as a model instance.
    link.used_at, link.administration = now, administration


# --- alert life cycle ---------------------------------------------------------------------------


def _alert_for_update(alert: Alert, version: int) -> Alert:
    locked = Alert.objects.select_for_update().get(pk=alert.pk)
    if locked.version != version:
        raise Conflict("Someone else changed this alert; reload it to see what they did.")
    return locked


def alert_acknowledge(*, actor: User, alert: Alert, version: int, note: str) -> Alert:
    """Acknowledge an alert with the action taken (required for safety alerts, and for all)."""
    note = note.strip()
    if not note:
        raise InvalidInput(
            "Say what you did.", field_errors={"note": ["An action note is required."]}
        )
    if alert.status != AlertStatus.OPEN:
        raise InvalidInput("Only an open alert can be acknowledged.", field_errors={})
    purpose = Purpose.TREATMENT if alert.clinician_id == actor.pk else Purpose.OPERATIONS
    authorize(actor, Action.UPDATE, alert, CATEGORY, purpose, detail={"alert": "acknowledge"})
    with transaction.atomic():
        locked = _alert_for_update(alert, version)
        locked.status = AlertStatus.ACKNOWLEDGED
        locked.acknowledged_at = timezone.now()
        locked.acknowledged_by = actor
        locked.action_note = note
        locked.version += 1
        locked.save()
    return locked


def alert_resolve(*, actor: User, alert: Alert, version: int, note: str) -> Alert:
    note = note.strip()
    if not note:
        raise InvalidInput(
            "Say how it was resolved.", field_errors={"note": ["A resolution note is required."]}
        )
    if alert.status == AlertStatus.RESOLVED:
        raise InvalidInput("This alert is already resolved.", field_errors={})
    if alert.immediate and alert.status == AlertStatus.OPEN:
        raise InvalidInput(
            "Acknowledge a safety alert with the action taken before resolving it.",
            field_errors={},
        )
    purpose = Purpose.TREATMENT if alert.clinician_id == actor.pk else Purpose.OPERATIONS
    authorize(actor, Action.UPDATE, alert, CATEGORY, purpose, detail={"alert": "resolve"})
    with transaction.atomic():
        locked = _alert_for_update(alert, version)
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

    Runs inside the caller's transaction, so the withdrawal and these resolutions commit or roll
    back together. An alert already resolved stays as it is; an immediate one needs no
    acknowledgement first, since its cause no longer stands. Each resolution is audited as
    ``alert_resolve`` audits (``authorize``, UPDATE of the alert) — for treatment, the purpose
    of the correction the caller already authorised on the same client (an alert's scope is its
    client's), so it is allowed wherever the withdrawal was.
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
        authorize(
            actor,
            Action.UPDATE,
            alert,
            CATEGORY,
            Purpose.TREATMENT,
            detail={"alert": "resolve", "withdrawn": source_type, "source_id": alert.source_id},
        )
        _mark_resolved(alert, actor=actor, note=note)
    return resolved


def no_show_alert_reconsider(*, actor: User, client: Client, reason: str) -> list[Alert]:
    """After a no-show was corrected to attended (in the caller's transaction): an open no-show
    alert whose cause is gone from the record is resolved, audited, with the correction's
    reason. Its cause is gone when the outcomes of every appointment that had started when it
    was raised (all of them, not only the latest) no longer hold a run of no-shows; a run that
    still stands there, even one that has since ended, keeps it open."""
    alerts.lock_attendance(client)
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


# For other apps that admit a client's answers by their own door (the portal): score, store,
# FHIR and alerts exactly as here, inside the caller's transaction.
store_administration = _store

__all__ = [
    "AlertKind",
    "IssuedLink",
    "administer",
    "alert_acknowledge",
    "alert_resolve",
    "alerts_resolve_for_withdrawn",
    "link_issue",
    "link_open",
    "link_submit",
    "store_administration",
]
