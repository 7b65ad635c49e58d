"""Appointments, attendance and group sessions.

Attendance is one ``status`` field on the appointment: it starts ``scheduled`` and moves once, to
attended, late (attended late), no-show or one of the cancellations; recorded attendance (not a
cancellation) may later be corrected, with a reason. Every change goes through
``scheduling.services``; ``version`` guards edits against silent overwrites.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from iptcare.access.scope import ResourceScope
from iptcare.clients.models import Client
from iptcare.core.models import Organisation, Program, PublicIdModel

MIN_DURATION = 5
MAX_DURATION = 480


class AppointmentKind(models.TextChoices):
    INTAKE = "intake", "Intake"
    INDIVIDUAL = "individual", "Individual session"
    GROUP = "group", "Group session"
    FAMILY = "family", "Family session"
    MEDICATION_MANAGEMENT = "medication_management", "Medication management"
    PEER_SUPPORT = "peer_support", "Peer support"
    CASE_MANAGEMENT = "case_management", "Case management"


class Modality(models.TextChoices):
    IPT = "ipt", "Interpersonal psychotherapy (IPT)"
    CBT = "cbt", "Cognitive behavioural therapy (CBT)"
    MI = "mi", "Motivational interviewing (MI)"
    MEDICATION = "medication", "Medication treatment"
    OTHER = "other", "Other"


class AppointmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ATTENDED = "attended", "Attended"
    LATE = "late", "Attended late"
    NO_SHOW = "no_show", "No-show"
    CANCELLED_CLIENT = "cancelled_client", "Cancelled by client"
    CANCELLED_PROGRAM = "cancelled_program", "Cancelled by program"


ATTENDED_STATUSES = frozenset({AppointmentStatus.ATTENDED, AppointmentStatus.LATE})
CANCELLED_STATUSES = frozenset(
    {AppointmentStatus.CANCELLED_CLIENT, AppointmentStatus.CANCELLED_PROGRAM}
)
# What "record attendance" may set; cancellations go through appointment_cancel.
ATTENDANCE_OUTCOMES = frozenset(
    {AppointmentStatus.ATTENDED, AppointmentStatus.LATE, AppointmentStatus.NO_SHOW}
)
# The reason given for correcting recorded attendance; kept in the appointment's history
# (RecordRevision), never in the audit trail.
ATTENDANCE_CORRECTION_REASON_MAX = 300


class GroupSession(PublicIdModel):
    """One meeting of a group; its roster is the group appointments linked to it."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="group_sessions"
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="group_sessions")
    title = models.CharField(max_length=200)
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="facilitated_groups"
    )
    co_facilitators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="co_facilitated_groups", blank=True
    )
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_DURATION), MaxValueValidator(MAX_DURATION)]
    )
    modality = models.CharField(max_length=20, choices=Modality.choices)
    location = models.CharField(max_length=200, blank=True)
    is_telehealth = models.BooleanField(default=False)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=MIN_DURATION, duration_minutes__lte=MAX_DURATION),
                name="group_session_duration_range",
            ),
        ]
        indexes = [
            # A program's groups in a date range (group list, demo checks).
            models.Index(fields=["program", "starts_at"], name="group_program_time"),
        ]

    def __str__(self) -> str:
        return f"{self.title} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def access_scope(self) -> ResourceScope:
        return ResourceScope(
            organisation_id=self.organisation_id,
            organisation_public_id=self.organisation.public_id,
            program_id=self.program_id,
            resource_type="group_session",
            resource_id=str(self.public_id),
        )


class Appointment(PublicIdModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="appointments"
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="appointments")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="appointments")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments"
    )
    kind = models.CharField(max_length=30, choices=AppointmentKind.choices)
    # Empty until known: planned at scheduling or recorded with attendance (then required).
    modality = models.CharField(max_length=20, choices=Modality.choices, blank=True)
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_DURATION), MaxValueValidator(MAX_DURATION)]
    )
    location = models.CharField(max_length=200, blank=True)
    is_telehealth = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.SCHEDULED
    )
    group_session = models.ForeignKey(
        GroupSession,
        on_delete=models.PROTECT,
        related_name="roster",
        null=True,
        blank=True,
    )
    attendance_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    attendance_recorded_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=300, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=MIN_DURATION, duration_minutes__lte=MAX_DURATION),
                name="appointment_duration_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AppointmentStatus.values), name="appointment_known_status"
            ),
            # A group appointment is a roster entry, and only group appointments are.
            models.CheckConstraint(
                condition=Q(kind=AppointmentKind.GROUP, group_session__isnull=False)
                | (~Q(kind=AppointmentKind.GROUP) & Q(group_session__isnull=True)),
                name="appointment_group_has_session",
            ),
            # Attended sessions say what was delivered.
            models.CheckConstraint(
                condition=~Q(status__in=sorted(ATTENDED_STATUSES)) | ~Q(modality=""),
                name="appointment_attended_has_modality",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=sorted(CANCELLED_STATUSES)) | ~Q(cancellation_reason=""),
                name="appointment_cancel_has_reason",
            ),
            models.UniqueConstraint(
                fields=["group_session", "client"],
                condition=Q(group_session__isnull=False),
                name="appointment_one_roster_seat",
            ),
        ]
        indexes = [
            # therapist_week: one clinician's appointments in a 7-day window.
            models.Index(fields=["clinician", "starts_at"], name="appt_clinician_time"),
            # client_timeline_appointments: one client's appointments, newest first.
            models.Index(fields=["client", "starts_at"], name="appt_client_time"),
            # next_appointment_and_last_seen and no_show_runs: per client, by status and time.
            models.Index(fields=["client", "status", "starts_at"], name="appt_client_status_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def is_attended(self) -> bool:
        return self.status in ATTENDED_STATUSES

    @property
    def access_scope(self) -> ResourceScope:
        # The client's current program decides, as for the rest of the client's record.
        return ResourceScope(
            organisation_id=self.organisation_id,
            organisation_public_id=self.organisation.public_id,
            program_id=self.client.program_id,
            resource_type="appointment",
            resource_id=str(self.public_id),
            client_id=self.client.public_id,
        )
