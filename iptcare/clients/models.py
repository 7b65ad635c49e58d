"""The clinical record's core: clients, episodes of care, intake assessments and diagnoses.

Writes go through ``services.py`` and reads through ``selectors.py``; nothing here checks access.
"""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from iptcare.access.scope import ResourceScope
from iptcare.clients.choices import (
    ASAM_DIMENSIONS,
    OPEN_EPISODE_STATUSES,
    Arrests,
    AsamRisk,
    DiagnosisKind,
    DiagnosisStatus,
    DischargeReason,
    Employment,
    EpisodeStatus,
    Frequency,
    GenderIdentity,
    LevelOfCare,
    LivingArrangement,
    PriorTreatment,
    ReferralSource,
    Route,
    Sex,
    TedsSubstance,
)
from iptcare.clients.icd10_sud import Severity, SubstanceClass
from iptcare.core.models import Organisation, Program, PublicIdModel

phone_validator = RegexValidator(
    r"^\+?[0-9()\-. ]{7,25}$", "Enter a phone number: digits, spaces, +, -, ( ) and dots."
)
# ICD-10-CM: a letter, a digit, a digit or letter, then optionally a dot and 1-4 characters.
ICD10CM_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
icd10cm_validator = RegexValidator(
    ICD10CM_RE, "Enter an ICD-10-CM code such as F32.1 (a letter, digits, optional dot part)."
)


def _scope(
    row: models.Model, *, organisation: Organisation, program_id: int, client_public_id: object
) -> ResourceScope:
    return ResourceScope(
        organisation_id=organisation.pk,
        organisation_public_id=organisation.public_id,
        program_id=program_id,
        resource_type=row._meta.model_name or "",
        resource_id=str(row.public_id),  # type: ignore[attr-defined]
        client_id=client_public_id,  # type: ignore[arg-type]
    )


class Client(PublicIdModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="clients")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="clients")
    record_number = models.CharField(max_length=30, help_text="Unique within the organisation.")
    legal_given_name = models.CharField(max_length=100)
    legal_family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    pronouns = models.CharField(max_length=40, blank=True)
    date_of_birth = models.DateField()
    sex_assigned_at_birth = models.CharField(max_length=20, choices=Sex.choices, blank=True)
    gender_identity = models.CharField(max_length=30, choices=GenderIdentity.choices, blank=True)
    preferred_language = models.CharField(max_length=60, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=25, blank=True, validators=[phone_validator])
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=60, blank=True)
    postal_code = models.CharField(max_length=12, blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = models.CharField(
        max_length=25, blank=True, validators=[phone_validator]
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["legal_family_name", "legal_given_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "record_number"], name="client_record_number_unique"
            ),
        ]
        indexes = [
            # Caseload-style lists: one program's clients by name.
            models.Index(fields=["program", "legal_family_name"], name="client_program_name"),
            # Duplicate check and date-of-birth search.
            models.Index(fields=["organisation", "date_of_birth"], name="client_org_dob"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.record_number})"

    def clean(self) -> None:
        if self.date_of_birth and (
            self.date_of_birth > date.today() or self.date_of_birth.year < 1900
        ):
            raise ValidationError({"date_of_birth": "Enter a date of birth in the past."})
        if (
            self.program_id
            and self.organisation_id
            and self.program.organisation_id != self.organisation_id
        ):
            raise ValidationError({"program": "The program belongs to another organisation."})

    @property
    def display_name(self) -> str:
        given = self.preferred_name or self.legal_given_name
        return f"{given} {self.legal_family_name}"

    @property
    def access_scope(self) -> ResourceScope:
        return ResourceScope(
            organisation_id=self.organisation_id,
            organisation_public_id=self.organisation.public_id,
            program_id=self.program_id,
            resource_type="client",
            resource_id=str(self.public_id),
            client_id=self.public_id,
        )


class Episode(PublicIdModel):
    """An episode of care in one program: referred → admitted → discharged (or cancelled)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="episodes"
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="episodes")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="episodes")
    status = models.CharField(
        max_length=20, choices=EpisodeStatus.choices, default=EpisodeStatus.REFERRED
    )
    primary_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="primary_episodes",
    )
    referral_date = models.DateField()
    referral_source = models.CharField(max_length=30, choices=ReferralSource.choices)
    admission_date = models.DateField(null=True, blank=True)
    level_of_care = models.CharField(max_length=4, choices=LevelOfCare.choices, blank=True)
    prior_treatment_episodes = models.PositiveSmallIntegerField(
        choices=PriorTreatment.choices, null=True, blank=True
    )
    employment_status = models.CharField(max_length=30, choices=Employment.choices, blank=True)
    living_arrangement = models.CharField(
        max_length=20, choices=LivingArrangement.choices, blank=True
    )
    arrests_past_30_days = models.PositiveSmallIntegerField(
        choices=Arrests.choices, null=True, blank=True
    )
    discharge_date = models.DateField(null=True, blank=True)
    discharge_reason = models.CharField(max_length=30, choices=DischargeReason.choices, blank=True)
    discharge_note = models.TextField(blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-referral_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "program"],
                condition=Q(status__in=[s.value for s in OPEN_EPISODE_STATUSES]),
                name="episode_one_open_per_program",
            ),
            models.CheckConstraint(
                condition=Q(discharge_date__isnull=True)
                | Q(admission_date__isnull=False, discharge_date__gte=models.F("admission_date")),
                name="episode_discharge_after_admission",
            ),
            models.CheckConstraint(
                condition=~Q(status=EpisodeStatus.DISCHARGED)
                | (Q(discharge_date__isnull=False) & ~Q(discharge_reason="")),
                name="episode_discharged_has_date_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(status__in=EpisodeStatus.values), name="episode_known_status"
            ),
        ]
        indexes = [
            # The caseload: "my open episodes".
            models.Index(fields=["primary_clinician", "status"], name="episode_clinician_status"),
            models.Index(fields=["program", "status"], name="episode_program_status"),
        ]

    def __str__(self) -> str:
        return f"Episode {self.public_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_EPISODE_STATUSES

    @property
    def access_scope(self) -> ResourceScope:
        return _scope(
            self,
            organisation=self.organisation,
            program_id=self.program_id,
            client_public_id=self.client.public_id,
        )


class EpisodeSubstance(models.Model):
    """TEDS primary (1), secondary (2) and tertiary (3) substance at admission."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="substances")
    rank = models.PositiveSmallIntegerField(
        choices=[(1, "Primary"), (2, "Secondary"), (3, "Tertiary")]
    )
    substance = models.CharField(max_length=30, choices=TedsSubstance.choices)
    route = models.CharField(max_length=20, choices=Route.choices)
    frequency = models.CharField(max_length=20, choices=Frequency.choices)
    age_of_first_use = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )

    class Meta:
        ordering = ["episode_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "rank"], name="episode_substance_rank"),
            models.CheckConstraint(
                condition=Q(rank__gte=1, rank__lte=3), name="episode_substance_rank_1_3"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rank}: {self.substance}"


class SudAssessment(PublicIdModel):
    """A DSM-5 substance use disorder checklist for one substance class in one episode."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="sud_assessments")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="sud_assessments")
    substance_class = models.CharField(max_length=20, choices=SubstanceClass.choices)
    larger_amounts = models.BooleanField(default=False)
    cut_down = models.BooleanField(default=False)
    time_spent = models.BooleanField(default=False)
    craving = models.BooleanField(default=False)
    role_failure = models.BooleanField(default=False)
    social_problems = models.BooleanField(default=False)
    activities_given_up = models.BooleanField(default=False)
    hazardous_use = models.BooleanField(default=False)
    physical_psychological_problems = models.BooleanField(default=False)
    tolerance = models.BooleanField(default=False)
    withdrawal = models.BooleanField(default=False)
    taken_as_prescribed = models.BooleanField(
        default=False,
        help_text="Taken only as prescribed, under medical supervision: tolerance and withdrawal "
        "do not count (DSM-5).",
    )
    # Computed by the service from the answers (dsm5.py); stored for lists and reports.
    criteria_count = models.PositiveSmallIntegerField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    proposed_code = models.CharField(max_length=10, blank=True)
    notes = models.TextField(blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assessed_at = models.DateTimeField()

    class Meta:
        ordering = ["-assessed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(criteria_count__lte=11), name="sud_assessment_count_le_11"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.substance_class} {self.severity}"

    @property
    def access_scope(self) -> ResourceScope:
        return _scope(
            self,
            organisation=self.organisation,
            program_id=self.episode.program_id,
            client_public_id=self.client.public_id,
        )


class Diagnosis(PublicIdModel):
    """A confirmed ICD-10-CM diagnosis. Never deleted: errors are marked entered in error."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="diagnoses")
    episode = models.ForeignKey(
        Episode, on_delete=models.PROTECT, related_name="diagnoses", null=True, blank=True
    )
    code = models.CharField(max_length=10, validators=[icd10cm_validator])
    description = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=DiagnosisKind.choices)
    source_assessment = models.ForeignKey(
        SudAssessment, on_delete=models.PROTECT, null=True, blank=True, related_name="diagnoses"
    )
    proposed_code = models.CharField(
        max_length=10, blank=True, help_text="What the assessment proposed, if overridden."
    )
    override_reason = models.CharField(max_length=500, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=DiagnosisStatus.choices, default=DiagnosisStatus.ACTIVE
    )
    entered_in_error = models.BooleanField(default=False)
    entered_in_error_reason = models.CharField(max_length=500, blank=True)
    entered_in_error_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-confirmed_at", "-id"]
        verbose_name_plural = "diagnoses"
        constraints = [
            models.CheckConstraint(
                condition=Q(entered_in_error=False) | ~Q(entered_in_error_reason=""),
                name="diagnosis_error_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["client", "status"], name="diagnosis_client_status")]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"

    def clean(self) -> None:
        self.code = (self.code or "").strip().upper()
        if self.kind == DiagnosisKind.SUBSTANCE_USE and self.source_assessment_id is None:
            raise ValidationError({"kind": "A substance use diagnosis comes from an assessment."})

    @property
    def access_scope(self) -> ResourceScope:
        program_id = self.episode.program_id if self.episode else self.client.program_id
        return _scope(
            self,
            organisation=self.organisation,
            program_id=program_id,
            client_public_id=self.client.public_id,
        )


def _risk() -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        choices=AsamRisk.choices, validators=[MinValueValidator(0), MaxValueValidator(4)]
    )


class AsamAssessment(PublicIdModel):
    """ASAM multidimensional assessment; the level of care is the clinician's decision."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="asam_assessments")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="asam_assessments")
    d1_rating = _risk()
    d1_notes = models.TextField(blank=True)
    d2_rating = _risk()
    d2_notes = models.TextField(blank=True)
    d3_rating = _risk()
    d3_notes = models.TextField(blank=True)
    d4_rating = _risk()
    d4_notes = models.TextField(blank=True)
    d5_rating = _risk()
    d5_notes = models.TextField(blank=True)
    d6_rating = _risk()
    d6_notes = models.TextField(blank=True)
    level_of_care = models.CharField(max_length=4, choices=LevelOfCare.choices)
    notes = models.TextField(blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assessed_at = models.DateTimeField()

    class Meta:
        ordering = ["-assessed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    **{f"{prefix}_rating__lte": 4 for prefix, _ in ASAM_DIMENSIONS},
                ),
                name="asam_ratings_0_4",
            ),
        ]

    def __str__(self) -> str:
        return f"ASAM {self.level_of_care}"

    @property
    def dimensions(self) -> list[tuple[str, int, str]]:
        """(label, rating, notes) per dimension, for display."""
        return [
            (label, getattr(self, f"{prefix}_rating"), getattr(self, f"{prefix}_notes"))
            for prefix, label in ASAM_DIMENSIONS
        ]

    @property
    def access_scope(self) -> ResourceScope:
        return _scope(
            self,
            organisation=self.organisation,
            program_id=self.episode.program_id,
            client_public_id=self.client.public_id,
        )


class RecordRevision(models.Model):
    """The state of a clinical row before each change: the record's history (invariant 4).

    Kept apart from the audit trail so that the trail (read by administrators) holds no
    clinical content.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="revisions")
    resource_type = models.CharField(max_length=40)
    resource_id = models.UUIDField()
    version = models.PositiveIntegerField(help_text="The version this snapshot had.")
    snapshot = models.JSONField(encoder=DjangoJSONEncoder)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(
        blank=True,
        help_text="Why the record was changed, in the clinician's words (an attendance "
        "correction's reason): clinical content, so kept here and not in the audit trail.",
    )

    class Meta:
        ordering = ["resource_id", "version"]
        indexes = [models.Index(fields=["resource_id", "version"], name="revision_resource")]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.resource_id} v{self.version}"
