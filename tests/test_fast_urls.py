from __future__ import annotations

import uuid

from django.urls import reverse

from iptcare.core.templatetags.fast_urls import route, url_for


def test_url_for_matches_reverse() -> None:
    for name in ("clients:summary", "encounters:note", "ipt:episode", "plans:plan"):
        public_id = uuid.uuid4()
        assert url_for(public_id, name) == reverse(name, args=[public_id])
        assert url_for(str(public_id), name) == reverse(name, args=[public_id])


def test_route_matches_reverse_for_routes_without_arguments() -> None:
    for name in ("core:home", "chart:caseload", "accounts:logout", "measures:inbox"):
        assert route(name) == reverse(name)


def test_choice_labels_are_djangos_including_values_that_are_not_choices() -> None:
    from iptcare.scheduling.models import Appointment, AppointmentKind, AppointmentStatus

    appointment = Appointment(kind=AppointmentKind.GROUP, status=AppointmentStatus.NO_SHOW)
    assert appointment.get_kind_display() == AppointmentKind.GROUP.label
    assert appointment.get_status_display() == AppointmentStatus.NO_SHOW.label
    appointment.kind = "not-a-kind"
    assert appointment.get_kind_display() == "not-a-kind"
    appointment.modality = ""
    assert appointment.get_modality_display() == ""
