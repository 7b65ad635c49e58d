"""Instruments over the JSON API: definitions and stateless scoring; a client's
administrations (with their FHIR form), single-use links, and the alert inbox and life cycle.

Definitions and scoring touch no client's data (answers are scored and forgotten), so they are
open to every signed-in user or API token and are not audited; administrations, links and
alerts, which belong to a client, go through the same selectors and services as the pages, so
the access policy decides and the audit trail records every call.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from fhir.resources.R4B.bundle import Bundle
from ninja import Router
from ninja.responses import Status

from iptcare.access.vocabulary import Action, DataCategory
from iptcare.accounts.models import User
from iptcare.clients.selectors import client_get
from iptcare.core.errors import InvalidInput
from iptcare.measures import engine, selectors, services
from iptcare.measures.models import Administration, Alert
from iptcare.measures.schemas import (
    AdministrationIn,
    AdministrationOut,
    AlertActionIn,
    AlertInboxOut,
    AlertOut,
    AlertSummaryOut,
    InstrumentOut,
    InstrumentSummaryOut,
    MeasureLinkIn,
    MeasureLinkOut,
    ScoreIn,
    ScoreOut,
)

router = Router(tags=["instruments"])
FHIR_JSON = "application/fhir+json"


@router.get("/instruments", response=list[InstrumentSummaryOut], summary="All instruments")
def instrument_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "code": i.code,
            "title": i.title,
            "version": i.version,
            "items": len(i.items),
            "total_loinc": i.loinc_total,
            "direction": i.direction,
        }
        for i in sorted(engine.load_all().values(), key=lambda i: i.code)
    ]


@router.get(
    "/instruments/{code}",
    response=InstrumentOut,
    summary="An instrument's definition: items with their options (code, display, score)",
)
def instrument_get(request: HttpRequest, code: str) -> dict[str, Any]:
    return engine.get(code).to_dict()


@router.post(
    "/instruments/{code}/score",
    response=ScoreOut,
    summary="Score answers (item number -> option code); nothing is stored",
)
def instrument_score(request: HttpRequest, code: str, payload: ScoreIn) -> dict[str, Any]:
    instrument = engine.get(code)
    return engine.score(instrument, payload.answers, context=payload.context).to_dict()


# --- a client's administrations -----------------------------------------------------------------


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _instrument(code: str, field: str = "instrument") -> engine.Instrument:
    """A known instrument, or a field error (an unknown code in a body or query is bad input,
    not a missing page)."""
    try:
        return engine.get(code)
    except engine.UnknownInstrument as exc:
        raise InvalidInput(
            "Unknown instrument.", field_errors={field: [f"No instrument {code!r}."]}
        ) from exc


def _administration_out(a: Administration) -> AdministrationOut:
    staff = a.administered_by.public_id if a.administered_by is not None else None
    return AdministrationOut.of(a, a.client, staff)


@router.get(
    "/clients/{client_id}/administrations",
    response=list[AdministrationOut],
    tags=["measures"],
    summary="A client's administrations, oldest first (optionally of one instrument)",
)
def administration_list(
    request: HttpRequest, client_id: UUID, instrument: str | None = None
) -> list[AdministrationOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    code = _instrument(instrument).code if instrument is not None else None
    rows = selectors.administrations_for_client(actor=actor, client=client)
    return [
        AdministrationOut.of(
            a, client, a.administered_by.public_id if a.administered_by is not None else None
        )
        for a in rows
        if code is None or a.instrument == code
    ]


@router.post(
    "/clients/{client_id}/administrations",
    response={201: AdministrationOut},
    tags=["measures"],
    summary="Record an instrument completed in session or on a kiosk: scored, stored, alerts "
    "raised (422 names each bad answer; nothing is stored)",
)
def administration_create(
    request: HttpRequest, client_id: UUID, payload: AdministrationIn
) -> Status[AdministrationOut]:
    actor = _actor(request)
    client = client_get(
        actor=actor,
        public_id=client_id,
        category=DataCategory.CLINICAL_RECORD,
        action=Action.CREATE,
    )
    instrument = _instrument(payload.instrument)
    administration = services.administer(
        actor=actor,
        client=client,
        instrument_code=instrument.code,
        answers=payload.answers,
        mode=payload.mode,
    )
    return Status(201, AdministrationOut.of(administration, client, actor.public_id))


@router.get(
    "/administrations/{administration_id}",
    response=AdministrationOut,
    tags=["measures"],
    summary="One administration: answers, scores, flags",
)
def administration_detail(request: HttpRequest, administration_id: UUID) -> AdministrationOut:
    a = selectors.administration_get(actor=_actor(request), public_id=administration_id)
    return _administration_out(a)


def fhir_bundle(a: Administration) -> dict[str, Any]:
    """A FHIR R4B ``collection`` Bundle: the QuestionnaireResponse, then its Observations.

    Entries carry no ``fullUrl``: iptcare has no FHIR server base yet, and the resources refer
    to each other by ``Type/id``, which resolves inside the bundle."""
    bundle = {
        "resourceType": "Bundle",
        "id": str(a.public_id),
        "type": "collection",
        "timestamp": a.completed_at.isoformat(),
        "entry": [{"resource": a.questionnaire_response}]
        + [{"resource": o} for o in a.observations],
    }
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)


@router.get(
    "/administrations/{administration_id}/fhir",
    response={200: dict[str, Any]},
    tags=["measures"],
    summary="One administration as a FHIR R4 Bundle (collection) of its QuestionnaireResponse "
    "and Observations (application/fhir+json)",
)
def administration_fhir(request: HttpRequest, administration_id: UUID) -> HttpResponse:
    a = selectors.administration_get(actor=_actor(request), public_id=administration_id)
    return HttpResponse(json.dumps(fhir_bundle(a)), content_type=FHIR_JSON)


# --- single-use links ---------------------------------------------------------------------------


@router.post(
    "/clients/{client_id}/measure-links",
    response={201: MeasureLinkOut},
    tags=["measures"],
    summary="Issue a single-use, expiring link for the client to complete one instrument; the "
    "URL is in this response only (optionally emailed, without clinical content; email_status "
    "says whether the email went)",
)
def measure_link_create(
    request: HttpRequest, client_id: UUID, payload: MeasureLinkIn
) -> Status[MeasureLinkOut]:
    actor = _actor(request)
    client = client_get(
        actor=actor,
        public_id=client_id,
        category=DataCategory.CLINICAL_RECORD,
        action=Action.CREATE,
    )
    issued = services.link_issue(
        actor=actor,
        client=client,
        instrument_code=payload.instrument,
        hours=payload.hours,
        email=payload.email,
        base_url=request.build_absolute_uri("/"),
    )
    url = request.build_absolute_uri(issued.path)
    return Status(201, MeasureLinkOut.of(issued.link, client, url, issued.email))


# --- alerts -------------------------------------------------------------------------------------


@router.get(
    "/alerts",
    response=AlertInboxOut,
    tags=["alerts"],
    summary="My alert inbox: unresolved alerts of my clients, and of the programs I supervise",
)
def alert_inbox(request: HttpRequest) -> AlertInboxOut:
    inbox = selectors.alert_inbox(actor=_actor(request))
    return AlertInboxOut(
        mine=[AlertSummaryOut.of(a) for a in inbox.mine],
        supervision=[AlertSummaryOut.of(a) for a in inbox.supervision],
        mine_truncated=inbox.mine_truncated,
        supervision_truncated=inbox.supervision_truncated,
    )


@router.get("/alerts/{alert_id}", response=AlertOut, tags=["alerts"], summary="One alert")
def alert_detail(request: HttpRequest, alert_id: UUID) -> AlertOut:
    return AlertOut.of(selectors.alert_get(actor=_actor(request), public_id=alert_id))


def _with_relations(updated: Alert, read: Alert) -> Alert:
    """The service returns the row it locked; give it the relations already loaded."""
    updated.client = read.client
    updated.program = read.program
    updated.clinician = read.clinician
    return updated


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response=AlertOut,
    tags=["alerts"],
    summary="Acknowledge an open alert with the action taken (409 on a stale version)",
)
def alert_acknowledge(request: HttpRequest, alert_id: UUID, payload: AlertActionIn) -> AlertOut:
    actor = _actor(request)
    alert = selectors.alert_get(actor=actor, public_id=alert_id)
    updated = services.alert_acknowledge(
        actor=actor, alert=alert, version=payload.version, note=payload.note
    )
    return AlertOut.of(_with_relations(updated, alert))


@router.post(
    "/alerts/{alert_id}/resolve",
    response=AlertOut,
    tags=["alerts"],
    summary="Resolve an alert with a note (a safety alert must be acknowledged first; 409 on a "
    "stale version)",
)
def alert_resolve(request: HttpRequest, alert_id: UUID, payload: AlertActionIn) -> AlertOut:
    actor = _actor(request)
    alert = selectors.alert_get(actor=actor, public_id=alert_id)
    updated = services.alert_resolve(
        actor=actor, alert=alert, version=payload.version, note=payload.note
    )
    return AlertOut.of(_with_relations(updated, alert))
