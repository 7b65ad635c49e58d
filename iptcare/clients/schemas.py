"""API schemas: input and output kept apart; every output field is named, none exposed blindly."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from ninja import Field, Schema

from iptcare.clients.choices import (
    AsamRisk,
    DischargeReason,
    Employment,
    Frequency,
    LevelOfCare,
    LivingArrangement,
    ReferralSource,
    Route,
    TedsSubstance,
)
from iptcare.clients.icd10_sud import SubstanceClass
from iptcare.clients.models import AsamAssessment, Client, Diagnosis, Episode, SudAssessment

# --- clients -----------------------------------------------------------------------------------


class ClientOut(Schema):
    id: UUID
    record_number: str
    display_name: str
    legal_given_name: str
    legal_family_name: str
    date_of_birth: date
    program: UUID


class ClientDetailOut(ClientOut):
    preferred_name: str
    pronouns: str
    sex_assigned_at_birth: str
    gender_identity: str
    preferred_language: str
    email: str
    phone: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    emergency_contact_name: str
    emergency_contact_relationship: str
    emergency_contact_phone: str
    version: int


class ClientFields(Schema):
    legal_given_name: str = Field(..., max_length=100)
    legal_family_name: str = Field(..., max_length=100)
    date_of_birth: date
    record_number: str = Field("", max_length=30)
    preferred_name: str = Field("", max_length=100)
    pronouns: str = Field("", max_length=40)
    sex_assigned_at_birth: str = ""
    gender_identity: str = ""
    preferred_language: str = Field("", max_length=60)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=25)
    address_line1: str = Field("", max_length=200)
    address_line2: str = Field("", max_length=200)
    city: str = Field("", max_length=100)
    state: str = Field("", max_length=60)
    postal_code: str = Field("", max_length=12)
    emergency_contact_name: str = Field("", max_length=200)
    emergency_contact_relationship: str = Field("", max_length=60)
    emergency_contact_phone: str = Field("", max_length=25)


class ClientCreateIn(ClientFields):
    program: UUID
    confirm_duplicate: bool = False


class ClientUpdateIn(ClientFields):
    version: int


def client_out(c: Client) -> ClientOut:
    return ClientOut(
        id=c.public_id,
        record_number=c.record_number,
        display_name=c.display_name,
        legal_given_name=c.legal_given_name,
        legal_family_name=c.legal_family_name,
        date_of_birth=c.date_of_birth,
        program=c.program.public_id,
    )


def client_detail_out(c: Client) -> ClientDetailOut:
    base = client_out(c).dict()
    extra = {k: getattr(c, k) for k in ClientDetailOut.model_fields if k not in base}
    return ClientDetailOut(**base, **extra)


# --- episodes ----------------------------------------------------------------------------------


class SubstanceSchema(Schema):
    rank: int = Field(..., ge=1, le=3)
    substance: TedsSubstance
    route: Route
    frequency: Frequency
    age_of_first_use: int | None = Field(None, ge=0, le=100)


class EpisodeOut(Schema):
    id: UUID
    client: UUID
    program: UUID
    status: str
    primary_clinician: UUID | None
    referral_date: date
    referral_source: str
    admission_date: date | None
    level_of_care: str
    prior_treatment_episodes: int | None
    employment_status: str
    living_arrangement: str
    arrests_past_30_days: int | None
    substances: list[SubstanceSchema]
    discharge_date: date | None
    discharge_reason: str
    discharge_note: str
    version: int


class EpisodeReferIn(Schema):
    referral_date: date
    referral_source: ReferralSource
    program: UUID | None = None
    primary_clinician: UUID | None = None


class EpisodeAdmitIn(Schema):
    version: int
    admission_date: date
    level_of_care: LevelOfCare
    substances: list[SubstanceSchema] = Field(default_factory=list, max_length=3)
    prior_treatment_episodes: int | None = Field(None, ge=0, le=5)
    employment_status: Employment | None = None
    living_arrangement: LivingArrangement | None = None
    arrests_past_30_days: int | None = Field(None, ge=0, le=2)
    primary_clinician: UUID | None = None


class EpisodeDischargeIn(Schema):
    version: int
    discharge_date: date
    discharge_reason: DischargeReason | None = None
    discharge_note: str = Field("", max_length=5000)


class EpisodeCancelIn(Schema):
    version: int
    reason: str = Field("", max_length=500)


def episode_out(e: Episode) -> EpisodeOut:
    return EpisodeOut(
        id=e.public_id,
        client=e.client.public_id,
        program=e.program.public_id,
        status=e.status,
        primary_clinician=e.primary_clinician.public_id if e.primary_clinician else None,
        referral_date=e.referral_date,
        referral_source=e.referral_source,
        admission_date=e.admission_date,
        level_of_care=e.level_of_care,
        prior_treatment_episodes=e.prior_treatment_episodes,
        employment_status=e.employment_status,
        living_arrangement=e.living_arrangement,
        arrests_past_30_days=e.arrests_past_30_days,
        substances=[
            SubstanceSchema(
                rank=s.rank,
                substance=TedsSubstance(s.substance),
                route=Route(s.route),
                frequency=Frequency(s.frequency),
                age_of_first_use=s.age_of_first_use,
            )
            for s in e.substances.all()
        ],
        discharge_date=e.discharge_date,
        discharge_reason=e.discharge_reason,
        discharge_note=e.discharge_note,
        version=e.version,
    )


# --- intake ------------------------------------------------------------------------------------


class SudAssessmentIn(Schema):
    substance_class: SubstanceClass
    criteria: dict[str, bool] = Field(
        default_factory=dict, description="DSM-5 criterion name → met (see dsm5.CRITERIA)."
    )
    taken_as_prescribed: bool = False
    notes: str = Field("", max_length=5000)


class SudAssessmentOut(Schema):
    id: UUID
    episode: UUID
    substance_class: str
    criteria: dict[str, bool]
    taken_as_prescribed: bool
    criteria_count: int
    severity: str
    proposed_code: str
    proposed_code_source: str  # where the proposal comes from; empty below the threshold
    assessed_at: datetime


def sud_assessment_out(a: SudAssessment) -> SudAssessmentOut:
    from iptcare.clients.dsm5 import CRITERION_FIELDS
    from iptcare.clients.icd10_sud import CODE_SOURCE

    return SudAssessmentOut(
        id=a.public_id,
        episode=a.episode.public_id,
        substance_class=a.substance_class,
        criteria={name: getattr(a, name) for name in CRITERION_FIELDS},
        taken_as_prescribed=a.taken_as_prescribed,
        criteria_count=a.criteria_count,
        severity=a.severity,
        proposed_code=a.proposed_code,
        proposed_code_source=CODE_SOURCE if a.proposed_code else "",
        assessed_at=a.assessed_at,
    )


class DiagnosisConfirmIn(Schema):
    code: str = Field("", max_length=10)
    description: str = Field("", max_length=300)
    override_reason: str = Field("", max_length=500)


class DiagnosisIn(Schema):
    code: str = Field(..., max_length=10)
    description: str = Field(..., max_length=300)
    episode: UUID | None = None


class EnteredInErrorIn(Schema):
    version: int
    reason: str = Field(..., max_length=500)


class DiagnosisOut(Schema):
    id: UUID
    client: UUID
    episode: UUID | None
    code: str
    description: str
    kind: str
    source_assessment: UUID | None
    proposed_code: str
    override_reason: str
    confirmed_at: datetime
    status: str
    entered_in_error: bool
    entered_in_error_reason: str
    version: int


def diagnosis_out(d: Diagnosis, *, client: Client) -> DiagnosisOut:
    return DiagnosisOut(
        id=d.public_id,
        client=client.public_id,
        episode=d.episode.public_id if d.episode else None,
        code=d.code,
        description=d.description,
        kind=d.kind,
        source_assessment=d.source_assessment.public_id if d.source_assessment else None,
        proposed_code=d.proposed_code,
        override_reason=d.override_reason,
        confirmed_at=d.confirmed_at,
        status=d.status,
        entered_in_error=d.entered_in_error,
        entered_in_error_reason=d.entered_in_error_reason,
        version=d.version,
    )


class AsamDimensionIn(Schema):
    rating: AsamRisk
    notes: str = Field("", max_length=5000)


class AsamAssessmentIn(Schema):
    d1: AsamDimensionIn
    d2: AsamDimensionIn
    d3: AsamDimensionIn
    d4: AsamDimensionIn
    d5: AsamDimensionIn
    d6: AsamDimensionIn
    level_of_care: LevelOfCare
    notes: str = Field("", max_length=5000)


class AsamAssessmentOut(Schema):
    id: UUID
    episode: UUID
    ratings: dict[str, int]
    dimension_notes: dict[str, str]
    level_of_care: str
    notes: str
    assessed_at: datetime


def asam_out(a: AsamAssessment, *, episode: Episode) -> AsamAssessmentOut:
    dimensions = ("d1", "d2", "d3", "d4", "d5", "d6")
    return AsamAssessmentOut(
        id=a.public_id,
        episode=episode.public_id,
        ratings={p: getattr(a, f"{p}_rating") for p in dimensions},
        dimension_notes={p: getattr(a, f"{p}_notes") for p in dimensions},
        level_of_care=a.level_of_care,
        notes=a.notes,
        assessed_at=a.assessed_at,
    )
