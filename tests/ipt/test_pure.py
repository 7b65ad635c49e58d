"""Pure functions: phase computation, inventory diff, closeness circle SVG (no database)."""

from __future__ import annotations

import math
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace

import pytest

from iptcare.ipt.circle import CENTRE, RING_EDGES, RING_INNER_EDGES, circle_svg, circle_text
from iptcare.ipt.diff import diff_summary, inventory_diff
from iptcare.ipt.phases import Boundaries, phase_for

SVG = "{http://www.w3.org/2000/svg}"

# --- phases -----------------------------------------------------------------------------------

D = Boundaries()  # initial 1-3, termination the last 3


@pytest.mark.parametrize(
    ("attended", "contract", "boundaries", "phase", "prompt"),
    [
        (0, 16, D, "initial", False),
        (1, 16, D, "initial", False),
        (3, 16, D, "initial", False),
        (4, 16, D, "middle", False),
        (11, 16, D, "middle", False),
        (12, 16, D, "middle", True),
        (13, 16, D, "middle", True),
        (14, 16, D, "termination", True),
        (15, 16, D, "termination", False),
        (16, 16, D, "termination", False),
        (19, 16, D, "termination", False),  # past the contract: still termination
        # Program boundaries: initial 1-4, termination the last 2.
        (4, 16, Boundaries(4, 2), "initial", False),
        (5, 16, Boundaries(4, 2), "middle", False),
        (14, 16, Boundaries(4, 2), "middle", True),
        (15, 16, Boundaries(4, 2), "termination", False),
        # A short contract: 8 sessions, termination 6-8, prompt 4-6.
        (3, 8, D, "initial", False),
        (4, 8, D, "middle", True),
        (5, 8, D, "middle", True),
        (6, 8, D, "termination", True),
        (7, 8, D, "termination", False),
        # Overlapping boundaries: termination wins.
        (3, 8, Boundaries(6, 6), "termination", False),
        (2, 8, Boundaries(6, 6), "initial", False),
        (20, 20, D, "termination", False),
        (16, 20, D, "middle", True),
    ],
)
def test_phase_for(
    attended: int, contract: int, boundaries: Boundaries, phase: str, prompt: bool
) -> None:
    info = phase_for(attended, contract, boundaries)
    assert (info.phase, info.termination_prompt) == (phase, prompt)
    assert (info.session_n, info.of_n, info.overridden) == (attended, contract, False)


@pytest.mark.parametrize(
    ("attended", "override", "phase", "computed", "prompt"),
    [
        (2, "middle", "middle", "initial", False),
        (10, "termination", "termination", "middle", False),
        (13, "middle", "middle", "middle", True),
        (15, "middle", "middle", "termination", False),
    ],
)
def test_phase_override_replaces_the_phase_only(
    attended: int, override: str, phase: str, computed: str, prompt: bool
) -> None:
    info = phase_for(attended, 16, D, override)
    assert info.phase == phase and info.computed_phase == computed and info.overridden
    assert info.session_n == attended and info.termination_prompt is prompt


def test_phase_for_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        phase_for(-1, 16)


# --- diff -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class P:
    name: str
    ring: str = "middle"
    supports_recovery: bool = False
    is_risk: bool = False
    uses_with_client: bool = False
    knows_about_use: str = "unknown"
    relation: str = "friend"
    conflicts: str = ""
    conflicts_resolve: str = "unknown"
    person_key: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def is_conflictual(self) -> bool:
        return bool(self.conflicts) and self.conflicts_resolve != "yes"


AUNT = P("Aunt M.", ring="outer")
MATE = P("Mate Z.", ring="inner", uses_with_client=True, is_risk=True)
SIS = P("Sister K.", ring="inner", knows_about_use="no")


@pytest.mark.parametrize(
    ("first", "latest", "expected"),
    [
        ([AUNT], [AUNT], {}),
        ([AUNT], [replace(AUNT, ring="middle")], {"closer": ["Aunt M."]}),
        ([AUNT], [replace(AUNT, ring="inner")], {"closer": ["Aunt M."]}),
        ([SIS], [replace(SIS, ring="outer")], {"further": ["Sister K."]}),
        ([AUNT, MATE], [AUNT], {"left": ["Mate Z."]}),
        ([AUNT], [AUNT, SIS], {"new": ["Sister K."]}),
        ([AUNT], [replace(AUNT, supports_recovery=True)], {"newly_supportive": ["Aunt M."]}),
        ([AUNT], [replace(AUNT, is_risk=True)], {"newly_risk": ["Aunt M."]}),
        # No longer a risk is not "newly" anything.
        ([MATE], [replace(MATE, is_risk=False)], {}),
        (
            [MATE],
            [replace(MATE, uses_with_client=False)],
            {"substance_changes": [("Mate Z.", "uses_with_client")]},
        ),
        (
            [SIS],
            [replace(SIS, knows_about_use="yes")],
            {"substance_changes": [("Sister K.", "knows_about_use")]},
        ),
        # A new person with the same name is someone else (the key decides).
        ([AUNT], [P("Aunt M.", ring="outer")], {"left": ["Aunt M."], "new": ["Aunt M."]}),
        (
            [AUNT, MATE, SIS],
            [replace(AUNT, ring="inner", supports_recovery=True), SIS],
            {"closer": ["Aunt M."], "left": ["Mate Z."], "newly_supportive": ["Aunt M."]},
        ),
    ],
)
def test_inventory_diff(first: list[P], latest: list[P], expected: dict[str, list[object]]) -> None:
    diff = inventory_diff(first, latest)
    actual = {
        "closer": [m.name for m in diff.closer],
        "further": [m.name for m in diff.further],
        "left": diff.left,
        "new": diff.new,
        "newly_supportive": diff.newly_supportive,
        "newly_risk": diff.newly_risk,
        "substance_changes": [(c.name, c.flag) for c in diff.substance_changes],
    }
    assert {k: v for k, v in actual.items() if v} == expected
    assert diff.is_empty is (not expected)
    assert bool(diff_summary(diff)) is bool(expected)


def test_diff_summary_words() -> None:
    diff = inventory_diff([AUNT, MATE], [replace(AUNT, ring="middle")])
    summary = dict(diff_summary(diff))
    assert summary["Moved closer"] == ["Aunt M.: outer → middle ring"]
    assert summary["No longer in the inventory"] == ["Mate Z."]


# --- circle -----------------------------------------------------------------------------------

PEOPLE = [
    P("Sister K.", ring="inner", supports_recovery=True),
    P("Mate Z.", ring="inner", uses_with_client=True, is_risk=True),
    P("Partner A.", ring="middle", conflicts="money", conflicts_resolve="no"),
    P("Dad (G.)", ring="middle", conflicts="old rows", conflicts_resolve="yes"),
    P("Neighbour J.", ring="outer"),
    P("<Cousin & R.>", ring="outer"),
]


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input


def test_circle_svg_places_everyone_in_their_ring_band() -> None:
    root = _parse(circle_svg(PEOPLE, title="Closeness circle"))
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Closeness circle"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "6 people" in desc and "2 in the inner ring" in desc
    rings = root.findall(f"{SVG}circle[@class='ring']")
    assert {r.get("data-ring") for r in rings} == {"inner", "middle", "outer"}
    groups = root.findall(f"{SVG}g[@class='person']")
    assert len(groups) == len(PEOPLE)
    for group, p in zip(
        groups,
        sorted(PEOPLE, key=lambda p: ("inner", "middle", "outer").index(p.ring)),
        strict=True,
    ):
        assert group.get("data-ring") == p.ring
        node = group.find(f"{SVG}circle")
        if node is None:
            rect = group.find(f"{SVG}rect")
            assert rect is not None
            x = float(rect.get("x", 0)) + float(rect.get("width", 0)) / 2
            y = float(rect.get("y", 0)) + float(rect.get("height", 0)) / 2
        else:
            x, y = float(node.get("cx", 0)), float(node.get("cy", 0))
        distance = math.hypot(x - CENTRE, y - CENTRE)
        assert RING_INNER_EDGES[p.ring] < distance < RING_EDGES[p.ring], p.name
        assert p.name in (group.find(f"{SVG}title").text or "")  # type: ignore[union-attr]


def test_circle_markings_do_not_rely_on_colour() -> None:
    root = _parse(circle_svg(PEOPLE))
    titled = [
        ((g.find(f"{SVG}title").text or ""), g)  # type: ignore[union-attr]
        for g in root.findall(f"{SVG}g[@class='person']")
    ]
    by_name = {p.name: next(g for t, g in titled if t.startswith(p.name + " (")) for p in PEOPLE}
    assert by_name["Sister K."].get("data-marks") == "supportive"
    assert by_name["Sister K."].find(f"{SVG}path") is not None  # the plus sign
    mate = by_name["Mate Z."]
    assert mate.get("data-marks") == "using risk"
    assert mate.find(f"{SVG}rect") is not None  # a square, not a circle
    assert any(t.text == "!" for t in mate.findall(f"{SVG}text"))
    assert by_name["Partner A."].get("data-marks") == "conflict"
    assert by_name["Dad (G.)"].get("data-marks") == ""  # the conflict resolves
    dashed = [ln for ln in root.iter(f"{SVG}line") if ln.get("stroke-dasharray")]
    assert len(dashed) == 2  # Partner A.'s tie and the legend's sample
    legend = root.find(f"{SVG}g[@class='legend']")
    assert legend is not None
    words = " ".join(t.text or "" for t in legend.findall(f"{SVG}text"))
    for phrase in ("supports recovery", "conflict", "uses with or around", "risk"):
        assert phrase in words


def test_circle_svg_is_csp_safe_and_escaped() -> None:
    svg = circle_svg(PEOPLE, title="A <b> title")
    assert "style" not in svg and "<script" not in svg and "on" + "load" not in svg
    root = _parse(svg)  # well-formed despite < and & in a name
    assert root.find(f"{SVG}title").text == "A <b> title"  # type: ignore[union-attr]


def test_two_circles_on_one_page_have_distinct_ids() -> None:
    a = _parse(circle_svg(PEOPLE, id_prefix="first"))
    b = _parse(circle_svg(PEOPLE, id_prefix="latest"))
    assert a.get("aria-labelledby") == "first-title first-desc"
    assert b.find(f"{SVG}title").get("id") == "latest-title"  # type: ignore[union-attr]


def test_text_equivalent_lists_everyone_once_by_ring() -> None:
    groups = circle_text(PEOPLE)
    assert [g.ring for g in groups] == ["inner", "middle", "outer"]
    entries = [e for g in groups for e in g.entries]
    assert len(entries) == len(PEOPLE)
    for p in PEOPLE:
        assert sum(e.startswith(p.name) for e in entries) == 1
    inner = groups[0].entries
    assert inner[0] == "Sister K. (friend): supports recovery"
    assert "uses substances with or around the client" in inner[1] and "a risk" in inner[1]
    assert "conflict that does not resolve" in groups[1].entries[0]


def test_empty_circle() -> None:
    root = _parse(circle_svg([]))
    assert root.findall(f"{SVG}g[@class='person']") == []
    assert all(g.entries == [] for g in circle_text([]))
