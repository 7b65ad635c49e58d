"""Every write to the IPT record, and a program's phase boundaries.

Shape: keyword-only, the actor first, one ``writing`` block — the access decision, then the
input's validation and the write in one transaction that ends with the write's one audit event
(a bad input or a stale version — ``Conflict`` — leaves nothing but one failure event).

Inventory, formulation, contract and conclusion plan are append-only: a change is a new revision
or version row, so that their history is kept (DESIGN invariant 4).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Max
from django.utils import timezone

from iptcare.access.policy import Grant, writing
from iptcare.access.scope import ResourceScope
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import Episode
from iptcare.core.errors import Conflict, InvalidInput
from iptcare.core.models import Program
from iptcare.ipt.models import (
    MAX_ACTIVE_PROBLEM_AREAS,
    ConclusionPlan,
    DisputeStage,
    DisputeStageEntry,
    Formulation,
    InventoryPerson,
    InventoryRevision,
    Phase,
    PhaseBoundaries,
    PhaseOverride,
    ProblemArea,
    ProblemAreaKind,
    TreatmentContract,
    episode_scope,
)

CATEGORY = DataCategory.CLINICAL_RECORD
PURPOSE = Purpose.TREATMENT
PERSON_FIELDS = (
    "name",
    "relation",
    "ring",
    "contact_frequency",
    "satisfying",
    "unsatisfying",
    "expectations",
    "expectations_met",
    "conflicts",
    "conflicts_resolve",
    "can_discuss",
    "cannot_discuss",
    "knows_about_use",
    "uses_with_client",
    "supports_recovery",
    "is_risk",
)
M = TypeVar("M", bound=models.Model)


class _Row:
    """A row of an episode's IPT record as its write's audit event names it
    (``Grant.record_as``): the row's type and public id, in its episode's scope."""

    def __init__(self, row: models.Model, episode: Episode) -> None:
        self.row, self.episode = row, episode

    @property
    def access_scope(self) -> ResourceScope:
        return episode_scope(self.row, self.episode)


def _name(grant: Grant, row: models.Model, episode: Episode) -> None:
    grant.record_as(_Row(row, episode))


def _errors_of(exc: ValidationError, prefix: str = "") -> dict[str, list[str]]:
    return {
        (f"{prefix}{name}" if name != "__all__" else prefix.rstrip(".") or "non_field_errors"): [
            str(m) for m in messages
        ]
        for name, messages in exc.message_dict.items()
    }


def _full_clean(obj: models.Model, *, exclude: Sequence[str] = (), prefix: str = "") -> None:
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False)
    except ValidationError as exc:
        raise InvalidInput(
            "Some fields are invalid.", field_errors=_errors_of(exc, prefix)
        ) from exc


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise InvalidInput("Some fields are invalid.", field_errors=errors)


def _lock(episode: Episode) -> None:
    """Serialise writes to one episode's IPT record (numbering, active-area count)."""
    Episode.objects.select_for_update().filter(pk=episode.pk).values_list("pk").first()


def _next_number(model: type[M], episode: Episode, based_on: int | None, field: str) -> int:
    current = model.objects.filter(episode=episode).aggregate(n=Max(field))["n"] or 0  # type: ignore[attr-defined]
    if based_on is not None and based_on != current:
        raise Conflict(
            "Someone else changed this since you opened it "
            f"(now at {field} {current}, you edited {based_on}). Reload to see their change."
        )
    return int(current) + 1


# --- Interpersonal inventory ------------------------------------------------------------------


def person_data(person: InventoryPerson) -> dict[str, Any]:
    return {"person_key": person.person_key, **{f: getattr(person, f) for f in PERSON_FIELDS}}


def _person_row(data: Mapping[str, Any], position: int, prefix: str) -> InventoryPerson:
    unknown = set(data) - {"person_key", *PERSON_FIELDS}
    if unknown:
        raise InvalidInput(
            "Unknown fields.", field_errors={f"{prefix}{k}": ["Unknown field."] for k in unknown}
        )
    values = {k: v for k, v in data.items() if k in PERSON_FIELDS and v is not None}
    for text in ("name", "relation"):
        if isinstance(values.get(text), str):
            values[text] = values[text].strip()
    person = InventoryPerson(position=position, **values)
    person.person_key = data.get("person_key") or uuid.uuid4()
    _full_clean(person, exclude=["revision"], prefix=prefix)
    return person


def _new_revision(
    *,
    actor: User,
    episode: Episode,
    build: Callable[[list[dict[str, Any]]], list[tuple[Mapping[str, Any], str]]],
    note: str,
    based_on: int | None,
) -> InventoryRevision:
    """A new inventory revision, as one write (``writing``): ``build`` turns the latest
    revision's people into the new list of (data, error prefix)."""
    with writing(
        actor, Action.CREATE, episode, CATEGORY, PURPOSE, detail={"of": "ipt_inventory"}
    ) as grant:
        _lock(episode)
        number = _next_number(InventoryRevision, episode, based_on, "number")
        latest = InventoryPerson.objects.filter(
            revision__episode=episode, revision__number=number - 1
        ).order_by("position", "id")
        entries = build([person_data(p) for p in latest])
        if not entries:
            _raise_if({"people": ["The inventory needs at least one person."]})
        rows = [_person_row(data, i, prefix) for i, (data, prefix) in enumerate(entries)]
        keys = [row.person_key for row in rows]
        if len(set(keys)) != len(keys):
            _raise_if({"people": ["A person appears twice in this revision."]})
        revision = InventoryRevision(
            episode=episode, number=number, note=note.strip(), created_by=actor
        )
        _full_clean(revision, exclude=["episode", "created_by"])
        revision.save()
        for row in rows:
            row.revision = revision
        InventoryPerson.objects.bulk_create(rows)
        grant.detail.update(number=number, people=len(rows))
        grant.record_as(revision)
    return revision


def inventory_revision_create(
    *,
    actor: User,
    episode: Episode,
    people: Sequence[Mapping[str, Any]],
    note: str = "",
    based_on: int | None = None,
) -> InventoryRevision:
    """A whole new revision. Give a person the ``person_key`` they had to keep tracking them."""
    return _new_revision(
        actor=actor,
        episode=episode,
        build=lambda _: [(p, f"people.{i}.") for i, p in enumerate(people)],
        note=note,
        based_on=based_on,
    )


def inventory_person_save(
    *,
    actor: User,
    episode: Episode,
    data: Mapping[str, Any],
    person_key: UUID | None = None,
    based_on: int | None = None,
    note: str = "",
) -> InventoryRevision:
    """Add a person (no key) or change one: the latest revision is copied into a new one."""

    def build(current: list[dict[str, Any]]) -> list[tuple[Mapping[str, Any], str]]:
        if person_key is None:
            return [(p, "") for p in current] + [({**data, "person_key": None}, "")]
        if not any(p["person_key"] == person_key for p in current):
            _raise_if({"person_key": ["This person is not in the latest revision."]})
        return [
            ({**data, "person_key": person_key} if p["person_key"] == person_key else p, "")
            for p in current
        ]

    default_note = "Person added" if person_key is None else f"{data.get('name', '')} changed"
    return _new_revision(
        actor=actor, episode=episode, build=build, note=note or default_note, based_on=based_on
    )


def inventory_person_remove(
    *,
    actor: User,
    episode: Episode,
    person_key: UUID,
    based_on: int | None = None,
    note: str = "",
) -> InventoryRevision:
    """A new revision without this person (they stay in the earlier revisions)."""

    def build(current: list[dict[str, Any]]) -> list[tuple[Mapping[str, Any], str]]:
        if not any(p["person_key"] == person_key for p in current):
            _raise_if({"person_key": ["This person is not in the latest revision."]})
        return [(p, "") for p in current if p["person_key"] != person_key]

    return _new_revision(
        actor=actor,
        episode=episode,
        build=build,
        note=note or "Person no longer in the inventory",
        based_on=based_on,
    )


# --- Formulation and problem areas ------------------------------------------------------------


def formulation_save(
    *, actor: User, episode: Episode, text: str, based_on: int | None = None
) -> Formulation:
    with writing(
        actor, Action.CREATE, episode, CATEGORY, PURPOSE, detail={"of": "ipt_formulation"}
    ) as grant:
        if not text.strip():
            _raise_if({"text": ["Write the interpersonal formulation."]})
        _lock(episode)
        version = _next_number(Formulation, episode, based_on, "version")
        row = Formulation(episode=episode, version=version, text=text.strip(), created_by=actor)
        _full_clean(row, exclude=["episode", "created_by"])
        row.save()
        grant.detail["version"] = version
        _name(grant, row, episode)
    return row


def problem_area_add(
    *,
    actor: User,
    episode: Episode,
    kind: str,
    dispute_person_key: UUID | None = None,
    dispute_with: str = "",
    stage: str = "",
    stage_on: date | None = None,
    transition_from: str = "",
    transition_to: str = "",
    note: str = "",
) -> ProblemArea:
    """Choose a problem area; a third active one is refused (end one first)."""
    with writing(
        actor, Action.CREATE, episode, CATEGORY, PURPOSE, detail={"of": "ipt_problem_area"}
    ) as grant:
        errors: dict[str, list[str]] = {}
        today = timezone.localdate()
        if kind == ProblemAreaKind.ROLE_DISPUTE:
            if stage not in DisputeStage.values:
                errors["stage"] = ["Choose the stage of the dispute."]
            if stage_on is not None and stage_on > today:
                errors["stage_on"] = ["The date cannot be in the future."]
        _lock(episode)
        active = ProblemArea.objects.filter(episode=episode, ended_at__isnull=True).count()
        if active >= MAX_ACTIVE_PROBLEM_AREAS:
            errors["kind"] = [
                f"At most {MAX_ACTIVE_PROBLEM_AREAS} problem areas can be active; end one first."
            ]
        if kind == ProblemAreaKind.ROLE_DISPUTE and dispute_person_key is not None:
            person = (
                InventoryPerson.objects.filter(
                    revision__episode=episode, person_key=dispute_person_key
                )
                .order_by("-revision__number")
                .first()
            )
            if person is None:
                errors["dispute_person_key"] = ["Choose a person of this client's inventory."]
            elif not dispute_with.strip():
                dispute_with = person.name
        is_dispute = kind == ProblemAreaKind.ROLE_DISPUTE
        is_transition = kind == ProblemAreaKind.ROLE_TRANSITION
        area = ProblemArea(
            episode=episode,
            kind=kind,
            dispute_person_key=dispute_person_key if is_dispute else None,
            dispute_with=dispute_with.strip() if is_dispute else "",
            transition_from=transition_from.strip() if is_transition else "",
            transition_to=transition_to.strip() if is_transition else "",
            note=note.strip(),
            created_by=actor,
        )
        try:
            area.full_clean(exclude=["episode", "created_by", "ended_by"])
        except ValidationError as exc:
            errors = {**_errors_of(exc), **errors}
        _raise_if(errors)
        area.save()
        if is_dispute:
            DisputeStageEntry.objects.create(
                problem_area=area, stage=stage, recorded_on=stage_on or today, created_by=actor
            )
            grant.detail["stage"] = stage
        grant.detail["kind"] = kind
        _name(grant, area, episode)
    return area


def problem_area_end(*, actor: User, area: ProblemArea) -> ProblemArea:
    """The area is no longer worked on; it stays on record with who ended it and when."""
    with writing(
        actor, Action.UPDATE, area.episode, CATEGORY, PURPOSE, detail={"of": "ipt_problem_area"}
    ) as grant:
        locked = ProblemArea.objects.select_for_update().get(pk=area.pk)
        if locked.ended_at is not None:
            _raise_if({"non_field_errors": ["This problem area has already ended."]})
        locked.ended_at = timezone.now()
        locked.ended_by = actor
        locked.save(update_fields=["ended_at", "ended_by"])
        _name(grant, locked, area.episode)
    return locked


def dispute_stage_record(
    *,
    actor: User,
    area: ProblemArea,
    stage: str,
    recorded_on: date | None = None,
    note: str = "",
) -> DisputeStageEntry:
    """A dated entry in the stage history of an active role dispute (the event names the
    problem area; an entry has no identifier of its own)."""
    with writing(
        actor, Action.CREATE, area.episode, CATEGORY, PURPOSE, detail={"of": "ipt_dispute_stage"}
    ) as grant:
        errors: dict[str, list[str]] = {}
        if area.kind != ProblemAreaKind.ROLE_DISPUTE:
            errors["non_field_errors"] = ["Only a role dispute has stages."]
        elif not area.is_active:
            errors["non_field_errors"] = ["This problem area has ended."]
        if stage not in DisputeStage.values:
            errors["stage"] = ["Choose the stage of the dispute."]
        day = recorded_on or timezone.localdate()
        if day > timezone.localdate():
            errors["recorded_on"] = ["The date cannot be in the future."]
        _raise_if(errors)
        entry = DisputeStageEntry(
            problem_area=area, stage=stage, recorded_on=day, note=note.strip(), created_by=actor
        )
        _full_clean(entry, exclude=["problem_area", "created_by"])
        entry.save()
        grant.detail["stage"] = stage
        _name(grant, area, area.episode)
    return entry


# --- Contract, phase, conclusion --------------------------------------------------------------


def contract_save(
    *,
    actor: User,
    episode: Episode,
    sessions: int,
    start_date: date,
    planned_end_date: date | None = None,
    based_on: int | None = None,
) -> TreatmentContract:
    """Agree (or change) the treatment contract. Without an end date: weekly sessions."""
    with writing(
        actor, Action.CREATE, episode, CATEGORY, PURPOSE, detail={"of": "ipt_contract"}
    ) as grant:
        if planned_end_date is None:
            planned_end_date = start_date + timedelta(weeks=max(sessions - 1, 1))
        _lock(episode)
        version = _next_number(TreatmentContract, episode, based_on, "version")
        row = TreatmentContract(
            episode=episode,
            version=version,
            sessions=sessions,
            start_date=start_date,
            planned_end_date=planned_end_date,
            created_by=actor,
        )
        _full_clean(row, exclude=["episode", "created_by"])
        row.save()
        grant.detail["version"] = version
        _name(grant, row, episode)
    return row


def phase_override_set(*, actor: User, episode: Episode, phase: str, reason: str) -> PhaseOverride:
    """The clinician's judgement replaces the computed phase until cleared."""
    with writing(
        actor, Action.UPDATE, episode, CATEGORY, PURPOSE, detail={"of": "ipt_phase_override"}
    ) as grant:
        errors: dict[str, list[str]] = {}
        if phase not in Phase.values:
            errors["phase"] = ["Choose a phase."]
        if not reason.strip():
            errors["reason"] = ["Give the reason for the override."]
        _raise_if(errors)
        grant.detail["phase"] = phase
        _lock(episode)
        now = timezone.now()
        PhaseOverride.objects.filter(episode=episode, cleared_at__isnull=True).update(
            cleared_at=now, cleared_by=actor
        )
        row = PhaseOverride(episode=episode, phase=phase, reason=reason.strip(), set_by=actor)
        _full_clean(row, exclude=["episode", "set_by", "cleared_by"])
        row.save()
        _name(grant, row, episode)
    return row


def phase_override_clear(*, actor: User, episode: Episode) -> PhaseOverride:
    with writing(
        actor, Action.UPDATE, episode, CATEGORY, PURPOSE, detail={"of": "ipt_phase_override_clear"}
    ) as grant:
        _lock(episode)
        row = PhaseOverride.objects.filter(episode=episode, cleared_at__isnull=True).first()
        if row is None:
            _raise_if({"non_field_errors": ["There is no override to clear."]})
            raise AssertionError  # unreachable; keeps the type checker sure ``row`` is set
        row.cleared_at = timezone.now()
        row.cleared_by = actor
        row.save(update_fields=["cleared_at", "cleared_by"])
        _name(grant, row, episode)
    return row


CONCLUSION_FIELDS = (
    "gains",
    "depression_warning_signs",
    "use_warning_signs",
    "continuation_plan",
    "other_treatment",
)


def conclusion_plan_save(
    *,
    actor: User,
    episode: Episode,
    gains: str = "",
    depression_warning_signs: str = "",
    use_warning_signs: str = "",
    continuation_plan: str = "",
    other_treatment: str = "",
    based_on: int | None = None,
) -> ConclusionPlan:
    with writing(
        actor, Action.CREATE, episode, CATEGORY, PURPOSE, detail={"of": "ipt_conclusion"}
    ) as grant:
        _lock(episode)
        version = _next_number(ConclusionPlan, episode, based_on, "version")
        row = ConclusionPlan(
            episode=episode,
            version=version,
            gains=gains.strip(),
            depression_warning_signs=depression_warning_signs.strip(),
            use_warning_signs=use_warning_signs.strip(),
            continuation_plan=continuation_plan.strip(),
            other_treatment=other_treatment.strip(),
            created_by=actor,
        )
        _full_clean(row, exclude=["episode", "created_by"])
        row.save()
        grant.detail["version"] = version
        _name(grant, row, episode)
    return row


def phase_boundaries_set(
    *,
    actor: User,
    program: Program,
    initial_sessions: int,
    termination_sessions: int,
    version: int | None = None,
) -> PhaseBoundaries:
    """A program's phase boundaries: program configuration, set by an administrator. Inside the
    settings page's own ``writing`` it is decided again and named in that write's one event."""
    with writing(
        actor,
        Action.UPDATE,
        program,
        DataCategory.ORGANISATION,
        Purpose.ADMINISTRATION,
        detail={"of": "ipt_phase_boundaries"},
    ) as grant:
        row, created = PhaseBoundaries.objects.select_for_update().get_or_create(program=program)
        if not created and version is not None and row.version != version:
            raise Conflict("Someone else changed these boundaries. Reload to see their change.")
        row.initial_sessions = initial_sessions
        row.termination_sessions = termination_sessions
        row.updated_by = actor
        row.version = row.version if created else row.version + 1
        _full_clean(row, exclude=["program", "updated_by"])
        row.save()
        grant.detail.update(
            initial_sessions=initial_sessions, termination_sessions=termination_sessions
        )
    return row
