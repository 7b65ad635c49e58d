"""Reads of treatment plans. Each read of a client's plan asks the access policy (audited)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from typing import NamedTuple
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from iptcare.access.policy import authorize
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.choices import DiagnosisStatus
from iptcare.clients.models import Diagnosis, Episode
from iptcare.core.errors import NotFound
from iptcare.plans import content, rules
from iptcare.plans.measure_targets import Point
from iptcare.plans.models import (
    DEFAULT_REVIEW_INTERVAL_DAYS,
    MedicationIndication,
    PlanGoal,
    PlanIntervention,
    PlanMedication,
    PlanObjective,
    PlanProblem,
    PlanSettings,
    PlanStatus,
    SuggestionDecision,
    TreatmentPlan,
)


def _plans() -> QuerySet[TreatmentPlan]:
    return TreatmentPlan.objects.select_related(
        "episode__organisation",
        "episode__client__organisation",
        "episode__program",
        "created_by",
        "signed_by",
        "acknowledged_by",
        "cosigned_by",
    )


def plan_get(
    *,
    actor: User,
    public_id: UUID,
    action: Action = Action.VIEW,
    purpose: Purpose = Purpose.TREATMENT,
) -> TreatmentPlan:
    """One plan version, if the actor may ``action`` the clinical record of its episode."""
    plan = _plans().filter(public_id=public_id).first()
    if plan is None:
        raise NotFound("No such plan.")
    authorize(actor, action, plan, DataCategory.CLINICAL_RECORD, purpose)
    return plan


def plan_list(
    *, actor: User, episode: Episode, purpose: Purpose = Purpose.TREATMENT
) -> list[TreatmentPlan]:
    """Every version of an episode's plan, newest first (one audit event)."""
    authorize(actor, Action.LIST, episode, DataCategory.CLINICAL_RECORD, purpose)
    plans = list(_plans().filter(episode=episode).order_by("-number"))
    for p in plans:
        p.episode = episode
    return plans


def plan_snapshots(plans: Iterable[TreatmentPlan]) -> dict[int, content.Snapshot]:
    """The content of already-authorised plan versions, in five queries whatever their number."""
    ids = [p.pk for p in plans]
    if not ids:
        return {}
    problems = list(PlanProblem.objects.filter(plan_id__in=ids).select_related("diagnosis"))
    goals = list(PlanGoal.objects.filter(plan_id__in=ids))
    objectives = list(PlanObjective.objects.filter(plan_id__in=ids))
    interventions = list(
        PlanIntervention.objects.filter(plan_id__in=ids).select_related("responsible")
    )
    medications = list(PlanMedication.objects.filter(plan_id__in=ids).select_related("prescriber"))
    return {
        pid: content.snapshot_from_rows(
            problems=[r for r in problems if r.plan_id == pid],
            goals=[r for r in goals if r.plan_id == pid],
            objectives=[r for r in objectives if r.plan_id == pid],
            interventions=[r for r in interventions if r.plan_id == pid],
            medications=[r for r in medications if r.plan_id == pid],
        )
        for pid in ids
    }


def plan_snapshot(plan: TreatmentPlan) -> content.Snapshot:
    return plan_snapshots([plan])[plan.pk]


def review_interval_days(program_id: int) -> int:
    row = PlanSettings.objects.filter(program_id=program_id).values_list(
        "review_interval_days", flat=True
    )
    return row.first() or DEFAULT_REVIEW_INTERVAL_DAYS


class PlanReviewStatus(NamedTuple):
    active_plan_version: int | None
    review_due: date | None
    overdue: bool


def plan_review_status_for_clients(
    *, client_ids: Collection[int], today: date | None = None
) -> dict[int, PlanReviewStatus]:
    """For each client (primary key): the active plan's version number, its review date, and
    whether the review is overdue (due before ``today``). Clients without an active plan get
    ``(None, None, False)``.

    One query whatever the number of clients. No audit event: the caller (the caseload) has
    already authorised listing these clients; nothing beyond a number and a date is returned.
    With several open episodes, the plan due soonest counts.
    """
    today = today or timezone.localdate()
    result = {cid: PlanReviewStatus(None, None, False) for cid in client_ids}
    if not result:
        return result
    # By the episodes of these clients (the episode index), with status and order applied here:
    # filtering on status in SQL let SQLite walk every active plan of the organisation.
    rows = sorted(
        (
            (client_id, number, due)
            for client_id, number, due, status in TreatmentPlan.objects.filter(
                episode_id__in=Episode.objects.filter(client_id__in=list(result)).values("id")
            ).values_list("episode__client_id", "number", "review_due", "status")
            if status == PlanStatus.ACTIVE
        ),
        key=lambda row: (row[2] is None, row[2]),
    )
    for client_id, number, due in rows:
        if result[client_id].active_plan_version is None:
            result[client_id] = PlanReviewStatus(number, due, due is not None and due < today)
    return result


def plan_facts(
    plan: TreatmentPlan,
    snapshot: content.Snapshot,
    *,
    audit_total: int | None = None,
    readiness_importance: int | None = None,
    readiness_confidence: int | None = None,
    today: date | None = None,
) -> rules.PlanFacts:
    """The rule inputs for an already-authorised plan: the client's active diagnoses and the
    plan's medication entries. The AUDIT total and readiness ruler arrive with the measures
    issue; until then callers pass them (or ``None``)."""
    codes = Diagnosis.objects.filter(
        client_id=plan.episode.client_id, status=DiagnosisStatus.ACTIVE, entered_in_error=False
    ).values_list("code", flat=True)
    return rules.PlanFacts(
        diagnosis_codes=tuple(codes),
        has_oud_medication=content.has_current_medication(
            snapshot,
            indication=MedicationIndication.OPIOID_USE_DISORDER,
            today=today or timezone.localdate(),
        ),
        audit_total=audit_total,
        readiness_importance=readiness_importance,
        readiness_confidence=readiness_confidence,
    )


def suggestion_decisions(plan: TreatmentPlan) -> list[SuggestionDecision]:
    return list(plan.suggestion_decisions.select_related("decided_by"))


def pending_suggestions(
    plan: TreatmentPlan, facts: rules.PlanFacts, decided: Iterable[SuggestionDecision]
) -> list[rules.Rule]:
    """Rules that fire and have not been decided for this version; only drafts get prompts."""
    if plan.status != PlanStatus.DRAFT:
        return []
    done = {d.rule_code for d in decided}
    return [r for r in rules.evaluate(facts) if r.code not in done]


def measure_series(*, client_id: int) -> dict[str, list[Point]]:
    """A client's scored administrations per instrument, oldest first (one query). For pages
    that have already authorized the client's clinical record (the plan)."""
    from iptcare.measures.models import Administration

    series: dict[str, list[Point]] = {}
    rows = (
        Administration.objects.filter(client_id=client_id, total__isnull=False)
        .order_by("completed_at")
        .values_list("instrument", "completed_at", "total")
    )
    for code, at, total in rows:
        if total is not None:
            series.setdefault(code, []).append(Point(at, total))
    return series
