"""Every write to treatment plans: new version, draft edits, sign, client acknowledgement,
co-signature, activation/supersession, suggestion decisions, program settings.

Shape: keyword-only, the actor first, one ``writing`` block — the access decision, then the
input's validation and the write in one transaction that ends with the write's one audit event
(a bad input, a stale version or a refused transition leaves nothing but one failure event).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Max
from django.utils import timezone

from iptcare.access.policy import Grant, writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.choices import OPEN_EPISODE_STATUSES
from iptcare.clients.models import Diagnosis, Episode
from iptcare.core.errors import Conflict, DomainError, Forbidden, InvalidInput
from iptcare.core.models import Program
from iptcare.plans import content, selectors
from iptcare.plans.measure_targets import target_problems
from iptcare.plans.models import (
    AcknowledgementMethod,
    AsamDimension,
    IptProblemArea,
    MedicationIndication,
    Modality,
    PlanGoal,
    PlanImmutable,
    PlanIntervention,
    PlanMedication,
    PlanObjective,
    PlanProblem,
    PlanSettings,
    PlanStatus,
    SuggestionDecision,
    SuggestionDecisionKind,
    TreatmentPlan,
)
from iptcare.plans.rules import RULES_BY_CODE

CATEGORY = DataCategory.CLINICAL_RECORD
MAX_TEXT = 2000


class InvalidTransition(DomainError):
    status = 409
    title = "Not allowed in the plan's current state"


# --- Parsing and validating content -----------------------------------------------------------


@dataclass
class _Rows:
    problems: list[PlanProblem] = field(default_factory=list)
    goals: list[PlanGoal] = field(default_factory=list)
    objectives: list[PlanObjective] = field(default_factory=list)
    interventions: list[PlanIntervention] = field(default_factory=list)
    medications: list[PlanMedication] = field(default_factory=list)


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _text(
    raw: Mapping[str, Any],
    name: str,
    path: str,
    errs: _Errors,
    *,
    required: bool,
    max_length: int = MAX_TEXT,
) -> str:
    value = raw.get(name)
    value = "" if value is None else str(value).strip()
    if required and not value:
        errs.add(f"{path}.{name}", "This field is required.")
    elif len(value) > max_length:
        errs.add(f"{path}.{name}", f"At most {max_length} characters.")
    return value


def _date(raw: Mapping[str, Any], name: str, path: str, errs: _Errors) -> date | None:
    value = raw.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errs.add(f"{path}.{name}", "Enter a date as YYYY-MM-DD.")
        return None


def _choice(
    raw: Mapping[str, Any],
    name: str,
    path: str,
    errs: _Errors,
    values: Sequence[str],
    *,
    required: bool,
) -> str:
    value = str(raw.get(name) or "")
    if not value:
        if required:
            errs.add(f"{path}.{name}", "This field is required.")
        return ""
    if value not in values:
        errs.add(f"{path}.{name}", f"Choose one of: {', '.join(values)}.")
        return ""
    return value


def _uuid(value: Any, path: str, errs: _Errors) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        errs.add(path, "Not a valid identifier.")
        return None


def _list(raw: Mapping[str, Any], name: str, path: str, errs: _Errors) -> list[Mapping[str, Any]]:
    value = raw.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        errs.add(f"{path}{name}" if not path else f"{path}.{name}", "Expected a list of objects.")
        return []
    return value


class _Keys:
    """Row keys: kept when given (so that diffs match rows across versions), unique per plan."""

    def __init__(self, errs: _Errors) -> None:
        self.seen: set[uuid.UUID] = set()
        self.errs = errs

    def take(self, raw: Mapping[str, Any], path: str) -> uuid.UUID:
        key = _uuid(raw.get("key"), f"{path}.key", self.errs) or uuid.uuid4()
        if key in self.seen:
            self.errs.add(f"{path}.key", "Each row of the plan needs its own key.")
        self.seen.add(key)
        return key


def _staff_in_program(episode: Episode, ids: set[uuid.UUID]) -> dict[uuid.UUID, User]:
    users = (
        User.objects.staff()
        .filter(public_id__in=ids, organisation_id=episode.organisation_id, is_active=True)
        .prefetch_related("programs")
    )
    return {
        u.public_id: u for u in users if any(p.pk == episode.program_id for p in u.programs.all())
    }


def parse_content(
    raw: Mapping[str, Any], *, episode: Episode, plan: TreatmentPlan, lenient: bool = False
) -> _Rows:
    """Validate a snapshot-shaped content dictionary into unsaved rows, or raise InvalidInput
    with field errors keyed by path (``problems.0.goals.1.text``).

    ``lenient`` (copying a version forward) drops links to diagnoses and staff that are no
    longer valid instead of refusing: the new draft then shows them as unassigned."""
    errs = _Errors()
    keys = _Keys(errs)
    if not isinstance(raw, Mapping):
        raise InvalidInput("The plan content is not an object.", field_errors={"content": ["?"]})
    problems_raw = _list(raw, "problems", "", errs)
    medications_raw = _list(raw, "medications", "", errs)

    # Look up every referenced diagnosis and staff member in two queries.
    diag_ids: set[uuid.UUID] = set()
    user_ids: set[uuid.UUID] = set()
    for p in problems_raw:
        d = _uuid(p.get("diagnosis"), "_", _Errors())
        if d:
            diag_ids.add(d)
        for g in p.get("goals") or []:
            for o in (g.get("objectives") or []) if isinstance(g, Mapping) else []:
                for i in (o.get("interventions") or []) if isinstance(o, Mapping) else []:
                    u = (
                        _uuid(i.get("responsible"), "_", _Errors())
                        if isinstance(i, Mapping)
                        else None
                    )
                    if u:
                        user_ids.add(u)
    for m in medications_raw:
        u = _uuid(m.get("prescriber"), "_", _Errors())
        if u:
            user_ids.add(u)
    diagnoses = {
        d.public_id: d
        for d in Diagnosis.objects.filter(
            public_id__in=diag_ids, client_id=episode.client_id, entered_in_error=False
        )
    }
    staff = _staff_in_program(episode, user_ids)
    all_staff = {
        u.public_id: u
        for u in User.objects.staff().filter(
            public_id__in=user_ids, organisation_id=episode.organisation_id, is_active=True
        )
    }

    rows = _Rows()
    asam_values = [str(v) for v in AsamDimension.values]
    for pn, p in enumerate(problems_raw):
        path = f"problems.{pn}"
        diagnosis = None
        d_id = _uuid(p.get("diagnosis"), f"{path}.diagnosis", errs)
        if d_id is not None:
            diagnosis = diagnoses.get(d_id)
            if diagnosis is None and not lenient:
                errs.add(f"{path}.diagnosis", "Choose one of this client's diagnoses.")
        asam = p.get("asam_dimension")
        asam_value = None
        if asam not in (None, ""):
            if str(asam) not in asam_values:
                errs.add(f"{path}.asam_dimension", "Choose an ASAM dimension from 1 to 6.")
            else:
                asam_value = int(asam)
        problem = PlanProblem(
            plan=plan,
            key=keys.take(p, path),
            position=pn,
            text=_text(p, "text", path, errs, required=True),
            diagnosis=diagnosis,
            ipt_problem_area=_choice(
                p, "ipt_problem_area", path, errs, IptProblemArea.values, required=False
            ),
            asam_dimension=asam_value,
        )
        rows.problems.append(problem)
        for gn, g in enumerate(_list(p, "goals", path, errs)):
            gpath = f"{path}.goals.{gn}"
            goal = PlanGoal(
                plan=plan,
                key=keys.take(g, gpath),
                position=gn,
                problem=problem,
                text=_text(g, "text", gpath, errs, required=True),
            )
            rows.goals.append(goal)
            for on, o in enumerate(_list(g, "objectives", gpath, errs)):
                opath = f"{gpath}.objectives.{on}"
                objective = PlanObjective(
                    plan=plan,
                    key=keys.take(o, opath),
                    position=on,
                    goal=goal,
                    text=_text(o, "text", opath, errs, required=True),
                    target_date=_date(o, "target_date", opath, errs),
                    measure_code=_text(
                        o, "measure_code", opath, errs, required=False, max_length=40
                    ),
                    target_text=_text(
                        o, "target_text", opath, errs, required=False, max_length=200
                    ),
                )
                for name, message in target_problems(
                    objective.measure_code, objective.target_text
                ).items():
                    errs.add(f"{opath}.{name}", message)
                rows.objectives.append(objective)
                for inn, i in enumerate(_list(o, "interventions", opath, errs)):
                    ipath = f"{opath}.interventions.{inn}"
                    responsible = None
                    r_id = _uuid(i.get("responsible"), f"{ipath}.responsible", errs)
                    if r_id is not None:
                        responsible = staff.get(r_id)
                        if responsible is None and not lenient:
                            errs.add(
                                f"{ipath}.responsible",
                                "Choose a team member of this organisation and program.",
                            )
                    rows.interventions.append(
                        PlanIntervention(
                            plan=plan,
                            key=keys.take(i, ipath),
                            position=inn,
                            objective=objective,
                            modality=_choice(
                                i, "modality", ipath, errs, Modality.values, required=True
                            ),
                            description=_text(i, "description", ipath, errs, required=False),
                            frequency=_text(
                                i, "frequency", ipath, errs, required=True, max_length=100
                            ),
                            responsible=responsible,
                        )
                    )
    for mn, m in enumerate(medications_raw):
        mpath = f"medications.{mn}"
        prescriber = None
        pr_id = _uuid(m.get("prescriber"), f"{mpath}.prescriber", errs)
        if pr_id is not None:
            prescriber = all_staff.get(pr_id)
            if prescriber is None and not lenient:
                errs.add(f"{mpath}.prescriber", "Choose a prescriber of this organisation.")
        start = _date(m, "start_date", mpath, errs)
        stop = _date(m, "stop_date", mpath, errs)
        if start and stop and stop < start:
            errs.add(f"{mpath}.stop_date", "The stop date cannot be before the start date.")
        rows.medications.append(
            PlanMedication(
                plan=plan,
                key=keys.take(m, mpath),
                position=mn,
                name=_text(m, "name", mpath, errs, required=True, max_length=120),
                dose=_text(m, "dose", mpath, errs, required=False, max_length=120),
                indication=_choice(
                    m, "indication", mpath, errs, MedicationIndication.values, required=True
                ),
                prescriber=prescriber,
                outside_prescriber=_text(
                    m, "outside_prescriber", mpath, errs, required=False, max_length=200
                ),
                start_date=start,
                stop_date=stop,
            )
        )
    if errs.errors:
        raise InvalidInput("Some fields of the plan are invalid.", field_errors=errs.errors)
    return rows


def completeness_errors(snapshot: content.Snapshot) -> dict[str, list[str]]:
    """What a plan needs before it is signed or acknowledged."""
    errs = _Errors()
    if not snapshot["problems"]:
        errs.add("problems", "Add at least one problem.")
    for pn, p in enumerate(snapshot["problems"]):
        if not p["goals"]:
            errs.add(f"problems.{pn}.goals", "Add at least one goal.")
        for gn, g in enumerate(p["goals"]):
            gpath = f"problems.{pn}.goals.{gn}"
            if not g["objectives"]:
                errs.add(f"{gpath}.objectives", "Add at least one measurable objective.")
            for on, o in enumerate(g["objectives"]):
                opath = f"{gpath}.objectives.{on}"
                if not o["target_date"]:
                    errs.add(f"{opath}.target_date", "Set a target date.")
                if not o["interventions"]:
                    errs.add(f"{opath}.interventions", "Add at least one intervention.")
    return errs.errors


def _save_rows(rows: _Rows) -> None:
    PlanProblem.objects.bulk_create(rows.problems)
    for g in rows.goals:
        g.problem_id = g.problem.pk
    PlanGoal.objects.bulk_create(rows.goals)
    for o in rows.objectives:
        o.goal_id = o.goal.pk
    PlanObjective.objects.bulk_create(rows.objectives)
    for i in rows.interventions:
        i.objective_id = i.objective.pk
    PlanIntervention.objects.bulk_create(rows.interventions)
    PlanMedication.objects.bulk_create(rows.medications)


def _delete_rows(plan: TreatmentPlan) -> None:
    for model in (PlanIntervention, PlanObjective, PlanGoal, PlanProblem, PlanMedication):
        model.objects.filter(plan=plan).delete()


# --- Life cycle ---------------------------------------------------------------------------------


def _locked(plan: TreatmentPlan) -> TreatmentPlan:
    locked = (
        TreatmentPlan.objects.select_for_update()
        .select_related("episode__organisation", "episode__client", "episode__program")
        .get(pk=plan.pk)
    )
    return locked


def _check_version(plan: TreatmentPlan, version: int) -> None:
    if plan.version != version:
        raise Conflict(
            "This plan was changed elsewhere since you opened it. Reload it and try again."
        )


def _digest(plan: TreatmentPlan, snapshot: content.Snapshot) -> str:
    return content.content_digest(
        plan=plan.public_id,
        episode=plan.episode.public_id,
        number=plan.number,
        snapshot=snapshot,
    )


def digest_ok(plan: TreatmentPlan) -> bool:
    """Whether a frozen version's content still matches its stored digest."""
    if not plan.is_frozen:
        return True
    return _digest(plan, selectors.plan_snapshot(plan)) == plan.content_digest


def _freeze(plan: TreatmentPlan) -> None:
    """Leave draft: the content must be complete; its digest is stored."""
    snapshot = selectors.plan_snapshot(plan)
    errors = completeness_errors(snapshot)
    if errors:
        raise InvalidInput("The plan is not complete yet.", field_errors=errors)
    if plan.status == PlanStatus.DRAFT:
        plan.content_digest = _digest(plan, snapshot)
        plan.status = PlanStatus.PENDING
    elif _digest(plan, snapshot) != plan.content_digest:
        raise PlanImmutable("The plan's content no longer matches its digest; report it.")


def _activate_if_complete(plan: TreatmentPlan, grant: Grant) -> None:
    """Once signed, acknowledged and (if required) co-signed, the version becomes the active one
    and the one it replaces is superseded — within the same write, which names both."""
    if plan.signed_at is None or plan.acknowledged_at is None:
        return
    if plan.cosign_required and plan.cosigned_at is None:
        return
    now = timezone.now()
    previous = (
        TreatmentPlan.objects.select_for_update()
        .filter(episode_id=plan.episode_id, status=PlanStatus.ACTIVE)
        .exclude(pk=plan.pk)
    )
    for old in previous:
        old.status = PlanStatus.SUPERSEDED
        old.superseded_at = now
        old.save(update_fields=["status", "superseded_at", "updated_at"])
        grant.detail.setdefault("superseded", []).append(str(old.public_id))
    plan.status = PlanStatus.ACTIVE
    plan.activated_at = now
    interval = selectors.review_interval_days(plan.episode.program_id)
    plan.review_due = timezone.localdate() + timedelta(days=interval)


_TRANSITION_FIELDS = [
    "status",
    "content_digest",
    "signed_by",
    "signed_at",
    "acknowledged_at",
    "acknowledgement_method",
    "acknowledged_by",
    "cosign_required",
    "cosigned_by",
    "cosigned_at",
    "activated_at",
    "review_due",
    "version",
    "updated_at",
]


def plan_start_version(*, actor: User, episode: Episode) -> TreatmentPlan:
    """A new draft version: a copy of the active version (keys kept) or, at first, empty."""
    with writing(
        actor, Action.CREATE, episode, CATEGORY, Purpose.TREATMENT, detail={"plan": "new"}
    ) as grant:
        locked_episode = Episode.objects.select_for_update().get(pk=episode.pk)
        if locked_episode.status not in OPEN_EPISODE_STATUSES:
            raise InvalidTransition("Plans are written for open episodes of care.")
        existing = TreatmentPlan.objects.filter(episode=episode)
        if existing.filter(status__in=[PlanStatus.DRAFT, PlanStatus.PENDING]).exists():
            raise InvalidTransition(
                "A new version is already being prepared; finish or review that one."
            )
        active = existing.filter(status=PlanStatus.ACTIVE).first()
        number = (existing.aggregate(n=Max("number"))["n"] or 0) + 1
        plan = TreatmentPlan(episode=episode, number=number, created_by=actor, based_on=active)
        plan.full_clean()
        plan.save()
        if active is not None:
            snapshot = selectors.plan_snapshot(active)
            _save_rows(parse_content(snapshot, episode=episode, plan=plan, lenient=True))
            grant.detail["based_on"] = str(active.public_id)
        grant.detail["number"] = number
        grant.record_as(plan)
    return plan


def plan_update_draft(
    *, actor: User, plan: TreatmentPlan, version: int, content_in: Mapping[str, Any]
) -> TreatmentPlan:
    """Replace a draft's content (problems → goals → objectives → interventions; medications).

    Rows keep the ``key`` they are sent with. A stale ``version`` is a Conflict; a frozen
    version refuses. Bad input raises InvalidInput with field errors and changes nothing.
    """
    with writing(actor, Action.UPDATE, plan, CATEGORY, Purpose.TREATMENT):
        locked = _locked(plan)
        if locked.status != PlanStatus.DRAFT:
            raise PlanImmutable("This plan version is frozen; start a new version to change it.")
        _check_version(locked, version)
        rows = parse_content(content_in, episode=locked.episode, plan=locked)
        _delete_rows(locked)
        _save_rows(rows)
        locked.version += 1
        locked.save(update_fields=["version", "updated_at"])
    return locked


def plan_sign(*, actor: User, plan: TreatmentPlan, version: int) -> TreatmentPlan:
    """The clinician signs; the content freezes. A trainee's signature awaits co-signature."""
    with writing(actor, Action.SIGN, plan, CATEGORY, Purpose.TREATMENT) as grant:
        locked = _locked(plan)
        if locked.status not in (PlanStatus.DRAFT, PlanStatus.PENDING) or locked.signed_at:
            raise InvalidTransition("This plan version is already signed.")
        _check_version(locked, version)
        _freeze(locked)
        locked.signed_by = actor
        locked.signed_at = timezone.now()
        locked.cosign_required = actor.is_trainee
        _activate_if_complete(locked, grant)
        grant.detail["status"] = str(locked.status)
        locked.version += 1
        locked.save(update_fields=_TRANSITION_FIELDS)
    return locked


def plan_acknowledge(
    *,
    actor: User,
    plan: TreatmentPlan,
    version: int,
    method: AcknowledgementMethod | str = AcknowledgementMethod.IN_PERSON,
) -> TreatmentPlan:
    """Record that the client acknowledged this version (staff record in-person
    acknowledgement; the portal records its own later). The content freezes."""
    with writing(actor, Action.UPDATE, plan, CATEGORY, Purpose.TREATMENT) as grant:
        if method != AcknowledgementMethod.IN_PERSON:
            raise InvalidInput(
                "Staff record in-person acknowledgement; the portal records its own.",
                field_errors={"method": ["Only in-person acknowledgement is recorded here."]},
            )
        grant.detail["acknowledgement"] = str(AcknowledgementMethod.IN_PERSON)
        locked = _locked(plan)
        if locked.status not in (PlanStatus.DRAFT, PlanStatus.PENDING) or locked.acknowledged_at:
            raise InvalidTransition("The client's acknowledgement is already recorded.")
        _check_version(locked, version)
        _freeze(locked)
        locked.acknowledged_at = timezone.now()
        locked.acknowledgement_method = AcknowledgementMethod.IN_PERSON
        locked.acknowledged_by = actor
        _activate_if_complete(locked, grant)
        grant.detail["status"] = str(locked.status)
        locked.version += 1
        locked.save(update_fields=_TRANSITION_FIELDS)
    return locked


def plan_cosign(*, actor: User, plan: TreatmentPlan) -> TreatmentPlan:
    """A supervisor co-signs a trainee's signature (supervision is the operations purpose)."""
    with writing(
        actor, Action.SIGN, plan, CATEGORY, Purpose.OPERATIONS, detail={"cosign": True}
    ) as grant:
        locked = _locked(plan)
        if locked.status != PlanStatus.PENDING or not locked.awaiting_cosign:
            raise InvalidTransition("Only a trainee's signed plan awaiting co-signature.")
        if locked.signed_by_id == actor.pk:
            raise Forbidden("You cannot co-sign your own signature.")
        if actor.is_trainee:
            raise Forbidden("A trainee cannot co-sign.")
        _freeze(locked)  # verifies the digest
        locked.cosigned_by = actor
        locked.cosigned_at = timezone.now()
        _activate_if_complete(locked, grant)
        grant.detail["status"] = str(locked.status)
        locked.version += 1
        locked.save(update_fields=_TRANSITION_FIELDS)
    return locked


def suggestion_decide(
    *,
    actor: User,
    plan: TreatmentPlan,
    rule_code: str,
    decision: SuggestionDecisionKind | str,
    note: str = "",
) -> SuggestionDecision:
    """Record the clinician's decision on one suggestion for this (draft) version."""
    with writing(actor, Action.UPDATE, plan, CATEGORY, Purpose.TREATMENT) as grant:
        note = (note or "").strip()
        errors: dict[str, list[str]] = {}
        if rule_code not in RULES_BY_CODE:
            errors["rule_code"] = ["No such suggestion rule."]
        if decision not in SuggestionDecisionKind.values:
            errors["decision"] = ["Choose accepted or dismissed."]
        if len(note) > 500:
            errors["note"] = ["At most 500 characters."]
        if errors:
            raise InvalidInput("The decision is invalid.", field_errors=errors)
        # Codes the input was checked against; never the submitted note.
        grant.detail.update(suggestion=rule_code, decision=str(decision))
        locked = _locked(plan)
        if locked.status != PlanStatus.DRAFT:
            raise InvalidTransition("Suggestions are decided while the plan is a draft.")
        if SuggestionDecision.objects.filter(plan=locked, rule_code=rule_code).exists():
            raise Conflict("This suggestion was already decided for this version.")
        row = SuggestionDecision(
            plan=locked,
            rule_code=rule_code,
            decision=str(decision),
            note=note,
            decided_by=actor,
            decided_at=timezone.now(),
        )
        row.full_clean()
        row.save()
    return row


def plan_settings_update(
    *, actor: User, program: Program, review_interval_days: int
) -> PlanSettings:
    """A program's review interval (organisation management). Inside the settings page's own
    ``writing`` it is decided again and named in that write's one event."""
    with writing(
        actor,
        Action.UPDATE,
        program,
        DataCategory.ORGANISATION,
        Purpose.ADMINISTRATION,
        detail={"of": "plan_settings"},
    ) as grant:
        if not 7 <= review_interval_days <= 365:
            raise InvalidInput(
                "The review interval is out of range.",
                field_errors={"review_interval_days": ["Between 7 and 365 days."]},
            )
        grant.detail["review_interval_days"] = review_interval_days
        row, _ = PlanSettings.objects.select_for_update().get_or_create(program=program)
        row.review_interval_days = review_interval_days
        row.full_clean()
        row.save()
    return row
