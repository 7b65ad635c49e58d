"""``get_<field>_display`` gives Django's labels, and the stored value when it is no choice."""

from __future__ import annotations

from iptcare.scheduling.models import Appointment, AppointmentKind, AppointmentStatus


def test_choice_labels_are_djangos_including_values_that_are_not_choices() -> None:
    appointment = Appointment(kind=AppointmentKind.GROUP, status=AppointmentStatus.NO_SHOW)
    assert appointment.get_kind_display() == AppointmentKind.GROUP.label
    assert appointment.get_status_display() == AppointmentStatus.NO_SHOW.label
    appointment.kind = "not-a-kind"
    assert appointment.get_kind_display() == "not-a-kind"
    appointment.modality = ""
    assert appointment.get_modality_display() == ""
