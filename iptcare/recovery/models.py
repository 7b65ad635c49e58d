"""Drug screens, Timeline Followback days of use and return-to-use events.

Every write goes through ``recovery.services``; reads through ``recovery.selectors``. Nothing is
ever deleted: a changed day of use keeps its earlier state in ``clients.RecordRevision``; a
return-to-use event that later turns out unfounded (a result marked expected, a calendar
correction) is *withdrawn* with a reason, and stays.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from iptcare.access.scope import ResourceScope
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Organisation, Program, PublicIdModel
from iptcare.recovery.substances import Analyte, Substance

MAX_AMOUNT = 100
MAX_NOTE = 2000


class Specimen(models.TextChoices):
    URINE = "urine", "Urine"
    ORAL_FLUID = "oral_fluid", "Oral fluid"
    BREATH = "breath", "Breath (alcohol)"
    BLOOD = "blood", "Blood"
    HAIR = "hair", "Hair"


class ScreenResultValue(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    INVALID = "invalid", "Invalid (adulterated, dilute or failed)"


class ExpectedBy(models.TextChoices):
    """Why a positive result is expected."""

    MEDICATION = "medication", "Prescribed medication recorded in the plan"
    CLINICIAN = "clinician", "Marked expected by a clinician"


class UseDaySource(models.TextChoices):
    SELF_REPORT = "self_report", "Client self-report"
    CLINICIAN_INTERVIEW = "clinician_interview", "Clinician interview (Timeline Followback)"


class ReturnSource(models.TextChoices):
    SCREEN = "screen", "Drug screen"
    CALENDAR = "calendar", "Days-of-use calendar"
    CLINICIAN = "clinician", "Clinician report"


def _client_scope(row: models.Model, client: Client, resource_type: str) -> ResourceScope:
    # The client's current program decides, as for the rest of the client's record.
    return ResourceScope(
        organisation_id=client.organisation_id,
        organisation_public_id=client.organisation.public_id,
        program_id=client.program_id,
        resource_type=resource_type,
        resource_id=str(row.public_id),  # type: ignore[attr-defined]
        client_id=client.public_id,
    )


class DrugScreen(PublicIdModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="drug_screens"
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="drug_screens")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="drug_screens")
    episode = models.ForeignKey(
        Episode, on_delete=models.PROTECT, related_name="drug_screens", null=True, blank=True
    )
    collected_at = models.DateTimeField()
    specimen = models.CharField(max_length=20, choices=Specimen.choices)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True, max_length=MAX_NOTE)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-collected_at", "-id"]
        indexes = [
            # screens_recent and the evidence for return-to-use: one client's screens by time.
            models.Index(fields=["client", "collected_at"], name="screen_client_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_specimen_display()} screen {self.collected_at:%Y-%m-%d}"

    @property
    def access_scope(self) -> ResourceScope:
        return _client_scope(self, self.client, "drug_screen")


class ScreenResult(models.Model):
    """One analyte of a screen's panel."""

    screen = models.ForeignKey(DrugScreen, on_delete=models.PROTECT, related_name="results")
    analyte = models.CharField(max_length=20, choices=Analyte.choices)
    # The TEDS substance the analyte stands for (substances.ANALYTE_SUBSTANCE), for the figures.
    substance = models.CharField(max_length=30, choices=Substance.choices)
    result = models.CharField(max_length=10, choices=ScreenResultValue.choices)
    expected = models.BooleanField(default=False)
    expected_by = models.CharField(max_length=12, choices=ExpectedBy.choices, blank=True)
    expected_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["screen_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["screen", "analyte"], name="screen_result_analyte"),
            # Only a positive can be explained; an explained positive says by what.
            models.CheckConstraint(
                condition=Q(expected=False, expected_by="")
                | Q(expected=True, result="positive") & ~Q(expected_by=""),
                name="screen_result_expected_positive",
            ),
            models.CheckConstraint(
                condition=Q(result__in=ScreenResultValue.values), name="screen_result_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.analyte}: {self.result}{' (expected)' if self.expected else ''}"

    @property
    def is_unexpected_positive(self) -> bool:
        return self.result == ScreenResultValue.POSITIVE and not self.expected


class UseDay(PublicIdModel):
    """One Timeline Followback day for one substance: used or not.

    One row per client, date and substance holds the current answer; each change bumps
    ``version`` and keeps the previous state in ``clients.RecordRevision``.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="use_days")
    date = models.DateField()
    substance = models.CharField(max_length=30, choices=Substance.choices)
    used = models.BooleanField()
    amount = models.CharField(max_length=MAX_AMOUNT, blank=True)
    source = models.CharField(max_length=20, choices=UseDaySource.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["client_id", "date", "substance"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "date", "substance"], name="use_day_one_per_substance"
            ),
            models.CheckConstraint(condition=Q(used=True) | Q(amount=""), name="use_day_amount"),
        ]
        indexes = [
            # tlfb_month and abstinence_summary: one client's days in a date range.
            models.Index(fields=["client", "date"], name="use_day_client_date"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.substance}: {'used' if self.used else 'abstinent'}"

    @property
    def access_scope(self) -> ResourceScope:
        return _client_scope(self, self.client, "use_day")


class ReturnToUseEvent(PublicIdModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="return_to_use_events"
    )
    episode = models.ForeignKey(
        Episode, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    date = models.DateField()
    substance = models.CharField(max_length=30, choices=Substance.choices)
    source = models.CharField(max_length=12, choices=ReturnSource.choices)
    screen = models.ForeignKey(
        DrugScreen, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Known abstinent days immediately before (abstinence.py); None: not known.
    after_abstinent_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(36_500)]
    )
    overdose_risk = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True, max_length=MAX_NOTE)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    withdrawn_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source="screen") | Q(screen__isnull=False),
                name="return_screen_has_screen",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | ~Q(withdrawn_reason=""),
                name="return_withdrawn_has_reason",
            ),
            # One event per screen and substance (a re-run of the service cannot duplicate it).
            models.UniqueConstraint(
                fields=["screen", "substance"],
                condition=Q(screen__isnull=False),
                name="return_one_per_screen_substance",
            ),
        ]
        indexes = [
            # return_to_use_events_since (alerts) and the recovery page: per client, newest.
            models.Index(fields=["client", "created_at"], name="return_client_created"),
            models.Index(fields=["client", "date"], name="return_client_date"),
        ]

    def __str__(self) -> str:
        return f"Return to {self.substance} use {self.date} ({self.source})"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def access_scope(self) -> ResourceScope:
        return _client_scope(self, self.client, "return_to_use_event")
