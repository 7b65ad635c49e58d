"""Page forms. They check the shape of the input; the rules live in the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.errors import DomainError
from iptcare.core.models import Program
from iptcare.scheduling.models import (
    ATTENDANCE_CORRECTION_REASON_MAX,
    MAX_DURATION,
    MIN_DURATION,
    AppointmentKind,
    AppointmentStatus,
    Modality,
)

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MODALITY_CHOICES = [("", "—"), *Modality.choices]
RECORDABLE = [
    AppointmentStatus.ATTENDED,
    AppointmentStatus.LATE,
    AppointmentStatus.NO_SHOW,
    AppointmentStatus.CANCELLED_CLIENT,
    AppointmentStatus.CANCELLED_PROGRAM,
]


def program_staff(program: Program) -> QuerySet[User]:
    return User.objects.filter(programs=program, is_active=True).order_by("full_name")


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.full_name)


class AppointmentScheduleForm(forms.Form):
    clinician = StaffChoiceField(queryset=User.objects.none())
    kind = forms.ChoiceField(
        choices=[c for c in AppointmentKind.choices if c[0] != AppointmentKind.GROUP]
    )
    modality = forms.ChoiceField(choices=MODALITY_CHOICES, required=False, label="Planned modality")
    starts_at = forms.DateTimeField(label="Starts at", widget=DATETIME_WIDGET)
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=MIN_DURATION, max_value=MAX_DURATION, initial=50
    )
    location = forms.CharField(max_length=200, required=False)
    is_telehealth = forms.BooleanField(required=False, label="Telehealth")

    def __init__(self, *args: Any, client: Client, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = program_staff(client.program)  # type: ignore[attr-defined]


class AttendanceForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(s.value, s.label) for s in RECORDABLE], widget=forms.RadioSelect
    )
    modality = forms.ChoiceField(
        choices=MODALITY_CHOICES,
        required=False,
        label="Modality delivered",
        help_text="Required when the client attended, unless it was planned.",
    )
    cancellation_reason = forms.CharField(
        max_length=300, required=False, help_text="Required for a cancellation."
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class AttendanceCorrectionForm(forms.Form):
    """Correct recorded attendance. Its ids are prefixed: it can share a page with the other."""

    status = forms.ChoiceField(
        label="Correct attendance to",
        choices=[(s.value, s.label) for s in RECORDABLE[:3]],
        widget=forms.RadioSelect,
    )
    modality = forms.ChoiceField(
        choices=MODALITY_CHOICES,
        required=False,
        label="Modality delivered",
        help_text="Leave empty to keep the recorded one.",
    )
    reason = forms.CharField(
        label="Reason for the correction",
        max_length=ATTENDANCE_CORRECTION_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=(
            "What was wrong with the record (e.g. wrong row, sign-in sheet shows attended). "
            "Kept in the appointment's history with the record as it was."
        ),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_correct_%s")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any] | None:
        # The version is hidden, so its own error would not show.
        if "version" in self.errors:
            raise forms.ValidationError("This form is incomplete. Reload the page and try again.")
        return super().clean()


class GroupSessionForm(forms.Form):
    title = forms.CharField(max_length=200)
    facilitator = StaffChoiceField(queryset=User.objects.none())
    starts_at = forms.DateTimeField(label="Starts at", widget=DATETIME_WIDGET)
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=MIN_DURATION, max_value=MAX_DURATION, initial=90
    )
    modality = forms.ChoiceField(choices=Modality.choices)
    location = forms.CharField(max_length=200, required=False)
    is_telehealth = forms.BooleanField(required=False, label="Telehealth")

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["facilitator"].queryset = program_staff(program)  # type: ignore[attr-defined]


class ClientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name} ({obj.record_number})"


class RosterAddForm(forms.Form):
    client = ClientChoiceField(queryset=Client.objects.none(), to_field_name="public_id")

    def __init__(self, *args: Any, clients: QuerySet[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients  # type: ignore[attr-defined]


class GroupAttendanceForm(forms.Form):
    """One status field per scheduled seat, named by the client's public id."""

    modality = forms.ChoiceField(
        choices=MODALITY_CHOICES, required=False, label="Modality delivered (if not planned)"
    )

    def __init__(self, *args: Any, seats: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *((s.value, s.label) for s in RECORDABLE[:3])]
        self.seats = seats
        for seat in seats:
            if seat.status == AppointmentStatus.SCHEDULED:
                self.fields[str(seat.client.public_id)] = forms.ChoiceField(
                    choices=choices,
                    required=False,
                    label=seat.client.display_name,
                    widget=forms.Select(
                        attrs={"aria-label": f"Attendance of {seat.client.display_name}"}
                    ),
                )

    def rows(self) -> list[tuple[Any, forms.BoundField | None]]:
        """(seat, its status field or None once recorded), in roster order."""
        return [
            (
                seat,
                self[str(seat.client.public_id)]
                if str(seat.client.public_id) in self.fields
                else None,
            )
            for seat in self.seats
        ]


def add_domain_errors(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal on the form: field errors where the field exists."""
    if not exc.field_errors:
        form.add_error(None, exc.message)
        return
    for field, errors in exc.field_errors.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)
