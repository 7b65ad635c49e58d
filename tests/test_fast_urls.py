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


def test_ymd_filters_render_as_djangos_date_filter_in_any_time_zone() -> None:
    from datetime import UTC, date, datetime

    from django.template import Context, Template
    from django.utils import timezone

    def render(source: str, value: object) -> str:
        return Template("{% load fast_dates %}" + source).render(Context({"v": value}))

    values = [
        date(1990, 5, 17),
        datetime(2026, 3, 1, 23, 30, tzinfo=UTC),  # already 2 March in Auckland
        datetime(2026, 3, 1, 0, 15, tzinfo=UTC),  # still 28 February in New York
        datetime(2026, 3, 1, 9, 5),  # naive: shown as it is
        None,
        "",
    ]
    for zone in ("UTC", "Pacific/Auckland", "America/New_York"):
        with timezone.override(zone):
            for value in values:
                assert render("{{ v|ymd }}", value) == render('{{ v|date:"Y-m-d" }}', value)
                if not isinstance(value, date) or isinstance(value, datetime):
                    assert render("{{ v|ymd_hm }}", value) == render(
                        '{{ v|date:"Y-m-d H:i" }}', value
                    )
    with timezone.override("Pacific/Auckland"):
        assert render("{{ v|ymd_hm }}", values[1]) == "2026-03-02 12:30"
