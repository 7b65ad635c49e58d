"""The progress chart's SVG (pure) and its markers: sessions and IPT phase starts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from iptcare.ipt.phases import Boundaries
from iptcare.measures.chart import BandArea, Marker, Point, progress_svg
from iptcare.measures.markers import phase_markers

D0 = date(2026, 1, 5)


def _svg(**kw: object) -> str:
    args: dict[str, object] = {
        "title": "PHQ-9 over time",
        "points": [Point(D0, 18), Point(D0 + timedelta(days=28), 12), Point(D0 + timedelta(56), 7)],
        "low": 0,
        "high": 27,
        "bands": [BandArea("Minimal", 0, 4), BandArea("Mild", 5, 9), BandArea("Severe", 20, 27)],
        "reliable_change": 6,
    }
    args.update(kw)
    return progress_svg(**args)  # type: ignore[arg-type]


def test_points_bands_baseline_and_reliable_change_band() -> None:
    svg = _svg()
    assert re.findall(r'data-score="([\d.]+)"', svg) == ["18", "12", "7"]
    assert [b for b in re.findall(r'data-band="([^"]+)"', svg)] == ["Minimal", "Mild", "Severe"]
    assert svg.count('class="baseline"') == 1 and svg.count('class="rc-band"') == 1
    # The text equivalent names the baseline and the latest score.
    assert "Baseline 18; latest 7." in svg
    assert '<title id="progress-title">PHQ-9 over time</title>' in svg


def test_lower_scores_sit_lower_on_the_chart() -> None:
    ys = [float(y) for y in re.findall(r'class="score"[^>]*cy="([\d.]+)"', _svg())]
    assert ys[0] < ys[1] < ys[2]  # SVG y grows downwards: 18 is highest, 7 lowest


def test_no_reliable_change_band_without_a_rule() -> None:
    assert 'class="rc-band"' not in _svg(reliable_change=None)


def test_session_ticks_inside_the_scored_period_and_phase_markers() -> None:
    sessions = [D0 - timedelta(days=7), D0 + timedelta(days=7), D0 + timedelta(days=14)]
    svg = _svg(sessions=sessions, markers=[Marker(D0 + timedelta(days=21), "Middle phase")])
    assert re.findall(r'class="session" data-date="([\d-]+)"', svg) == [
        (D0 + timedelta(days=7)).isoformat(),
        (D0 + timedelta(days=14)).isoformat(),
    ]
    assert svg.count('class="marker"') == 1 and ">Middle phase</text>" in svg
    assert "2 attended sessions are marked" in svg


def test_escapes_text() -> None:
    svg = _svg(title="<script>x</script>", bands=[BandArea("A & B", 0, 27)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "A &amp; B" in svg


def _days(n: int) -> list[date]:
    return [D0 + timedelta(days=7 * i) for i in range(n)]


@pytest.mark.parametrize(
    ("attended", "expected"),
    [
        (3, []),
        (4, [("Middle phase", 3)]),
        (13, [("Middle phase", 3)]),
        (14, [("Middle phase", 3), ("Termination (conclusion) phase", 13)]),
    ],
)
def test_phase_markers_at_the_boundaries(attended: int, expected: list[tuple[str, int]]) -> None:
    # 16 sessions, initial 1-3, termination the last 3 (14-16): DOMAIN §1 / ipt.phases defaults.
    markers = phase_markers(_days(attended), 16, Boundaries(3, 3))
    assert [(m.label, _days(16).index(m.when)) for m in markers] == expected


def test_short_contract_has_no_middle_phase() -> None:
    markers = phase_markers(_days(5), 5, Boundaries(3, 3))
    assert [m.label for m in markers] == ["Termination (conclusion) phase"]
