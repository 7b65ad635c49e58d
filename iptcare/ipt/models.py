"""IPT's own record: interpersonal inventory (kept as revisions), formulation and problem areas,
treatment contract, phase boundaries and overrides, conclusion plan.

Sources for the IPT facts used here are listed in DOMAIN.md §1:
https://interpersonalpsychotherapy.org/ipt-basics/key-ipt-strategies (time-limited, contract) and
https://www.iptuk.net/stages-of-ipt.html (phases, inventory, problem areas).

Nothing clinical is ever edited in place: each change is a new revision or version row, so that the
history of the inventory, the formulation, the contract and the conclusion plan is kept. Writes go
through ``services.py``; nothing here checks access.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from iptcare.access.scope import ResourceScope
from iptcare.clients.models import Episode
from iptcare.core.models import Program

# Contract length (DOMAIN §1: classically 12-16 sessions; brief 8-session formats exist).
DEFAULT_CONTRACT_SESSIONS = 16
MIN_CONTRACT_SESSIONS = 8
MAX_CONTRACT_SESSIONS = 20
MAX_ACTIVE_PROBLEM_AREAS = 2  # "usually one, at most two, are chosen" (DOMAIN §1)


class Ring(models.TextChoices):
    """Closeness circle rings, inner = closest (DOMAIN §1, closeness circle)."""

    INNER = "inner", "Inner ring (closest)"
    MIDDLE = "middle", "Middle ring"
    OUTER = "outer", "Outer ring"


RING_ORDER = {Ring.INNER.value: 0, Ring.MIDDLE.value: 1, Ring.OUTER.value: 2}


class ContactFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    RARELY = "rarely", "Less than monthly"
    NONE = "none", "No contact now"


class Answer(models.TextChoices):
    YES = "yes", "Yes"
    PARTLY = "partly", "Partly"
    NO = "no", "No"
    UNKNOWN = "unknown", "Not known"


class ProblemAreaKind(models.TextChoices):
    GRIEF = "grief", "Grief"
    ROLE_DISPUTE = "role_dispute", "Role dispute"
    ROLE_TRANSITION = "role_transition", "Role transition"
    INTERPERSONAL_DEFICITS = "interpersonal_deficits", "Interpersonal deficits / sensitivity"


class DisputeStage(models.TextChoices):
    RENEGOTIATION = "renegotiation", "Renegotiation (both still trying)"
    IMPASSE = "impasse", "Impasse (stalled)"
    DISSOLUTION = "dissolution", "Dissolution (ending the relationship)"


class Phase(models.TextChoices):
    INITIAL = "initial", "Initial phase"
    MIDDLE = "middle", "Middle phase"
    TERMINATION = "termination", "Termination (conclusion) phase"


def episode_scope(row: models.Model, episode: Episode) -> ResourceScope:
    """An IPT row is part of its episode's record: the episode's program and client decide."""
    return ResourceScope(
        organisation_id=episode.organisation_id,
        organisation_public_id=episode.organisation.public_id,
        program_id=episode.program_id,
        resource_type=row._meta.model_name or "",
        resource_id=str(getattr(row, "public_id", "")),
        client_id=episode.client.public_id,
    )


class AppendOnly(models.Model):
    """Rows that are written once: a later version is a new row, never an update."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError(f"{self._meta.verbose_name} rows are never changed in place.")
        super().save(*args, **kwargs)


class InventoryRevision(AppendOnly):
    """One revision of an episode's interpersonal inventory (number 1 is the first)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="ipt_revisions")
    number = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["episode_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "number"], name="ipt_revision_number"),
        ]

    def __str__(self) -> str:
        return f"Inventory revision {self.number}"

    @property
    def access_scope(self) -> ResourceScope:
        return episode_scope(self, self.episode)


class InventoryPerson(AppendOnly):
    """A person of one inventory revision. ``person_key`` is stable across revisions."""

    revision = models.ForeignKey(InventoryRevision, on_delete=models.PROTECT, related_name="people")
    person_key = models.UUIDField(default=uuid.uuid4)
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField("Name or alias", max_length=80)
    relation = models.CharField(max_length=80, help_text="e.g. sister, partner, co-worker")
    ring = models.CharField(max_length=10, choices=Ring.choices)
    contact_frequency = models.CharField(
        max_length=10, choices=ContactFrequency.choices, default=ContactFrequency.WEEKLY
    )
    satisfying = models.TextField("What is satisfying", blank=True)
    unsatisfying = models.TextField("What is unsatisfying", blank=True)
    expectations = models.TextField("Expectations", blank=True)
    expectations_met = models.CharField(
        "Expectations met?", max_length=10, choices=Answer.choices, default=Answer.UNKNOWN
    )
    conflicts = models.TextField("Conflicts", blank=True)
    conflicts_resolve = models.CharField(
        "Do conflicts resolve?", max_length=10, choices=Answer.choices, default=Answer.UNKNOWN
    )
    can_discuss = models.TextField("What can be discussed", blank=True)
    cannot_discuss = models.TextField("What cannot be discussed", blank=True)
    knows_about_use = models.CharField(
        "Knows about the client's substance use?",
        max_length=10,
        choices=Answer.choices,
        default=Answer.UNKNOWN,
    )
    uses_with_client = models.BooleanField(
        "Uses substances with or around the client", default=False
    )
    supports_recovery = models.BooleanField("Supports recovery", default=False)
    is_risk = models.BooleanField("Is a risk to recovery", default=False)

    class Meta:
        ordering = ["revision_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["revision", "person_key"], name="ipt_person_once"),
            models.CheckConstraint(condition=Q(ring__in=Ring.values), name="ipt_person_ring"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_conflictual(self) -> bool:
        """A conflict is recorded and is not known to resolve."""
        return bool(self.conflicts.strip()) and self.conflicts_resolve != Answer.YES


class Formulation(AppendOnly):
    """The interpersonal formulation; each edit is a new version."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="ipt_formulations")
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    text = models.TextField(
        "Interpersonal formulation",
        help_text="Link the symptoms and substance use to the chosen problem area.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["episode_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "version"], name="ipt_formulation_version"),
        ]

    def __str__(self) -> str:
        return f"Formulation v{self.version}"


class ProblemArea(models.Model):
    """A chosen problem area. It stays on record when it ends (``ended_at`` is set)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="ipt_problem_areas")
    kind = models.CharField(max_length=30, choices=ProblemAreaKind.choices)
    # Role dispute: with whom (a person of the inventory, or free text).
    dispute_person_key = models.UUIDField(null=True, blank=True)
    dispute_with = models.CharField(max_length=80, blank=True)
    # Role transition: from → to.
    transition_from = models.CharField(max_length=120, blank=True)
    transition_to = models.CharField(max_length=120, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["episode_id", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ProblemAreaKind.values), name="ipt_problem_area_kind"
            ),
        ]
        indexes = [
            # problem_area_add counts an episode's active areas.
            models.Index(fields=["episode", "ended_at"], name="ipt_area_episode_active"),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == ProblemAreaKind.ROLE_DISPUTE:
            if self.dispute_person_key is None and not self.dispute_with.strip():
                errors["dispute_with"] = "Say with whom: a person of the inventory or a name."
        elif self.kind == ProblemAreaKind.ROLE_TRANSITION:
            if not self.transition_from.strip():
                errors["transition_from"] = "Say which role the client is leaving."
            if not self.transition_to.strip():
                errors["transition_to"] = "Say which role the client is entering."
        if errors:
            raise ValidationError(errors)


class DisputeStageEntry(AppendOnly):
    """A dated stage of a role dispute; the stage history is the list of entries."""

    problem_area = models.ForeignKey(
        ProblemArea, on_delete=models.PROTECT, related_name="stage_entries"
    )
    stage = models.CharField(max_length=20, choices=DisputeStage.choices)
    recorded_on = models.DateField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["problem_area_id", "recorded_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=DisputeStage.values), name="ipt_dispute_stage_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} on {self.recorded_on}"


class TreatmentContract(AppendOnly):
    """The agreed number of IPT sessions and dates; each change is a new version."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="ipt_contracts")
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    sessions = models.PositiveSmallIntegerField(
        "Agreed IPT sessions",
        default=DEFAULT_CONTRACT_SESSIONS,
        validators=[
            MinValueValidator(MIN_CONTRACT_SESSIONS),
            MaxValueValidator(MAX_CONTRACT_SESSIONS),
        ],
    )
    start_date = models.DateField()
    planned_end_date = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["episode_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "version"], name="ipt_contract_version"),
            models.CheckConstraint(
                condition=Q(
                    sessions__gte=MIN_CONTRACT_SESSIONS, sessions__lte=MAX_CONTRACT_SESSIONS
                ),
                name="ipt_contract_sessions_range",
            ),
            models.CheckConstraint(
                condition=Q(planned_end_date__gt=models.F("start_date")),
                name="ipt_contract_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"IPT contract v{self.version}: {self.sessions} sessions"

    def clean(self) -> None:
        if self.start_date and self.planned_end_date and self.planned_end_date <= self.start_date:
            raise ValidationError({"planned_end_date": "The planned end comes after the start."})


class PhaseBoundaries(models.Model):
    """A program's phase boundaries. Sources differ (initial = sessions 1-3 or 1-4; termination
    = the last 2-4 sessions; https://www.iptuk.net/stages-of-ipt.html), so each program sets its
    own. Without a row the defaults apply: initial 1-3, termination the last 3."""

    program = models.OneToOneField(
        Program, on_delete=models.PROTECT, related_name="ipt_phase_boundaries"
    )
    initial_sessions = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(6)]
    )
    termination_sessions = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(6)]
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name_plural = "phase boundaries"
        constraints = [
            models.CheckConstraint(
                condition=Q(initial_sessions__gte=1, initial_sessions__lte=6)
                & Q(termination_sessions__gte=1, termination_sessions__lte=6),
                name="ipt_boundaries_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Initial 1-{self.initial_sessions}, termination last {self.termination_sessions}"


class PhaseOverride(models.Model):
    """A clinician's override of the computed phase. Clearing keeps the row (who, when)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="ipt_overrides")
    phase = models.CharField(max_length=20, choices=Phase.choices)
    reason = models.CharField(max_length=500)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now, editable=False)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["episode_id", "set_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["episode"],
                condition=Q(cleared_at__isnull=True),
                name="ipt_one_active_override",
            ),
            models.CheckConstraint(condition=Q(phase__in=Phase.values), name="ipt_override_phase"),
        ]

    def __str__(self) -> str:
        return f"Override to {self.phase}"


class ConclusionPlan(AppendOnly):
    """The plan for ending IPT (DOMAIN §1, termination phase); each edit is a new version."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="ipt_conclusions")
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    gains = models.TextField("Gains made", blank=True)
    depression_warning_signs = models.TextField("Warning signs of depression", blank=True)
    use_warning_signs = models.TextField("Warning signs of a return to use", blank=True)
    continuation_plan = models.TextField("Continuation / maintenance plan", blank=True)
    other_treatment = models.TextField(
        "Another treatment, if not improved", blank=True, help_text="Leave empty if not needed."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["episode_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "version"], name="ipt_conclusion_version"),
        ]

    def __str__(self) -> str:
        return f"Conclusion plan v{self.version}"

    def clean(self) -> None:
        texts = [
            self.gains,
            self.depression_warning_signs,
            self.use_warning_signs,
            self.continuation_plan,
            self.other_treatment,
        ]
        if not any(t.strip() for t in texts):
            raise ValidationError({"gains": "Write at least one part of the plan."})
