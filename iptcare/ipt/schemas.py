"""API input and output schemas (separate: inputs never carry ids or server-set fields)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from ninja import Schema
from pydantic import Field

from iptcare.ipt.diff import InventoryDiff
from iptcare.ipt.models import (
    Answer,
    ConclusionPlan,
    ContactFrequency,
    DisputeStage,
    Formulation,
    InventoryPerson,
    InventoryRevision,
    Phase,
    PhaseOverride,
    ProblemAreaKind,
    Ring,
    TreatmentContract,
)
from iptcare.ipt.models import ProblemArea as ProblemAreaModel
from iptcare.ipt.phases import Boundaries, PhaseInfo

Text = Field(default="", max_length=4000)


class PersonIn(Schema):
    person_key: UUID | None = Field(
        default=None, description="The key the person had in an earlier revision; empty if new."
    )
    name: str = Field(min_length=1, max_length=80, description="A first name or an alias.")
    relation: str = Field(min_length=1, max_length=80)
    ring: Ring
    contact_frequency: ContactFrequency = ContactFrequency.WEEKLY
    satisfying: str = Text
    unsatisfying: str = Text
    expectations: str = Text
    expectations_met: Answer = Answer.UNKNOWN
    conflicts: str = Text
    conflicts_resolve: Answer = Answer.UNKNOWN
    can_discuss: str = Text
    cannot_discuss: str = Text
    knows_about_use: Answer = Answer.UNKNOWN
    uses_with_client: bool = False
    supports_recovery: bool = False
    is_risk: bool = False


class RevisionIn(Schema):
    based_on: int = Field(ge=0, description="The latest revision number you saw (0: none yet).")
    note: str = Field(default="", max_length=500)
    people: list[PersonIn]


class PersonOut(Schema):
    person_key: UUID
    name: str
    relation: str
    ring: str
    contact_frequency: str
    satisfying: str
    unsatisfying: str
    expectations: str
    expectations_met: str
    conflicts: str
    conflicts_resolve: str
    can_discuss: str
    cannot_discuss: str
    knows_about_use: str
    uses_with_client: bool
    supports_recovery: bool
    is_risk: bool

    @classmethod
    def of(cls, p: InventoryPerson) -> PersonOut:
        return cls(**{name: getattr(p, name) for name in cls.model_fields})


class RevisionOut(Schema):
    id: UUID
    number: int
    note: str
    created_at: datetime
    created_by: UUID
    people: list[PersonOut]

    @classmethod
    def of(cls, r: InventoryRevision, people: list[InventoryPerson]) -> RevisionOut:
        return cls(
            id=r.public_id,
            number=r.number,
            note=r.note,
            created_at=r.created_at,
            created_by=r.created_by.public_id,
            people=[PersonOut.of(p) for p in people],
        )


class RingMoveOut(Schema):
    person_key: UUID
    name: str
    from_ring: str
    to_ring: str


class FlagChangeOut(Schema):
    person_key: UUID
    name: str
    flag: str
    before: bool | str
    after: bool | str


class DiffOut(Schema):
    first: int | None
    latest: int | None
    closer: list[RingMoveOut] = []
    further: list[RingMoveOut] = []
    left: list[str] = []
    new: list[str] = []
    newly_supportive: list[str] = []
    newly_risk: list[str] = []
    substance_changes: list[FlagChangeOut] = []

    @classmethod
    def of(cls, first: int | None, latest: int | None, d: InventoryDiff | None) -> DiffOut:
        if d is None:
            return cls(first=first, latest=latest)
        return cls(
            first=first,
            latest=latest,
            closer=[RingMoveOut(**vars(m)) for m in d.closer],
            further=[RingMoveOut(**vars(m)) for m in d.further],
            left=d.left,
            new=d.new,
            newly_supportive=d.newly_supportive,
            newly_risk=d.newly_risk,
            substance_changes=[FlagChangeOut(**vars(c)) for c in d.substance_changes],
        )


class FormulationIn(Schema):
    text: str = Field(max_length=10000)
    based_on: int = Field(ge=0, description="The version you edited (0: none yet).")


class FormulationVersionOut(Schema):
    version: int
    text: str
    created_at: datetime
    created_by: UUID

    @classmethod
    def of(cls, f: Formulation) -> FormulationVersionOut:
        return cls(
            version=f.version,
            text=f.text,
            created_at=f.created_at,
            created_by=f.created_by.public_id,
        )


class StageOut(Schema):
    stage: str
    recorded_on: date
    note: str


class ProblemAreaOut(Schema):
    id: UUID
    kind: str
    active: bool
    dispute_person_key: UUID | None
    dispute_with: str
    transition_from: str
    transition_to: str
    note: str
    created_at: datetime
    ended_at: datetime | None
    stages: list[StageOut]

    @classmethod
    def of(cls, a: ProblemAreaModel) -> ProblemAreaOut:
        return cls(
            id=a.public_id,
            kind=a.kind,
            active=a.is_active,
            dispute_person_key=a.dispute_person_key,
            dispute_with=a.dispute_with,
            transition_from=a.transition_from,
            transition_to=a.transition_to,
            note=a.note,
            created_at=a.created_at,
            ended_at=a.ended_at,
            stages=[
                StageOut(stage=s.stage, recorded_on=s.recorded_on, note=s.note)
                for s in a.stage_entries.all()
            ],
        )


class FormulationOut(Schema):
    current: FormulationVersionOut | None
    versions: int
    problem_areas: list[ProblemAreaOut]


class ProblemAreaIn(Schema):
    kind: ProblemAreaKind
    dispute_person_key: UUID | None = None
    dispute_with: str = Field(default="", max_length=80)
    stage: DisputeStage | None = None
    stage_on: date | None = None
    transition_from: str = Field(default="", max_length=120)
    transition_to: str = Field(default="", max_length=120)
    note: str = Text


class StageIn(Schema):
    stage: DisputeStage
    recorded_on: date | None = None
    note: str = Field(default="", max_length=500)


class ContractIn(Schema):
    sessions: int = Field(default=16, description="8-20; 16 is usual.")
    start_date: date
    planned_end_date: date | None = None
    based_on: int = Field(ge=0, description="The version you edited (0: none yet).")


class ContractOut(Schema):
    version: int
    sessions: int
    start_date: date
    planned_end_date: date
    created_at: datetime

    @classmethod
    def of(cls, c: TreatmentContract) -> ContractOut:
        return cls(
            version=c.version,
            sessions=c.sessions,
            start_date=c.start_date,
            planned_end_date=c.planned_end_date,
            created_at=c.created_at,
        )


class OverrideIn(Schema):
    phase: Phase
    reason: str = Field(max_length=500)


class OverrideOut(Schema):
    phase: str
    reason: str
    set_at: datetime
    set_by: UUID
    cleared_at: datetime | None

    @classmethod
    def of(cls, o: PhaseOverride) -> OverrideOut:
        return cls(
            phase=o.phase,
            reason=o.reason,
            set_at=o.set_at,
            set_by=o.set_by.public_id,
            cleared_at=o.cleared_at,
        )


class PhaseInfoOut(Schema):
    phase: str
    session_n: int
    of_n: int
    termination_prompt: bool
    overridden: bool
    computed_phase: str


class BoundariesOut(Schema):
    initial_sessions: int
    termination_sessions: int


class PhaseOut(Schema):
    info: PhaseInfoOut | None = Field(description="Empty until a treatment contract is agreed.")
    override: OverrideOut | None
    boundaries: BoundariesOut

    @classmethod
    def of(cls, info: PhaseInfo | None, o: PhaseOverride | None, b: Boundaries) -> PhaseOut:
        return cls(
            info=PhaseInfoOut(**vars(info)) if info else None,
            override=OverrideOut.of(o) if o else None,
            boundaries=BoundariesOut(**vars(b)),
        )


class ConclusionIn(Schema):
    gains: str = Text
    depression_warning_signs: str = Text
    use_warning_signs: str = Text
    continuation_plan: str = Text
    other_treatment: str = Text
    based_on: int = Field(ge=0, description="The version you edited (0: none yet).")


class ConclusionOut(Schema):
    version: int
    gains: str
    depression_warning_signs: str
    use_warning_signs: str
    continuation_plan: str
    other_treatment: str
    created_at: datetime

    @classmethod
    def of(cls, c: ConclusionPlan) -> ConclusionOut:
        return cls(**{name: getattr(c, name) for name in cls.model_fields})
