"""The IPT record over the JSON API: inventory revisions and their diff, the closeness circle
(SVG), formulation and problem areas, contract, phase and its override, conclusion plan."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.responses import Status

from iptcare.access.vocabulary import Action
from iptcare.accounts.models import User
from iptcare.clients.models import Episode
from iptcare.clients.selectors import episode_get
from iptcare.core.errors import NotFound
from iptcare.ipt import services
from iptcare.ipt.schemas import (
    ConclusionIn,
    ConclusionOut,
    ContractIn,
    ContractOut,
    DiffOut,
    FormulationIn,
    FormulationOut,
    FormulationVersionOut,
    OverrideIn,
    OverrideOut,
    PhaseOut,
    ProblemAreaIn,
    ProblemAreaOut,
    RevisionIn,
    RevisionOut,
    StageIn,
)
from iptcare.ipt.selectors import IptRecord, ipt_record, problem_area_get

router = Router(tags=["ipt"])
E = "/episodes/{episode_id}/ipt"


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _episode(request: HttpRequest, episode_id: UUID) -> Episode:
    return episode_get(actor=_actor(request), public_id=episode_id)


def _record(request: HttpRequest, episode_id: UUID) -> IptRecord:
    return ipt_record(actor=_actor(request), episode_id=episode_id)


def _formulation(record: IptRecord) -> FormulationOut:
    current = record.formulation
    return FormulationOut(
        current=FormulationVersionOut.of(current) if current else None,
        versions=len(record.formulations),
        problem_areas=[ProblemAreaOut.of(a) for a in record.problem_areas],
    )


# --- Inventory --------------------------------------------------------------------------------


@router.get(E + "/inventory", response=RevisionOut, summary="The latest inventory revision")
def inventory_latest(request: HttpRequest, episode_id: UUID) -> RevisionOut:
    record = _record(request, episode_id)
    if record.latest is None:
        raise NotFound("No interpersonal inventory yet.")
    return RevisionOut.of(record.latest, record.people(record.latest))


@router.get(
    E + "/inventory/revisions", response=list[RevisionOut], summary="Every inventory revision"
)
def inventory_revisions(request: HttpRequest, episode_id: UUID) -> list[RevisionOut]:
    record = _record(request, episode_id)
    return [RevisionOut.of(r, record.people(r)) for r in record.revisions]


@router.post(
    E + "/inventory/revisions",
    response={201: RevisionOut},
    summary="A new inventory revision (the whole list of people)",
)
def inventory_revision_create(
    request: HttpRequest, episode_id: UUID, payload: RevisionIn
) -> Status[RevisionOut]:
    actor = _actor(request)
    episode = _episode(request, episode_id)
    revision = services.inventory_revision_create(
        actor=actor,
        episode=episode,
        people=[p.model_dump() for p in payload.people],
        note=payload.note,
        based_on=payload.based_on,
    )
    return Status(201, RevisionOut.of(revision, list(revision.people.order_by("position", "id"))))


@router.get(E + "/inventory/diff", response=DiffOut, summary="First versus latest revision")
def inventory_diff(request: HttpRequest, episode_id: UUID) -> DiffOut:
    record = _record(request, episode_id)
    return DiffOut.of(
        record.first.number if record.first else None,
        record.latest.number if record.latest else None,
        record.diff,
    )


@router.get(
    E + "/circle.svg",
    summary="The closeness circle as SVG (latest revision, or ?revision=n)",
    openapi_extra={"responses": {200: {"content": {"image/svg+xml": {}}}}},
)
def circle(request: HttpRequest, episode_id: UUID, revision: int | None = None) -> HttpResponse:
    record = _record(request, episode_id)
    chosen = record.latest
    if revision is not None:
        chosen = next((r for r in record.revisions if r.number == revision), None)
    if chosen is None:
        raise NotFound("No such inventory revision.")
    svg = record.circle(chosen, id_prefix="circle")
    return HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")


# --- Formulation and problem areas ------------------------------------------------------------


@router.get(E + "/formulation", response=FormulationOut, summary="Formulation and problem areas")
def formulation_get(request: HttpRequest, episode_id: UUID) -> FormulationOut:
    return _formulation(_record(request, episode_id))


@router.post(
    E + "/formulation",
    response={201: FormulationVersionOut},
    summary="A new version of the formulation",
)
def formulation_save(
    request: HttpRequest, episode_id: UUID, payload: FormulationIn
) -> Status[FormulationVersionOut]:
    row = services.formulation_save(
        actor=_actor(request),
        episode=_episode(request, episode_id),
        text=payload.text,
        based_on=payload.based_on,
    )
    return Status(201, FormulationVersionOut.of(row))


@router.post(E + "/problem-areas", response={201: ProblemAreaOut}, summary="Choose a problem area")
def problem_area_add(
    request: HttpRequest, episode_id: UUID, payload: ProblemAreaIn
) -> Status[ProblemAreaOut]:
    area = services.problem_area_add(
        actor=_actor(request),
        episode=_episode(request, episode_id),
        kind=payload.kind,
        dispute_person_key=payload.dispute_person_key,
        dispute_with=payload.dispute_with,
        stage=payload.stage or "",
        stage_on=payload.stage_on,
        transition_from=payload.transition_from,
        transition_to=payload.transition_to,
        note=payload.note,
    )
    return Status(201, ProblemAreaOut.of(area))


@router.post(
    "/ipt/problem-areas/{area_id}/stages",
    response={201: ProblemAreaOut},
    summary="Record the stage of a role dispute",
)
def dispute_stage_add(
    request: HttpRequest, area_id: UUID, payload: StageIn
) -> Status[ProblemAreaOut]:
    actor = _actor(request)
    area = problem_area_get(actor=actor, public_id=area_id)
    services.dispute_stage_record(
        actor=actor,
        area=area,
        stage=payload.stage,
        recorded_on=payload.recorded_on,
        note=payload.note,
    )
    return Status(201, ProblemAreaOut.of(area))


@router.post(
    "/ipt/problem-areas/{area_id}/end", response=ProblemAreaOut, summary="End a problem area"
)
def problem_area_end(request: HttpRequest, area_id: UUID) -> ProblemAreaOut:
    actor = _actor(request)
    area = problem_area_get(actor=actor, public_id=area_id, action=Action.UPDATE)
    return ProblemAreaOut.of(services.problem_area_end(actor=actor, area=area))


# --- Contract, phase, conclusion --------------------------------------------------------------


@router.get(E + "/contract", response=ContractOut, summary="The current treatment contract")
def contract_get(request: HttpRequest, episode_id: UUID) -> ContractOut:
    record = _record(request, episode_id)
    if record.contract is None:
        raise NotFound("No treatment contract yet.")
    return ContractOut.of(record.contract)


@router.put(E + "/contract", response=ContractOut, summary="Agree or change the contract")
def contract_save(request: HttpRequest, episode_id: UUID, payload: ContractIn) -> ContractOut:
    row = services.contract_save(
        actor=_actor(request),
        episode=_episode(request, episode_id),
        sessions=payload.sessions,
        start_date=payload.start_date,
        planned_end_date=payload.planned_end_date,
        based_on=payload.based_on,
    )
    return ContractOut.of(row)


@router.get(E + "/phase", response=PhaseOut, summary="Phase and session n of N")
def phase_get(request: HttpRequest, episode_id: UUID) -> PhaseOut:
    record = _record(request, episode_id)
    return PhaseOut.of(record.phase, record.override, record.boundaries)


@router.put(E + "/phase/override", response=OverrideOut, summary="Override the computed phase")
def phase_override_set(request: HttpRequest, episode_id: UUID, payload: OverrideIn) -> OverrideOut:
    row = services.phase_override_set(
        actor=_actor(request),
        episode=_episode(request, episode_id),
        phase=payload.phase,
        reason=payload.reason,
    )
    return OverrideOut.of(row)


@router.delete(E + "/phase/override", response=OverrideOut, summary="Clear the override")
def phase_override_clear(request: HttpRequest, episode_id: UUID) -> OverrideOut:
    row = services.phase_override_clear(
        actor=_actor(request), episode=_episode(request, episode_id)
    )
    return OverrideOut.of(row)


@router.get(E + "/conclusion-plan", response=ConclusionOut, summary="The current conclusion plan")
def conclusion_get(request: HttpRequest, episode_id: UUID) -> ConclusionOut:
    record = _record(request, episode_id)
    if record.conclusion is None:
        raise NotFound("No conclusion plan yet.")
    return ConclusionOut.of(record.conclusion)


@router.post(
    E + "/conclusion-plan",
    response={201: ConclusionOut},
    summary="A new version of the conclusion plan",
)
def conclusion_save(
    request: HttpRequest, episode_id: UUID, payload: ConclusionIn
) -> Status[ConclusionOut]:
    row = services.conclusion_plan_save(
        actor=_actor(request),
        episode=_episode(request, episode_id),
        gains=payload.gains,
        depression_warning_signs=payload.depression_warning_signs,
        use_warning_signs=payload.use_warning_signs,
        continuation_plan=payload.continuation_plan,
        other_treatment=payload.other_treatment,
        based_on=payload.based_on,
    )
    return Status(201, ConclusionOut.of(row))
