"""The closeness circle, drawn on the server as an SVG string (pure functions, no JavaScript).

Three concentric rings around the client; each person sits in the ring of their felt closeness
(inner = closest; DOMAIN §1, closeness circle). Markings never rely on colour alone:

- supports recovery: a plus sign beside the person;
- conflict not resolving: the tie to the client is dashed;
- uses substances with or around the client: the person is a square, not a circle;
- a risk to recovery: an exclamation mark beside the person.

The SVG uses presentation attributes only (no ``style``, no script) so that it can be inlined under
the site's Content Security Policy. ``circle_text`` is the text equivalent shown beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

RINGS = ("inner", "middle", "outer")
RING_LABELS = {"inner": "Inner ring (closest)", "middle": "Middle ring", "outer": "Outer ring"}
SIZE = 440
CENTRE = SIZE / 2
CLIENT_RADIUS = 28.0
# Outer edge of each ring's band; a person of a ring sits halfway across its band.
RING_EDGES = {"inner": 90.0, "middle": 150.0, "outer": 210.0}
RING_INNER_EDGES = {"inner": CLIENT_RADIUS, "middle": 90.0, "outer": 150.0}
NODE = 9.0
LEGEND_TOP = SIZE + 10
HEIGHT = SIZE + 120
MARK_WORDS = {
    "supportive": "supports recovery",
    "conflict": "conflict that does not resolve",
    "using": "uses substances with or around the client",
    "risk": "a risk to recovery",
}


class CirclePerson(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def relation(self) -> str: ...
    @property
    def ring(self) -> str: ...
    @property
    def supports_recovery(self) -> bool: ...
    @property
    def is_risk(self) -> bool: ...
    @property
    def uses_with_client(self) -> bool: ...
    @property
    def is_conflictual(self) -> bool: ...


@dataclass(frozen=True)
class RingGroup:
    ring: str
    label: str
    entries: list[str]


def ring_radius(ring: str) -> float:
    return (RING_INNER_EDGES[ring] + RING_EDGES[ring]) / 2


def marks_of(person: CirclePerson) -> list[str]:
    marks = []
    if person.supports_recovery:
        marks.append("supportive")
    if person.is_conflictual:
        marks.append("conflict")
    if person.uses_with_client:
        marks.append("using")
    if person.is_risk:
        marks.append("risk")
    return marks


def describe(person: CirclePerson) -> str:
    words = [MARK_WORDS[m] for m in marks_of(person)]
    relation = f" ({person.relation})" if person.relation else ""
    return f"{person.name}{relation}" + (f": {'; '.join(words)}" if words else "")


def circle_text(people: Sequence[CirclePerson]) -> list[RingGroup]:
    """The accessible text equivalent: everyone once, grouped by ring, markings in words."""
    return [
        RingGroup(ring, RING_LABELS[ring], [describe(p) for p in people if p.ring == ring])
        for ring in RINGS
    ]


def _num(value: float) -> str:
    return f"{value:.1f}"


def _placements(people: Sequence[CirclePerson]) -> list[tuple[CirclePerson, float, float]]:
    placed = []
    for index, ring in enumerate(RINGS):
        members = [p for p in people if p.ring == ring]
        radius = ring_radius(ring)
        # Offset each ring's start so that people of different rings do not line up.
        offset = -math.pi / 2 + index * 0.45
        for i, person in enumerate(members):
            angle = offset + 2 * math.pi * i / len(members)
            placed.append(
                (person, CENTRE + radius * math.cos(angle), CENTRE + radius * math.sin(angle))
            )
    return placed


def _node(marks: list[str], x: float, y: float) -> str:
    if "using" in marks:
        return (
            f'<rect x="{_num(x - NODE)}" y="{_num(y - NODE)}" width="{_num(2 * NODE)}" '
            f'height="{_num(2 * NODE)}" fill="#fde2c8" stroke="#7a3e00" stroke-width="2"/>'
        )
    return (
        f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(NODE)}" fill="#dbe8f5" '
        'stroke="#1d3b58" stroke-width="2"/>'
    )


def _plus(x: float, y: float) -> str:
    return (
        f'<path d="M{_num(x - 5)} {_num(y)}h10M{_num(x)} {_num(y - 5)}v10" '
        'stroke="#1b6e2d" stroke-width="3" fill="none"/>'
    )


def _bang(x: float, y: float) -> str:
    return (
        f'<text x="{_num(x)}" y="{_num(y + 5)}" font-size="16" font-weight="bold" '
        'text-anchor="middle" fill="#a40000">!</text>'
    )


def _tie(marks: list[str], x: float, y: float) -> str:
    dash = ' stroke-dasharray="6 4"' if "conflict" in marks else ""
    colour = "#a40000" if "conflict" in marks else "#8a98a8"
    return (
        f'<line x1="{_num(CENTRE)}" y1="{_num(CENTRE)}" x2="{_num(x)}" y2="{_num(y)}" '
        f'stroke="{colour}" stroke-width="1.5"{dash}/>'
    )


def _short(name: str, limit: int = 16) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _legend() -> str:
    top = LEGEND_TOP
    parts = [
        f'<g class="legend" transform="translate(12 {_num(top)})">',
        '<text x="0" y="0" font-size="13" font-weight="bold" fill="#222">Key</text>',
        _plus(8, 22),
        '<text x="22" y="26" font-size="12" fill="#222">supports recovery</text>',
        '<line x1="200" y1="22" x2="236" y2="22" stroke="#a40000" stroke-width="1.5" '
        'stroke-dasharray="6 4"/>',
        '<text x="244" y="26" font-size="12" fill="#222">conflict that does not resolve</text>',
        '<rect x="0" y="42" width="16" height="16" fill="#fde2c8" stroke="#7a3e00" '
        'stroke-width="2"/>',
        '<text x="22" y="55" font-size="12" fill="#222">uses with or around the client</text>',
        _bang(218, 50),
        '<text x="244" y="55" font-size="12" fill="#222">a risk to recovery</text>',
        '<circle cx="8" cy="80" r="8" fill="#dbe8f5" stroke="#1d3b58" stroke-width="2"/>',
        '<text x="22" y="84" font-size="12" fill="#222">other person</text>',
        "</g>",
    ]
    return "".join(parts)


def circle_svg(
    people: Sequence[CirclePerson], *, title: str = "Closeness circle", id_prefix: str = "circle"
) -> str:
    """An SVG closeness circle; ``id_prefix`` keeps ids unique when two are on one page."""
    groups = circle_text(people)
    counts = ", ".join(f"{len(g.entries)} in the {g.ring} ring" for g in groups)
    desc = (
        f"The client at the centre with {len(people)} people around them: {counts}. "
        "People nearer the centre feel closer. " + " ".join(describe(p) + "." for p in people)
    )
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {HEIGHT}" '
        f'width="{SIZE}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" class="closeness-circle">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
    ]
    for ring in reversed(RINGS):
        parts.append(
            f'<circle class="ring" data-ring="{ring}" cx="{_num(CENTRE)}" cy="{_num(CENTRE)}" '
            f'r="{_num(RING_EDGES[ring])}" fill="none" stroke="#b8c4d0" stroke-width="1.5"/>'
        )
    placed = _placements(people)
    for person, x, y in placed:
        parts.append(_tie(marks_of(person), x, y))
    parts.append(
        f'<circle class="client" cx="{_num(CENTRE)}" cy="{_num(CENTRE)}" '
        f'r="{_num(CLIENT_RADIUS)}" fill="#1d3b58"/>'
        f'<text x="{_num(CENTRE)}" y="{_num(CENTRE + 4)}" font-size="12" text-anchor="middle" '
        'fill="#fff">Client</text>'
    )
    for person, x, y in placed:
        marks = marks_of(person)
        parts.append(
            f'<g class="person" data-ring="{person.ring}" data-marks={quoteattr(" ".join(marks))} '
            f'data-x="{_num(x)}" data-y="{_num(y)}">'
            f"<title>{escape(describe(person))}</title>"
        )
        parts.append(_node(marks, x, y))
        if "supportive" in marks:
            parts.append(_plus(x + NODE + 7, y - NODE))
        if "risk" in marks:
            parts.append(_bang(x - NODE - 7, y - NODE + 2))
        parts.append(
            f'<text x="{_num(x)}" y="{_num(y + NODE + 13)}" font-size="11" '
            f'text-anchor="middle" fill="#222">{escape(_short(person.name))}</text></g>'
        )
    parts.append(_legend())
    parts.append("</svg>")
    return "".join(parts)
