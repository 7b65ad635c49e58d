"""The integrated treatment plan: one numbered version after another per episode of care.

A version's content — problems → goals (in the client's words) → measurable objectives →
interventions, plus recorded medication treatment — is editable while the version is a draft.
Once signed by a clinician or acknowledged by the client the content is frozen (digest stored);
the version becomes active when it is signed, acknowledged and (for a trainee's signature)
co-signed, and is superseded when a newer version becomes active. Frozen versions are never
changed or deleted: the model refuses here and the database refuses too (triggers.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from iptcare.access.scope import ResourceScope
from iptcare.clients.models import Diagnosis, Episode
from iptcare.core.errors import DomainError
from iptcare.core.models import Program, PublicIdModel

DEFAULT_REVIEW_INTERVAL_DAYS = 30


class PlanImmutable(DomainError):
    status = 409
    title = "Signed plans cannot be changed"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING = "pending", "Frozen: awaiting signature, acknowledgement or co-signature"
    ACTIVE = "active", "Active"
    SUPERSEDED = "superseded", "Superseded"


class AcknowledgementMethod(models.TextChoices):
    IN_PERSON = "in_person", "In person (recorded by staff)"
    PORTAL = "portal", "Client portal"  # recorded by the portal (a later issue)


class IptProblemArea(models.TextChoices):
    """Codes only; the ipt app owns the problem-area details (DOMAIN §1)."""

    GRIEF = "grief", "Grief"
    ROLE_DISPUTE = "role_dispute", "Role dispute"
    ROLE_TRANSITION = "role_transition", "Role transition"
    INTERPERSONAL_DEFICITS = "interpersonal_deficits", "Interpersonal deficits / sensitivity"


class AsamDimension(models.IntegerChoices):
    D1 = 1, "1. Acute intoxication and/or withdrawal potential"
    D2 = 2, "2. Biomedical conditions and complications"
    D3 = 3, "3. Emotional, behavioural or cognitive conditions"
    D4 = 4, "4. Readiness to change"
    D5 = 5, "5. Relapse, continued use or continued problem potential"
    D6 = 6, "6. Recovery/living environment"


class Modality(models.TextChoices):
    IPT = "ipt", "Interpersonal psychotherapy (IPT)"
    CBT = "cbt", "Cognitive behavioural therapy (CBT)"
    MI = "mi", "Motivational interviewing (MI)"
    MOUD = "moud", "Medication for opioid use disorder"
    MAUD = "maud", "Medication for alcohol use disorder"
    CONTINGENCY_MANAGEMENT = "contingency_management", "Contingency management"
    FAMILY = "family", "Family"
    PEER_SUPPORT = "peer_support", "Peer support"
    MUTUAL_HELP = "mutual_help", "Mutual-help groups"
    CASE_MANAGEMENT = "case_management", "Case management"


class MedicationIndication(models.TextChoices):
    OPIOID_USE_DISORDER = "oud", "Opioid use disorder"
    ALCOHOL_USE_DISORDER = "aud", "Alcohol use disorder"
    OTHER = "other", "Other"


class PlanSettings(models.Model):
    """Per-program planning settings (one row per program; absent means the defaults)."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="plan_settings")
    review_interval_days = models.PositiveSmallIntegerField(
        default=DEFAULT_REVIEW_INTERVAL_DAYS,
        validators=[MinValueValidator(7), MaxValueValidator(365)],
        help_text="An active plan is due for review this many days after it became active.",
    )

    class Meta:
        verbose_name_plural = "plan settings"

    def __str__(self) -> str:
        return f"Plan settings of {self.program_id}"


# Columns that never change once a version leaves draft (triggers.py lists the same).
FROZEN_FIELDS = ("episode_id", "number", "created_by_id", "content_digest")
# Columns that, once filled, keep their value.
SET_ONCE_FIELDS = (
    "signed_by_id",
    "signed_at",
    "acknowledged_at",
    "acknowledged_by_id",
    "cosigned_by_id",
    "cosigned_at",
    "activated_at",
)


class TreatmentPlan(PublicIdModel):
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="plans")
    number = models.PositiveIntegerField(help_text="Version number within the episode: 1, 2, …")
    status = models.CharField(max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    # Optimistic lock for draft edits and life-cycle actions.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    content_digest = models.CharField(max_length=64, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_method = models.CharField(
        max_length=12, choices=AcknowledgementMethod.choices, blank=True
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The staff member who recorded the client's acknowledgement.",
    )
    cosign_required = models.BooleanField(default=False)
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    review_due = models.DateField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["episode_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "number"], name="plan_episode_number"),
            models.UniqueConstraint(
                fields=["episode"], condition=Q(status="active"), name="plan_one_active"
            ),
            models.UniqueConstraint(
                fields=["episode"],
                condition=Q(status__in=["draft", "pending"]),
                name="plan_one_open_version",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | ~Q(content_digest=""), name="plan_frozen_has_digest"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["active", "superseded"])
                | Q(
                    signed_at__isnull=False,
                    acknowledged_at__isnull=False,
                    activated_at__isnull=False,
                    review_due__isnull=False,
                ),
                name="plan_active_signed_and_acknowledged",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "pending", "active", "superseded"]),
                name="plan_known_status",
            ),
        ]
        indexes = [
            # plan_review_status_for_clients: active plans of many clients, by due date.
            models.Index(fields=["status", "review_due"], name="plan_status_due"),
        ]

    def __str__(self) -> str:
        return f"Plan v{self.number} ({self.status})"

    @property
    def is_frozen(self) -> bool:
        return self.status != PlanStatus.DRAFT

    @property
    def awaiting_cosign(self) -> bool:
        return self.cosign_required and self.signed_at is not None and self.cosigned_at is None

    @property
    def access_scope(self) -> ResourceScope:
        episode = self.episode
        return ResourceScope(
            organisation_id=episode.organisation_id,
            organisation_public_id=episode.organisation.public_id,
            program_id=episode.program_id,
            resource_type="treatment_plan",
            resource_id=str(self.public_id),
            client_id=episode.client.public_id,
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        """The ORM path refuses to change a frozen version (admin, shell, code)."""
        if self.pk is not None:
            names = [f.removesuffix("_id") for f in (*FROZEN_FIELDS, *SET_ONCE_FIELDS)]
            stored = TreatmentPlan.objects.filter(pk=self.pk).values("status", *names).first()
            if stored is not None and stored["status"] != PlanStatus.DRAFT:
                if stored["status"] == PlanStatus.SUPERSEDED or self.status == PlanStatus.DRAFT:
                    raise PlanImmutable("This plan version is frozen; start a new version.")
                for f in FROZEN_FIELDS:
                    if stored[f.removesuffix("_id")] != getattr(self, f):
                        raise PlanImmutable("This plan version is frozen; start a new version.")
                for f in SET_ONCE_FIELDS:
                    old = stored[f.removesuffix("_id")]
                    if old is not None and old != getattr(self, f):
                        raise PlanImmutable("A recorded signature cannot change.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PlanImmutable("Plan versions are never deleted.")


class PlanRow(models.Model):
    """A row of a version's content. ``key`` is kept across versions so that diffs can match."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="+")
    key = models.UUIDField(default=uuid.uuid4)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._refuse_if_frozen()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self._refuse_if_frozen()
        return super().delete(*args, **kwargs)

    def _refuse_if_frozen(self) -> None:
        status = TreatmentPlan.objects.filter(pk=self.plan_id).values_list("status", flat=True)
        if status.first() not in (None, PlanStatus.DRAFT):
            raise PlanImmutable("This plan version is frozen; start a new version.")


class PlanProblem(PlanRow):
    text = models.TextField()
    diagnosis = models.ForeignKey(
        Diagnosis, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ipt_problem_area = models.CharField(max_length=30, choices=IptProblemArea.choices, blank=True)
    asam_dimension = models.PositiveSmallIntegerField(
        choices=AsamDimension.choices, null=True, blank=True
    )

    class Meta:
        ordering = ["plan_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="plan_problem_key"),
            models.CheckConstraint(
                condition=Q(asam_dimension__isnull=True)
                | Q(asam_dimension__gte=1, asam_dimension__lte=6),
                name="plan_problem_asam_1_6",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:60]


class PlanGoal(PlanRow):
    problem = models.ForeignKey(PlanProblem, on_delete=models.CASCADE, related_name="goals")
    text = models.TextField(help_text="In the client's own words.")

    class Meta:
        ordering = ["plan_id", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "key"], name="plan_goal_key")]

    def __str__(self) -> str:
        return self.text[:60]


class PlanObjective(PlanRow):
    goal = models.ForeignKey(PlanGoal, on_delete=models.CASCADE, related_name="objectives")
    text = models.TextField(help_text="Measurable: what will be different, by when.")
    target_date = models.DateField(null=True, blank=True)
    # Issue 5 links objectives to measures: an instrument code and the target in words.
    measure_code = models.CharField(max_length=40, blank=True)
    target_text = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["plan_id", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["plan", "key"], name="plan_objective_key")]

    def __str__(self) -> str:
        return self.text[:60]


class PlanIntervention(PlanRow):
    objective = models.ForeignKey(
        PlanObjective, on_delete=models.CASCADE, related_name="interventions"
    )
    modality = models.CharField(max_length=30, choices=Modality.choices)
    description = models.TextField(blank=True)
    frequency = models.CharField(max_length=100)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["plan_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="plan_intervention_key")
        ]

    def __str__(self) -> str:
        return f"{self.modality} {self.frequency}"


class PlanMedication(PlanRow):
    """Medication treatment as recorded in the plan — recorded, not prescribed, here."""

    name = models.CharField(max_length=120)
    dose = models.CharField(max_length=120, blank=True)
    indication = models.CharField(max_length=10, choices=MedicationIndication.choices)
    prescriber = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outside_prescriber = models.CharField(
        max_length=200, blank=True, help_text="A prescriber outside the program."
    )
    start_date = models.DateField(null=True, blank=True)
    stop_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["plan_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="plan_medication_key"),
            models.CheckConstraint(
                condition=Q(stop_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(stop_date__gte=models.F("start_date")),
                name="plan_medication_stop_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SuggestionDecisionKind(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"


class SuggestionDecision(models.Model):
    """A clinician's decision on one rule's suggestion for one plan version."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    plan = models.ForeignKey(
        TreatmentPlan, on_delete=models.PROTECT, related_name="suggestion_decisions"
    )
    rule_code = models.CharField(max_length=40)
    decision = models.CharField(max_length=10, choices=SuggestionDecisionKind.choices)
    note = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "rule_code"], name="plan_suggestion_once"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_code}: {self.decision}"
