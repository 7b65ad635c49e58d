"""Clients, episodes of care, intake and diagnoses over the JSON API (mounted at /api/v1/).

Same rules as the pages: selectors read (and audit), services write (each write decided and
recorded by its service, ``writing``); errors are problem+json.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema
from ninja.responses import Status

from iptcare.access.vocabulary import Action, DataCategory
from iptcare.accounts.models import User
from iptcare.clients import schemas as s
from iptcare.clients import services
from iptcare.clients.errors import DuplicateClientWarning
from iptcare.clients.models import Client, Episode
from iptcare.clients.selectors import (
    asam_assessment_list,
    client_get,
    client_list,
    client_search,
    diagnosis_get,
    diagnosis_list,
    episode_get,
    episode_list,
    sud_assessment_get,
    sud_assessment_list,
)
from iptcare.core.errors import InvalidInput, NotFound
from iptcare.core.models import Program

router = Router(tags=["clients"])

# Kept for callers of the first version of this module.
ClientOut = s.ClientOut
_out = s.client_out


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _program(actor: User, public_id: UUID, field: str = "program") -> Program:
    program = Program.objects.select_related("organisation").filter(public_id=public_id).first()
    if program is None or program.organisation_id != actor.organisation_id:
        raise InvalidInput("No such program.", field_errors={field: ["No such program."]})
    return program


def _staff(actor: User, public_id: UUID | None) -> User | None:
    if public_id is None or actor.organisation_id is None:
        return None
    user = (
        User.objects.staff()
        .filter(public_id=public_id, organisation_id=actor.organisation_id)
        .first()
    )
    if user is None:
        raise InvalidInput(
            "No such staff member.", field_errors={"primary_clinician": ["No such staff member."]}
        )
    return user


def _reload_episode(actor: User, episode: Episode) -> Episode:
    """The episode as stored, with its substances (no second audit event: same request)."""
    fresh = (
        Episode.objects.select_related("program", "client", "primary_clinician")
        .prefetch_related("substances")
        .get(pk=episode.pk)
    )
    return fresh


class SearchParams(Schema):
    q: str = ""


@router.get(
    "/programs/{program_id}/clients", response=list[s.ClientOut], summary="Clients of a program"
)
def program_clients(
    request: HttpRequest, program_id: UUID, limit: int = 100, offset: int = 0
) -> list[s.ClientOut]:
    """By name; ``limit`` (1 to 500, default 100) rows from ``offset``: page with both."""
    user = _actor(request)
    program = Program.objects.select_related("organisation").filter(public_id=program_id).first()
    if program is None or program.organisation_id != user.organisation_id:
        raise NotFound("No such program.")
    start = max(offset, 0)
    rows = client_list(actor=user, program=program)[start : start + max(1, min(limit, 500))]
    return [s.client_out(c) for c in rows]


@router.get("/clients", response=list[s.ClientOut], summary="Search clients")
def clients_search(request: HttpRequest, params: Query[SearchParams]) -> list[s.ClientOut]:
    """Name (given/family/preferred, partial), record number, or date of birth (YYYY-MM-DD)."""
    return [s.client_out(c) for c in client_search(actor=_actor(request), query=params.q)]


@router.post(
    "/clients",
    response={201: s.ClientDetailOut},
    summary="Register a client (409 on a possible duplicate unless confirm_duplicate)",
)
def client_create(request: HttpRequest, payload: s.ClientCreateIn) -> Any:
    actor = _actor(request)
    program = _program(actor, payload.program)
    data = payload.dict(exclude={"program", "confirm_duplicate"})
    try:
        client = services.client_create(
            actor=actor,
            program=program,
            data=data,
            confirm_duplicate=payload.confirm_duplicate,
        )
    except DuplicateClientWarning as exc:
        return _duplicate_problem(request, exc)
    return Status(201, s.client_detail_out(client))


def _duplicate_problem(request: HttpRequest, exc: DuplicateClientWarning) -> HttpResponse:
    """problem+json with the matches the actor may see (an RFC 9457 extension member)."""
    body = {
        "type": "about:blank",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.message,
        "instance": request.path,
        "errors": [{"field": f, "message": m} for f, ms in exc.field_errors.items() for m in ms],
        "matches": exc.matches,
        "hidden_matches": exc.hidden_matches,
    }
    response = JsonResponse(body, status=exc.status)
    response["Content-Type"] = "application/problem+json"
    return response


@router.get("/clients/{client_id}", response=s.ClientDetailOut, summary="One client")
def client_detail(request: HttpRequest, client_id: UUID) -> s.ClientDetailOut:
    return s.client_detail_out(client_get(actor=_actor(request), public_id=client_id))


@router.put(
    "/clients/{client_id}",
    response=s.ClientDetailOut,
    summary="Update a client (fields left out keep their value; 409 on a stale version)",
)
def client_update(
    request: HttpRequest, client_id: UUID, payload: s.ClientUpdateIn
) -> s.ClientDetailOut:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id, action=Action.UPDATE)
    updated = services.client_update(
        actor=actor,
        client=client,
        version=payload.version,
        # Fields left out of the body keep their value: a client that sends only what it
        # changes must not erase the rest (an empty string clears a field on purpose).
        data=payload.dict(exclude={"version"}, exclude_unset=True),
    )
    return s.client_detail_out(updated)


# --- episodes ----------------------------------------------------------------------------------


def _clinical_client(actor: User, client_id: UUID, action: Action) -> Client:
    return client_get(
        actor=actor, public_id=client_id, action=action, category=DataCategory.CLINICAL_RECORD
    )


@router.get(
    "/clients/{client_id}/episodes", response=list[s.EpisodeOut], summary="Episodes of a client"
)
def episodes_of_client(request: HttpRequest, client_id: UUID) -> list[s.EpisodeOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    return [s.episode_out(e) for e in episode_list(actor=actor, client=client)]


@router.post(
    "/clients/{client_id}/episodes",
    response={201: s.EpisodeOut},
    summary="Refer: open an episode (status referred)",
)
def episode_refer(request: HttpRequest, client_id: UUID, payload: s.EpisodeReferIn) -> Any:
    actor = _actor(request)
    client = _clinical_client(actor, client_id, Action.CREATE)
    program = _program(actor, payload.program) if payload.program else None
    episode = services.episode_refer(
        actor=actor,
        client=client,
        program=program,
        referral_date=payload.referral_date,
        referral_source=payload.referral_source,
        primary_clinician=_staff(actor, payload.primary_clinician),
    )
    return Status(201, s.episode_out(_reload_episode(actor, episode)))


@router.post("/episodes/{episode_id}/admit", response=s.EpisodeOut, summary="Admit")
def episode_admit(request: HttpRequest, episode_id: UUID, payload: s.EpisodeAdmitIn) -> Any:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.UPDATE)
    updated = services.episode_admit(
        actor=actor,
        episode=episode,
        version=payload.version,
        admission_date=payload.admission_date,
        level_of_care=payload.level_of_care,
        substances=[services.SubstanceIn(**x.dict()) for x in payload.substances],
        prior_treatment_episodes=payload.prior_treatment_episodes,
        employment_status=payload.employment_status or "",
        living_arrangement=payload.living_arrangement or "",
        arrests_past_30_days=payload.arrests_past_30_days,
        primary_clinician=_staff(actor, payload.primary_clinician),
    )
    return s.episode_out(_reload_episode(actor, updated))


@router.post("/episodes/{episode_id}/discharge", response=s.EpisodeOut, summary="Discharge")
def episode_discharge(request: HttpRequest, episode_id: UUID, payload: s.EpisodeDischargeIn) -> Any:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.UPDATE)
    updated = services.episode_discharge(
        actor=actor,
        episode=episode,
        version=payload.version,
        discharge_date=payload.discharge_date,
        discharge_reason=payload.discharge_reason or "",
        discharge_note=payload.discharge_note,
    )
    return s.episode_out(_reload_episode(actor, updated))


@router.post("/episodes/{episode_id}/cancel", response=s.EpisodeOut, summary="Cancel a referral")
def episode_cancel(request: HttpRequest, episode_id: UUID, payload: s.EpisodeCancelIn) -> Any:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.UPDATE)
    updated = services.episode_cancel(
        actor=actor, episode=episode, version=payload.version, reason=payload.reason
    )
    return s.episode_out(_reload_episode(actor, updated))


# --- intake ------------------------------------------------------------------------------------


@router.get(
    "/episodes/{episode_id}/sud-assessments",
    response=list[s.SudAssessmentOut],
    summary="DSM-5 SUD checklists of an episode",
)
def sud_assessments(request: HttpRequest, episode_id: UUID) -> list[s.SudAssessmentOut]:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id)
    rows = sud_assessment_list(actor=actor, episode=episode)
    for a in rows:
        a.episode = episode
    return [s.sud_assessment_out(a) for a in rows]


@router.post(
    "/episodes/{episode_id}/sud-assessments",
    response={201: s.SudAssessmentOut},
    summary="Record a DSM-5 SUD checklist (count, severity and proposed code computed)",
)
def sud_assessment_create(
    request: HttpRequest, episode_id: UUID, payload: s.SudAssessmentIn
) -> Any:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.CREATE)
    assessment = services.sud_assessment_create(
        actor=actor,
        episode=episode,
        substance_class=payload.substance_class,
        answers=payload.criteria,
        taken_as_prescribed=payload.taken_as_prescribed,
        notes=payload.notes,
    )
    return Status(201, s.sud_assessment_out(assessment))


@router.post(
    "/sud-assessments/{assessment_id}/confirm",
    response={201: s.DiagnosisOut},
    summary="Confirm the proposed diagnosis (or override with code and reason)",
)
def diagnosis_confirm(
    request: HttpRequest, assessment_id: UUID, payload: s.DiagnosisConfirmIn
) -> Any:
    actor = _actor(request)
    assessment = sud_assessment_get(actor=actor, public_id=assessment_id, action=Action.CREATE)
    diagnosis = services.diagnosis_confirm(
        actor=actor,
        assessment=assessment,
        code=payload.code,
        description=payload.description,
        override_reason=payload.override_reason,
    )
    return Status(201, s.diagnosis_out(diagnosis, client=assessment.client))


@router.get(
    "/clients/{client_id}/diagnoses",
    response=list[s.DiagnosisOut],
    summary="Diagnoses of a client (entered-in-error ones included, flagged)",
)
def diagnoses_of_client(request: HttpRequest, client_id: UUID) -> list[s.DiagnosisOut]:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id)
    return [s.diagnosis_out(d, client=client) for d in diagnosis_list(actor=actor, client=client)]


@router.post(
    "/clients/{client_id}/diagnoses",
    response={201: s.DiagnosisOut},
    summary="Add a co-occurring diagnosis by ICD-10-CM code",
)
def diagnosis_add(request: HttpRequest, client_id: UUID, payload: s.DiagnosisIn) -> Any:
    actor = _actor(request)
    client = _clinical_client(actor, client_id, Action.CREATE)
    episode = None
    if payload.episode is not None:
        episode = episode_get(actor=actor, public_id=payload.episode, action=Action.VIEW)
    diagnosis = services.diagnosis_add(
        actor=actor,
        client=client,
        episode=episode,
        code=payload.code,
        description=payload.description,
    )
    return Status(201, s.diagnosis_out(diagnosis, client=client))


@router.post(
    "/diagnoses/{diagnosis_id}/entered-in-error",
    response=s.DiagnosisOut,
    summary="Mark a diagnosis entered in error (never deleted)",
)
def diagnosis_entered_in_error(
    request: HttpRequest, diagnosis_id: UUID, payload: s.EnteredInErrorIn
) -> Any:
    actor = _actor(request)
    diagnosis = diagnosis_get(actor=actor, public_id=diagnosis_id, action=Action.UPDATE)
    updated = services.diagnosis_mark_entered_in_error(
        actor=actor, diagnosis=diagnosis, version=payload.version, reason=payload.reason
    )
    updated.source_assessment = diagnosis.source_assessment
    return s.diagnosis_out(updated, client=diagnosis.client)


@router.get(
    "/episodes/{episode_id}/asam-assessments",
    response=list[s.AsamAssessmentOut],
    summary="ASAM assessments of an episode",
)
def asam_assessments(request: HttpRequest, episode_id: UUID) -> list[s.AsamAssessmentOut]:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id)
    rows = asam_assessment_list(actor=actor, episode=episode)
    return [s.asam_out(a, episode=episode) for a in rows]


@router.post(
    "/episodes/{episode_id}/asam-assessments",
    response={201: s.AsamAssessmentOut},
    summary="Record an ASAM assessment (the level of care is the clinician's decision)",
)
def asam_assessment_create(
    request: HttpRequest, episode_id: UUID, payload: s.AsamAssessmentIn
) -> Any:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.CREATE)
    dims = {p: getattr(payload, p) for p in ("d1", "d2", "d3", "d4", "d5", "d6")}
    assessment = services.asam_assessment_create(
        actor=actor,
        episode=episode,
        ratings={p: int(d.rating) for p, d in dims.items()},
        dimension_notes={p: d.notes for p, d in dims.items()},
        level_of_care=payload.level_of_care,
        notes=payload.notes,
    )
    return Status(201, s.asam_out(assessment, episode=episode))
