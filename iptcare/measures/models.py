"""Administrations of instruments, single-use links to complete them, and alerts.

Instrument definitions are data files (``instruments/*.toml``, read by ``engine``), not tables.
An administration stores the answers and everything the engine computed from them, plus the FHIR
QuestionnaireResponse and Observations built from it; it is never edited.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from iptcare.access.scope import ResourceScope
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Organisation, Program, PublicIdModel
from iptcare.measures import schedules


def _client_scope(row: Any, resource_type: str) -> ResourceScope:
    """A row of a client's record is decided by the client's current program, as the rest of
    the record is."""
    return ResourceScope(
        organisation_id=row.organisation_id,
        organisation_public_id=row.organisation.public_id,
        program_id=row.client.program_id,
        resource_type=resource_type,
        resource_id=str(row.public_id),
        client_id=row.client.public_id,
    )


class Mode(models.TextChoices):
    IN_SESSION = "in_session", "In session, with the clinician"
    LINK = "link", "Single-use link"
    PORTAL = "portal", "Client portal"
    KIOSK = "kiosk", "Kiosk (shared tablet)"


class Administration(PublicIdModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="administrations")
    episode = models.ForeignKey(
        Episode, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    instrument = models.CharField(max_length=40)
    instrument_version = models.CharField(max_length=120)
    mode = models.CharField(max_length=20, choices=Mode.choices)
    # The clinician who administered it in session, or who issued the link; null for a client.
    administered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField()
    answers = models.JSONField(default=dict)
    item_scores = models.JSONField(default=dict)
    total = models.FloatField(null=True, blank=True)
    band = models.CharField(max_length=40, blank=True)
    band_label = models.CharField(max_length=120, blank=True)
    subscales = models.JSONField(default=dict)
    flags = models.JSONField(default=list)
    screens = models.JSONField(default=list)
    complete = models.BooleanField()
    missing = models.JSONField(default=list)
    questionnaire_response = models.JSONField(default=dict)
    observations = models.JSONField(default=list)

    class Meta:
        ordering = ["-completed_at"]
        indexes = [
            # A client's series for one instrument, oldest first (progress chart, trend).
            models.Index(fields=["client", "instrument", "completed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.completed_at:%Y-%m-%d}"

    @property
    def access_scope(self) -> ResourceScope:
        return _client_scope(self, "administration")


class MeasureLink(PublicIdModel):
    """A single-use, expiring link that lets a client complete one instrument without signing in.

    Only a hash of the secret is stored; the link itself is shown once (and emailed without any
    clinical content)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="measure_links")
    episode = models.ForeignKey(
        Episode, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    instrument = models.CharField(max_length=40)
    # UNIQUE (measure_link_secret_hash below), looked up by equality only.
    secret_hash = models.CharField(max_length=64)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    administration = models.OneToOneField(
        Administration, on_delete=models.PROTECT, null=True, blank=True, related_name="link"
    )
    sent_to = models.EmailField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A constraint rather than unique=True: on PostgreSQL that also built a second,
            # pattern-matching index, which no query uses and every spent link (a non-HOT
            # UPDATE) wrote a new entry to.
            models.UniqueConstraint(fields=["secret_hash"], name="measure_link_secret_hash"),
        ]

    @property
    def access_scope(self) -> ResourceScope:
        return _client_scope(self, "measure_link")


class AlertKind(models.TextChoices):
    SAFETY = "safety", "Safety"
    DETERIORATION = "deterioration", "Reliable deterioration"
    NOT_ON_TRACK = "not_on_track", "Not on track"
    NO_SHOWS = "no_shows", "Consecutive no-shows"
    UNEXPECTED_POSITIVE = "unexpected_positive", "Unexpected positive screen"
    RETURN_TO_USE = "return_to_use", "Return to use"
    OVERDOSE_RISK = "overdose_risk", "Overdose risk"
    OVERDUE_MEASURE = "overdue_measure", "Measure overdue"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Alert(PublicIdModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="alerts")
    episode = models.ForeignKey(
        Episode, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    immediate = models.BooleanField(default=False, help_text="Safety: needs action now.")
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    # What raised it (an administration, a screen, an appointment series …) and a key that keeps
    # one open alert per cause.
    source_type = models.CharField(max_length=40, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=200)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    raised_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-immediate", "-raised_at"]
        indexes = [
            models.Index(fields=["clinician", "status"]),
            models.Index(fields=["organisation", "program", "status"]),
            models.Index(fields=["client", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "dedupe_key"],
                condition=~models.Q(status="resolved"),
                name="one_unresolved_alert_per_cause",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"

    @property
    def access_scope(self) -> ResourceScope:
        return _client_scope(self, "alert")


class MeasureSchedule(PublicIdModel):
    """One instrument of an episode's measurement schedule (``schedules.ScheduleRule`` stored).

    Saving a schedule writes every row again under the next ``version`` and deactivates the rows
    it replaces, so history is kept and a stale edit is refused (409). An episode with no rows
    follows the program default (``schedules.default_schedule``)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    instrument = models.CharField(max_length=40)
    at_admission = models.BooleanField(default=False)
    every_sessions = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(schedules.MAX_EVERY_SESSIONS)],
        help_text="Every N attended sessions.",
    )
    every_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(schedules.MAX_EVERY_DAYS)],
        help_text="Every N days.",
    )
    at_discharge = models.BooleanField(default=False)
    # Null for a row the system wrote (the demo's copy of the program default).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["episode_id", "-version", "instrument"]
        indexes = [
            # The caseload and the sweep: the active schedules of a set of episodes.
            models.Index(fields=["episode", "active"], name="measure_schedule_episode"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "instrument"],
                condition=models.Q(active=True),
                name="measure_schedule_one_active_per_instrument",
            ),
            models.UniqueConstraint(
                fields=["episode", "version", "instrument"],
                name="measure_schedule_version_instrument",
            ),
            models.CheckConstraint(
                condition=models.Q(at_admission=True)
                | models.Q(at_discharge=True)
                | models.Q(every_sessions__isnull=False)
                | models.Q(every_days__isnull=False),
                name="measure_schedule_has_an_occasion",
            ),
            models.CheckConstraint(
                condition=models.Q(every_sessions__isnull=True) | models.Q(every_sessions__gte=1),
                name="measure_schedule_every_sessions_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(every_days__isnull=True) | models.Q(every_days__gte=1),
                name="measure_schedule_every_days_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} v{self.version}: {self.rule().describe()}"

    def rule(self) -> schedules.ScheduleRule:
        return schedules.ScheduleRule(
            instrument=self.instrument,
            at_admission=self.at_admission,
            every_sessions=self.every_sessions,
            every_days=self.every_days,
            at_discharge=self.at_discharge,
        )


NOT_ON_TRACK_SESSION_RANGE = (2, 52)


class MeasureSettings(models.Model):
    """Per-program measurement settings (one row per program; absent means the deployment
    default, ``IPTCARE_NOT_ON_TRACK_SESSION``)."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, related_name="measure_settings"
    )
    not_on_track_session = models.PositiveSmallIntegerField(
        validators=[
            MinValueValidator(NOT_ON_TRACK_SESSION_RANGE[0]),
            MaxValueValidator(NOT_ON_TRACK_SESSION_RANGE[1]),
        ],
        help_text=(
            "Sessions attended after which a client with no reliable improvement from baseline "
            "raises a 'not on track' alert."
        ),
    )

    class Meta:
        verbose_name_plural = "measure settings"

    def __str__(self) -> str:
        return f"Measure settings of {self.program_id}"
