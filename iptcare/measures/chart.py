"""A progress chart as server-drawn SVG: scores over time on the instrument's range, its severity
bands, the baseline, the reliable-change band around it, and markers (sessions, IPT phases).

Pure: plain data in, SVG text out. Presentation attributes only (the CSP forbids inline style).
The page shows a table with the same numbers as the text equivalent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 34
BAND_FILLS = ("#eef6ee", "#f7f5e6", "#fbefdf", "#f9e4dc", "#f4d9d9", "#efcfcf")


@dataclass(frozen=True)
class Point:
    when: date
    score: float


@dataclass(frozen=True)
class BandArea:
    label: str
    low: float
    high: float


@dataclass(frozen=True)
class Marker:
    when: date
    label: str


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def progress_svg(
    *,
    title: str,
    points: Sequence[Point],
    low: float,
    high: float,
    bands: Sequence[BandArea] = (),
    reliable_change: float | None = None,
    markers: Sequence[Marker] = (),
    sessions: Sequence[date] = (),
    id_prefix: str = "progress",
) -> str:
    """``low``/``high``: the instrument's score range. The baseline is the first point.
    ``markers`` are labelled vertical lines (IPT phases); ``sessions`` are ticks on the time
    axis (attended sessions)."""
    span_y = (high - low) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    days = [p.when for p in points] + [m.when for m in markers]
    if points:  # sessions outside the scored period do not stretch the axis
        sessions = [d for d in sessions if points[0].when <= d <= points[-1].when]
    first, last = (min(days), max(days)) if days else (date.today(), date.today())
    span_x = max((last - first).days, 1)

    def x(when: date) -> float:
        return (
            LEFT + plot_w * ((when - first).days / span_x) if len(points) > 1 else LEFT + plot_w / 2
        )

    def y(score: float) -> float:
        return TOP + plot_h * (1 - (min(max(score, low), high) - low) / span_y)

    baseline = points[0].score if points else None
    desc_parts = [f"{len(points)} scores from {first:%d %b %Y} to {last:%d %b %Y}."]
    if points:
        desc_parts.append(f"Baseline {baseline:g}; latest {points[-1].score:g}.")
    if sessions:
        desc_parts.append(f"{len(sessions)} attended sessions are marked on the time axis.")
    desc_parts += [f"{m.label} from {m.when:%d %b %Y}." for m in markers]
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{title_id} {desc_id}" class="progress-chart">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(" ".join(desc_parts))}</desc>',
    ]
    for i, band in enumerate(bands):
        top, bottom = y(band.high), y(band.low)
        parts.append(
            f'<rect class="band" data-band="{escape(band.label)}" x="{LEFT}" y="{_num(top)}" '
            f'width="{plot_w}" height="{_num(max(bottom - top, 1))}" '
            f'fill="{BAND_FILLS[i % len(BAND_FILLS)]}"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{_num(top + 11)}" font-size="9" '
            f'text-anchor="end" fill="#555">{escape(band.label)}</text>'
        )
    if baseline is not None and reliable_change:
        top, bottom = y(baseline + reliable_change), y(baseline - reliable_change)
        parts.append(
            f'<rect class="rc-band" x="{LEFT}" y="{_num(top)}" width="{plot_w}" '
            f'height="{_num(bottom - top)}" fill="#8aa4bf" fill-opacity="0.18"/>'
        )
    if baseline is not None:
        parts.append(
            f'<line class="baseline" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{_num(y(baseline))}" '
            f'y2="{_num(y(baseline))}" stroke="#1d3b58" stroke-dasharray="5 4"/>'
        )
    for marker in markers:
        mx = x(marker.when)
        parts.append(
            f'<line class="marker" x1="{_num(mx)}" x2="{_num(mx)}" y1="{TOP}" y2="{TOP + plot_h}" '
            f'stroke="#999" stroke-dasharray="2 3"/>'
            # Labels near the right edge run leftwards so that they stay inside the chart.
            + (
                f'<text x="{_num(mx - 2)}" y="{TOP + 9}" font-size="9" fill="#555" '
                'text-anchor="end">'
                if mx > LEFT + plot_w * 0.75
                else f'<text x="{_num(mx + 2)}" y="{TOP + 9}" font-size="9" fill="#555">'
            )
            + f"{escape(marker.label)}</text>"
        )
    for day in sessions:
        sx = x(day)
        parts.append(
            f'<line class="session" data-date="{day.isoformat()}" x1="{_num(sx)}" '
            f'x2="{_num(sx)}" y1="{TOP + plot_h}" y2="{TOP + plot_h - 6}" stroke="#666"/>'
        )
    # Axes and y ticks at the range ends and band edges.
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#333"/>'
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#333"/>'
    )
    for tick in sorted({low, high, *(b.low for b in bands)}):
        parts.append(
            f'<text x="{LEFT - 6}" y="{_num(y(tick) + 3)}" font-size="10" text-anchor="end">'
            f"{tick:g}</text>"
        )
    if points:
        path = " ".join(f"{_num(x(p.when))},{_num(y(p.score))}" for p in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1d3b58" stroke-width="2"/>')
        for p in points:
            parts.append(
                f'<circle class="score" data-score="{p.score:g}" data-date="{p.when.isoformat()}" '
                f'cx="{_num(x(p.when))}" cy="{_num(y(p.score))}" r="4" fill="#1d3b58"/>'
            )
        parts.append(
            f'<text x="{LEFT}" y="{HEIGHT - 10}" font-size="10">{first:%d %b %Y}</text>'
            f'<text x="{LEFT + plot_w}" y="{HEIGHT - 10}" font-size="10" text-anchor="end">'
            f"{last:%d %b %Y}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
