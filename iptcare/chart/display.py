"""The caseload's rows as display-ready values, for ``chart/caseload.html``.

The caseload is the page a clinician opens most, and its rows were most of its rendering time:
Django's template engine resolves ``row.client.public_id`` by trying a dictionary lookup, then
an attribute, on every object along the way, and runs each filter through its own machinery.
Here each cell is computed once, in Python, with the same functions the filters use (the same
text, escaped by the template as before); the template only places plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.template.defaultfilters import floatformat
from django.utils import dateformat, timezone
from django.utils.text import capfirst

from iptcare.chart.selectors import CaseloadRow
from iptcare.core.templatetags.fast_urls import url_for


def _local(value: datetime, tz: Any) -> datetime:
    return value.astimezone(tz) if timezone.is_aware(value) else value


def caseload_cells(rows: Sequence[CaseloadRow]) -> list[dict[str, Any]]:
    tz = timezone.get_current_timezone()
    cells = []
    for row in rows:
        client, episode, ipt = row.client, row.episode, row.ipt
        next_at = row.next_appointment
        cells.append(
            {
                "client_url": url_for(client.public_id, "clients:summary"),
                "name": client.display_name,
                "record_number": client.record_number,
                "program": episode.program.name,
                "status": episode.get_status_display(),
                "since": episode.admission_date.strftime("%Y-%m-%d")
                if episode.admission_date
                else "",
                # The date filter's own formatter: "D" is the localised day name.
                "next": dateformat.format(_local(next_at, tz), "D Y-m-d H:i") if next_at else "—",
                "last_seen": _local(row.last_seen, tz).strftime("%Y-%m-%d")
                if row.last_seen
                else "never",
                "unsigned": row.unsigned_notes,
                "ipt_url": url_for(episode.public_id, "ipt:episode"),
                "ipt": (
                    f"{capfirst(ipt.phase)} · session {ipt.session_n} of {ipt.of_n}"
                    if ipt
                    else "no IPT contract"
                ),
                "ipt_ending": bool(ipt and ipt.termination_prompt),
                "plan_url": url_for(episode.public_id, "plans:plan"),
                "plan_version": row.plan_version,
                "plan_overdue": row.plan_overdue,
                "plan_review": row.plan_review_due.strftime("%Y-%m-%d")
                if row.plan_review_due
                else "",
                "scores_url": url_for(client.public_id, "measures:client"),
                "scores": [
                    {
                        "label": s.label,
                        "total": floatformat(s.total, "-1"),
                        "band": s.band_label,
                        "trend": s.trend,
                        "deteriorated": s.trend == "deteriorated",
                    }
                    for s in row.latest_scores
                ],
                "open_alerts": row.open_alerts,
                "safety_alerts": row.safety_alerts,
                "schedule_url": url_for(episode.public_id, "measures:schedule"),
                "overdue": [d.instrument.upper() for d in row.measures_overdue],
                "due": [d.instrument.upper() for d in row.measures_due],
            }
        )
    return cells
