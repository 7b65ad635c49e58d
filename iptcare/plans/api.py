"""Treatment plans over the JSON API. Input and output schemas are separate."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from iptcare.access.vocabulary import Action
from iptcare.accounts.models import User
from iptcare.clients.selectors import episode_get
from iptcare.core.errors import NotFound
from iptcare.plans import content, selectors, services
from iptcare.plans.models import (
    AcknowledgementMethod,
    IptProblemArea,
    MedicationIndication,
    Modality,
    SuggestionDecisionKind,
    TreatmentPlan,
)

router = Router(tags=["plans"])


# --- Input ----------------------------------------------------------------------------------


class InterventionIn(Schema):
    key: UUID | None = None
    modality: Modality
    frequency: str = Field(max_length=100)
    description: str = Field(default="", max_length=2000)
    responsible: UUID | None = None


class ObjectiveIn(Schema):
    key: UUID | None = None
    text: str = Field(max_length=2000)
    target_date: date | None = None
    measure_code: str = Field(default="", max_length=40)
    target_text: str = Field(default="", max_length=200)
    interventions: list[InterventionIn] = []


class GoalIn(Schema):
    key: UUID | None = None
    text: str = Field(max_length=2000)
    objectives: list[ObjectiveIn] = []


class ProblemIn(Schema):
    key: UUID | None = None
    text: str = Field(max_length=2000)
    diagnosis: UUID | None = None
    ipt_problem_area: IptProblemArea | None = None
    asam_dimension: int | None = Field(default=None, ge=1, le=6)
    goals: list[GoalIn] = []


class MedicationIn(Schema):
    key: UUID | None = None
    name: str = Field(max_length=120)
    dose: str = Field(default="", max_length=120)
    indication: MedicationIndication
    prescriber: UUID | None = None
    outside_prescriber: str = Field(default="", max_length=200)
    start_date: date | None = None
    stop_date: date | None = None


class ContentIn(Schema):
    problems: list[ProblemIn] = []
    medications: list[MedicationIn] = []


class DraftIn(Schema):
    version: int
    content: ContentIn


class VersionIn(Schema):
    version: int


class AcknowledgeIn(Schema):
    version: int
    method: AcknowledgementMethod = AcknowledgementMethod.IN_PERSON


class DecisionIn(Schema):
    decision: SuggestionDecisionKind
    note: str = Field(default="", max_length=500)


# --- Output ---------------------------------------------------------------------------------


class PlanOut(Schema):
    id: UUID
    episode: UUID
    number: int
    status: str
    version: int
    created_by: str
    signed_by: str | None
    signed_at: datetime | None
    acknowledged_at: datetime | None
    acknowledgement_method: str
    acknowledged_by: str | None
    cosign_required: bool
    cosigned_by: str | None
    cosigned_at: datetime | None
    activated_at: datetime | None
    review_due: date | None
    superseded_at: datetime | None
    content_digest: str
    content: dict[str, Any]


class DiffEntryOut(Schema):
    kind: str
    change: str
    label: str
    text: str
    changes: list[dict[str, str]]


class SuggestionOut(Schema):
    rule: str
    suggestion: str
    rule_text: str
    source: str


class DecisionOut(Schema):
    id: UUID
    rule: str
    decision: str
    note: str
    decided_by: str
    decided_at: datetime


def _name(user: User | None) -> str | None:
    return user.full_name if user is not None else None


def _out(plan: TreatmentPlan, snapshot: content.Snapshot) -> PlanOut:
    return PlanOut(
        id=plan.public_id,
        episode=plan.episode.public_id,
        number=plan.number,
        status=plan.status,
        version=plan.version,
        created_by=plan.created_by.full_name,
        signed_by=_name(plan.signed_by),
        signed_at=plan.signed_at,
        acknowledged_at=plan.acknowledged_at,
        acknowledgement_method=plan.acknowledgement_method,
        acknowledged_by=_name(plan.acknowledged_by),
        cosign_required=plan.cosign_required,
        cosigned_by=_name(plan.cosigned_by),
        cosigned_at=plan.cosigned_at,
        activated_at=plan.activated_at,
        review_due=plan.review_due,
        superseded_at=plan.superseded_at,
        content_digest=plan.content_digest,
        content=snapshot,
    )


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _reload(actor: User, plan: TreatmentPlan) -> PlanOut:
    fresh = selectors.plan_get(actor=actor, public_id=plan.public_id)
    return _out(fresh, selectors.plan_snapshot(fresh))


@router.get("/episodes/{episode_id}/plans", response=list[PlanOut])
def list_plans(request: HttpRequest, episode_id: UUID) -> list[PlanOut]:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id)
    plans = selectors.plan_list(actor=actor, episode=episode)
    snapshots = selectors.plan_snapshots(plans)
    return [_out(p, snapshots[p.pk]) for p in plans]


@router.post("/episodes/{episode_id}/plans", response={201: PlanOut})
def start_version(request: HttpRequest, episode_id: UUID) -> Status[PlanOut]:
    """A new draft: the first plan, or a copy of the active one for its review."""
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.CREATE)
    plan = services.plan_start_version(actor=actor, episode=episode)
    return Status(201, _reload(actor, plan))


@router.get("/plans/{plan_id}", response=PlanOut)
def get_plan(request: HttpRequest, plan_id: UUID) -> PlanOut:
    actor = _actor(request)
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    return _out(plan, selectors.plan_snapshot(plan))


@router.put("/plans/{plan_id}", response=PlanOut)
def update_draft(request: HttpRequest, plan_id: UUID, payload: DraftIn) -> PlanOut:
    """Replace the draft's content; a stale ``version`` answers 409."""
    actor = _actor(request)
    plan = selectors.plan_get(actor=actor, public_id=plan_id, action=Action.UPDATE)
    plan = services.plan_update_draft(
        actor=actor,
        plan=plan,
        version=payload.version,
        content_in=payload.content.model_dump(mode="json"),
    )
    return _reload(actor, plan)


@router.post("/plans/{plan_id}/sign", response=PlanOut)
def sign(request: HttpRequest, plan_id: UUID, payload: VersionIn) -> PlanOut:
    actor = _actor(request)
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    return _reload(actor, services.plan_sign(actor=actor, plan=plan, version=payload.version))


@router.post("/plans/{plan_id}/acknowledge", response=PlanOut)
def acknowledge(request: HttpRequest, plan_id: UUID, payload: AcknowledgeIn) -> PlanOut:
    actor = _actor(request)
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    plan = services.plan_acknowledge(
        actor=actor, plan=plan, version=payload.version, method=payload.method
    )
    return _reload(actor, plan)


@router.post("/plans/{plan_id}/cosign", response=PlanOut)
def cosign(request: HttpRequest, plan_id: UUID) -> PlanOut:
    actor = _actor(request)
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    return _reload(actor, services.plan_cosign(actor=actor, plan=plan))


@router.get("/plans/{plan_id}/diff/{other_id}", response=list[DiffEntryOut])
def diff(request: HttpRequest, plan_id: UUID, other_id: UUID) -> list[DiffEntryOut]:
    """What changed from ``other_id`` (older) to ``plan_id`` — both versions of one episode."""
    actor = _actor(request)
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    other = selectors.plan_get(actor=actor, public_id=other_id)
    if other.episode_id != plan.episode_id:
        raise NotFound("No such version of this plan.")
    snapshots = selectors.plan_snapshots([plan, other])
    return [
        DiffEntryOut(
            kind=e.kind,
            change=e.change,
            label=e.label,
            text=str(e),
            changes=[{"field": c.field, "old": c.old, "new": c.new} for c in e.changes],
        )
        for e in content.plan_diff(snapshots[other.pk], snapshots[plan.pk])
    ]


@router.get("/plans/{plan_id}/suggestions", response=list[SuggestionOut])
def suggestions(
    request: HttpRequest,
    plan_id: UUID,
    audit_total: int | None = None,
    readiness_importance: int | None = None,
    readiness_confidence: int | None = None,
) -> list[SuggestionOut]:
    """Suggestions not yet decided for this draft. The measure inputs are optional until the
    measures issue provides them."""
    actor = _actor(request)
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    snapshot = selectors.plan_snapshot(plan)
    facts = selectors.plan_facts(
        plan,
        snapshot,
        audit_total=audit_total,
        readiness_importance=readiness_importance,
        readiness_confidence=readiness_confidence,
    )
    pending = selectors.pending_suggestions(plan, facts, selectors.suggestion_decisions(plan))
    return [
        SuggestionOut(rule=r.code, suggestion=r.suggestion, rule_text=r.rule_text, source=r.source)
        for r in pending
    ]


@router.post("/plans/{plan_id}/suggestions/{rule}", response={201: DecisionOut})
def decide(
    request: HttpRequest, plan_id: UUID, rule: str, payload: DecisionIn
) -> Status[DecisionOut]:
    actor = _actor(request)
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    row = services.suggestion_decide(
        actor=actor, plan=plan, rule_code=rule, decision=payload.decision, note=payload.note
    )
    return Status(
        201,
        DecisionOut(
            id=row.public_id,
            rule=row.rule_code,
            decision=row.decision,
            note=row.note,
            decided_by=actor.full_name,
            decided_at=row.decided_at,
        ),
    )
