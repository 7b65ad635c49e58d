"""Plan pages: the plan of an episode (active, draft editor, suggestions, history with diffs),
life-cycle actions, the diff between two versions and the printable plan."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from iptcare.access.policy import decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Diagnosis, Episode
from iptcare.clients.selectors import diagnosis_list, episode_get
from iptcare.core.errors import DomainError, NotFound
from iptcare.plans import content, selectors, services
from iptcare.plans.forms import (
    DecisionForm,
    GoalForm,
    InterventionForm,
    MedicationForm,
    ObjectiveForm,
    ProblemForm,
    RemoveForm,
)
from iptcare.plans.measure_targets import objective_progress, trends
from iptcare.plans.models import PlanStatus, TreatmentPlan
from iptcare.plans.rules import RULES_BY_CODE

OPS = ("problem", "goal", "objective", "intervention", "medication", "remove")


def _staff(episode: Episode) -> list[tuple[str, str]]:
    users = User.objects.filter(
        organisation_id=episode.organisation_id, programs=episode.program_id, is_active=True
    ).order_by("full_name")
    return [(str(u.public_id), u.full_name) for u in users]


def _parents(snapshot: content.Snapshot, kind: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for p in snapshot["problems"]:
        if kind == "problem":
            out.append((p["key"], p["text"][:60]))
        for g in p["goals"]:
            if kind == "goal":
                out.append((g["key"], g["text"][:60]))
            for o in g["objectives"]:
                if kind == "objective":
                    out.append((o["key"], o["text"][:60]))
    return out


def _forms(
    episode: Episode,
    snapshot: content.Snapshot,
    diagnoses: list[Diagnosis],
    version: int,
    data: Any = None,
    op: str = "",
) -> dict[str, forms.Form]:
    staff = _staff(episode)
    initial = {"version": version}

    def bound(name: str) -> Any:
        return data if name == op else None

    return {
        "problem": ProblemForm(
            bound("problem"),
            prefix="problem",
            initial=initial,
            diagnoses=[
                (str(d.public_id), f"{d.code} {d.description}")
                for d in diagnoses
                if not d.entered_in_error
            ],
        ),
        "goal": GoalForm(
            bound("goal"), prefix="goal", initial=initial, parents=_parents(snapshot, "problem")
        ),
        "objective": ObjectiveForm(
            bound("objective"),
            prefix="objective",
            initial=initial,
            parents=_parents(snapshot, "goal"),
        ),
        "intervention": InterventionForm(
            bound("intervention"),
            prefix="intervention",
            initial=initial,
            parents=_parents(snapshot, "objective"),
            staff=staff,
        ),
        "medication": MedicationForm(
            bound("medication"), prefix="medication", initial=initial, staff=staff
        ),
    }


def _history(plans: list[TreatmentPlan]) -> list[dict[str, Any]]:
    snapshots = selectors.plan_snapshots(plans)
    ordered = sorted(plans, key=lambda p: p.number)
    rows = []
    for n, plan in enumerate(ordered):
        previous = ordered[n - 1] if n else None
        diff = content.plan_diff(snapshots[previous.pk], snapshots[plan.pk]) if previous else []
        rows.append({"plan": plan, "previous": previous, "diff": [str(e) for e in diff]})
    return list(reversed(rows))


def _context(
    request: HttpRequest,
    actor: User,
    episode: Episode,
    *,
    data: Any = None,
    op: str = "",
    action_error: str = "",
) -> dict[str, Any]:
    plans = selectors.plan_list(actor=actor, episode=episode)
    snapshots = selectors.plan_snapshots(plans)
    active = next((p for p in plans if p.status == PlanStatus.ACTIVE), None)
    current = next((p for p in plans if p.status in (PlanStatus.DRAFT, PlanStatus.PENDING)), None)
    diagnoses = diagnosis_list(actor=actor, client=episode.client)
    series = selectors.measure_series(client_id=episode.client_id)
    for plan_content in (snapshots[p.pk] for p in (active, current) if p is not None):
        objectives = [
            o for pr in plan_content["problems"] for g in pr["goals"] for o in g["objectives"]
        ]
        progress = objective_progress(objectives, series)
        for o in objectives:
            o["progress"] = progress.get(str(o.get("key")))
    ctx: dict[str, Any] = {
        "episode": episode,
        "client": episode.client,
        "measure_trends": trends(series),
        "active": active,
        "active_content": snapshots[active.pk] if active else None,
        "current": current,
        "current_content": snapshots[current.pk] if current else None,
        "history": _history(plans),
        "action_error": action_error,
        "suggestions": [],
        "decisions": [],
        "can_cosign": False,
        "today": timezone.localdate(),
    }
    if current is not None:
        snapshot = snapshots[current.pk]
        decided = selectors.suggestion_decisions(current)
        facts = selectors.plan_facts(current, snapshot)
        ctx["suggestions"] = selectors.pending_suggestions(current, facts, decided)
        ctx["decisions"] = [(d, RULES_BY_CODE.get(d.rule_code)) for d in decided]
        ctx["forms"] = _forms(episode, snapshot, diagnoses, current.version, data, op)
        ctx["decision_form"] = DecisionForm()
        ctx["can_cosign"] = (
            current.awaiting_cosign
            and current.signed_by_id != actor.pk
            and not actor.is_trainee
            and bool(
                decide(
                    actor, Action.SIGN, current, DataCategory.CLINICAL_RECORD, Purpose.OPERATIONS
                )
            )
        )
    return ctx


@login_required
@require_GET
def plan_page(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    episode = episode_get(actor=actor, public_id=episode_id)
    return render(request, "plans/plan.html", _context(request, actor, episode))


@login_required
@require_POST
def plan_new_version(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.CREATE)
    try:
        services.plan_start_version(actor=actor, episode=episode)
    except DomainError as exc:
        ctx = _context(request, actor, episode, action_error=exc.message)
        return render(request, "plans/plan.html", ctx, status=409)
    messages.success(request, "A new draft version was started.")
    return redirect("plans:plan", episode_id=episode_id)


def _find(rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["key"] == key), None)


def _edited(snapshot: content.Snapshot, op: str, cd: dict[str, Any]) -> content.Snapshot:
    """The content with one row added or removed (the form data is already valid)."""
    new = copy.deepcopy(snapshot)
    goals = [g for p in new["problems"] for g in p["goals"]]
    objectives = [o for g in goals for o in g["objectives"]]
    if op == "problem":
        new["problems"].append(
            {
                "text": cd["text"],
                "diagnosis": cd["diagnosis"] or None,
                "ipt_problem_area": cd["ipt_problem_area"],
                "asam_dimension": cd["asam_dimension"],
                "goals": [],
            }
        )
    elif op == "goal":
        problem = _find(new["problems"], cd["parent"])
        if problem:
            problem["goals"].append({"text": cd["text"], "objectives": []})
    elif op == "objective":
        goal = _find(goals, cd["parent"])
        if goal:
            goal["objectives"].append(
                {
                    "text": cd["text"],
                    "target_date": cd["target_date"].isoformat(),
                    "measure_code": cd["measure_code"],
                    "target_text": cd["target_text"],
                    "interventions": [],
                }
            )
    elif op == "intervention":
        objective = _find(objectives, cd["parent"])
        if objective:
            objective["interventions"].append(
                {
                    "modality": cd["modality"],
                    "frequency": cd["frequency"],
                    "description": cd["description"],
                    "responsible": cd["responsible"] or None,
                }
            )
    elif op == "medication":
        new["medications"].append(
            {
                "name": cd["name"],
                "dose": cd["dose"],
                "indication": cd["indication"],
                "prescriber": cd["prescriber"] or None,
                "outside_prescriber": cd["outside_prescriber"],
                "start_date": cd["start_date"].isoformat() if cd["start_date"] else None,
                "stop_date": cd["stop_date"].isoformat() if cd["stop_date"] else None,
            }
        )
    elif op == "remove":
        key = str(cd["key"])

        def keep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r for r in rows if r["key"] != key]

        new["problems"] = keep(new["problems"])
        new["medications"] = keep(new["medications"])
        for p in new["problems"]:
            p["goals"] = keep(p["goals"])
            for g in p["goals"]:
                g["objectives"] = keep(g["objectives"])
                for o in g["objectives"]:
                    o["interventions"] = keep(o["interventions"])
    return new


@login_required
@require_POST
def plan_edit(request: HttpRequest, plan_id: UUID) -> HttpResponse:
    """Add or remove one row of a draft. Bad input: field errors, status 400, nothing saved."""
    actor: User = request.user  # type: ignore[assignment]
    plan = selectors.plan_get(actor=actor, public_id=plan_id, action=Action.UPDATE)
    episode = plan.episode
    op = str(request.POST.get("op", ""))
    if op not in OPS:
        raise NotFound("No such edit.")
    snapshot = selectors.plan_snapshot(plan)
    if op == "remove":
        form: forms.Form = RemoveForm(request.POST)
    else:
        diagnoses = list(Diagnosis.objects.filter(client_id=episode.client_id))
        form = _forms(episode, snapshot, diagnoses, plan.version, request.POST, op)[op]
    status, error = 400, ""
    if form.is_valid():
        try:
            services.plan_update_draft(
                actor=actor,
                plan=plan,
                version=form.cleaned_data["version"],
                content_in=_edited(snapshot, op, form.cleaned_data),
            )
        except DomainError as exc:
            status = exc.status if exc.status != 422 else 400
            error = exc.message
            for path, msgs in exc.field_errors.items():
                name = path.rsplit(".", 1)[-1]
                for m in msgs:
                    form.add_error(name if name in form.fields else None, m)
        else:
            messages.success(request, "Draft saved.")
            return redirect("plans:plan", episode_id=episode.public_id)
    ctx = _context(request, actor, episode, data=request.POST, op=op, action_error=error)
    if op != "remove" and "forms" in ctx:
        ctx["forms"][op] = form
    return render(request, "plans/plan.html", ctx, status=status)


def _act(
    request: HttpRequest, plan_id: UUID, action: Callable[[User, TreatmentPlan], Any], done: str
) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    try:
        action(actor, plan)
    except DomainError as exc:
        ctx = _context(request, actor, plan.episode, action_error=exc.message)
        if exc.field_errors:
            ctx["action_errors"] = [m for msgs in exc.field_errors.values() for m in msgs]
        return render(
            request, "plans/plan.html", ctx, status=exc.status if exc.status != 422 else 400
        )
    messages.success(request, done)
    return redirect("plans:plan", episode_id=plan.episode.public_id)


def _version(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return -1


@login_required
@require_POST
def plan_sign(request: HttpRequest, plan_id: UUID) -> HttpResponse:
    version = _version(request)
    return _act(
        request,
        plan_id,
        lambda a, p: services.plan_sign(actor=a, plan=p, version=version),
        "Plan signed. Its content can no longer change.",
    )


@login_required
@require_POST
def plan_acknowledge(request: HttpRequest, plan_id: UUID) -> HttpResponse:
    version = _version(request)
    return _act(
        request,
        plan_id,
        lambda a, p: services.plan_acknowledge(actor=a, plan=p, version=version),
        "The client's acknowledgement is recorded.",
    )


@login_required
@require_POST
def plan_cosign(request: HttpRequest, plan_id: UUID) -> HttpResponse:
    return _act(request, plan_id, lambda a, p: services.plan_cosign(actor=a, plan=p), "Co-signed.")


@login_required
@require_POST
def suggestion_decide(request: HttpRequest, plan_id: UUID, rule: str) -> HttpResponse:
    form = DecisionForm(request.POST)
    decision = form.cleaned_data["decision"] if form.is_valid() else ""
    note = str(request.POST.get("note", ""))
    return _act(
        request,
        plan_id,
        lambda a, p: services.suggestion_decide(
            actor=a, plan=p, rule_code=rule, decision=decision, note=note
        ),
        "Your decision on the suggestion is recorded.",
    )


@login_required
@require_GET
def plan_diff(request: HttpRequest, plan_id: UUID, other_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    other = selectors.plan_get(actor=actor, public_id=other_id)
    if other.episode_id != plan.episode_id:
        raise NotFound("No such version of this plan.")
    old, new = sorted([plan, other], key=lambda p: p.number)
    snapshots = selectors.plan_snapshots([old, new])
    diff = content.plan_diff(snapshots[old.pk], snapshots[new.pk])
    return render(
        request,
        "plans/diff.html",
        {"old": old, "new": new, "diff": [str(e) for e in diff], "client": plan.episode.client},
    )


@login_required
@require_GET
def plan_print(request: HttpRequest, plan_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    plan = selectors.plan_get(actor=actor, public_id=plan_id)
    return render(
        request,
        "plans/print.html",
        {
            "plan": plan,
            "client": plan.episode.client,
            "content": selectors.plan_snapshot(plan),
            "digest_ok": services.digest_ok(plan),
        },
    )
