"""A plan version's content as plain data: snapshot, digest and the readable diff.

Pure functions over rows and dictionaries (no queries): the services, the demo and the pages
share them. A snapshot is also the input shape of ``services.plan_update_draft`` (labels are
ignored on input), so an editor can load, change and save the same structure.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from iptcare.plans.models import (
    AsamDimension,
    IptProblemArea,
    MedicationIndication,
    Modality,
    PlanGoal,
    PlanIntervention,
    PlanMedication,
    PlanObjective,
    PlanProblem,
)

Snapshot = dict[str, Any]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _user_label(user: Any) -> str:
    return str(user.full_name) if user is not None else ""


def _public(row: Any) -> str | None:
    return str(row.public_id) if row is not None else None


def _diagnosis_label(diagnosis: Any) -> str:
    return f"{diagnosis.code} {diagnosis.description}" if diagnosis is not None else ""


def snapshot_from_rows(
    *,
    problems: Iterable[PlanProblem],
    goals: Iterable[PlanGoal],
    objectives: Iterable[PlanObjective],
    interventions: Iterable[PlanIntervention],
    medications: Iterable[PlanMedication],
) -> Snapshot:
    """The nested content of one version. Related diagnosis/users should be loaded already."""
    by_objective: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for i in sorted(interventions, key=lambda r: (r.position, r.pk or 0)):
        by_objective[i.objective_id].append(
            {
                "key": str(i.key),
                "modality": i.modality,
                "description": i.description,
                "frequency": i.frequency,
                "responsible": _public(i.responsible),
                "responsible_label": _user_label(i.responsible),
            }
        )
    by_goal: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for o in sorted(objectives, key=lambda r: (r.position, r.pk or 0)):
        by_goal[o.goal_id].append(
            {
                "key": str(o.key),
                "text": o.text,
                "target_date": _iso(o.target_date),
                "measure_code": o.measure_code,
                "target_text": o.target_text,
                "interventions": by_objective.get(o.pk, []),
            }
        )
    by_problem: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for g in sorted(goals, key=lambda r: (r.position, r.pk or 0)):
        by_problem[g.problem_id].append(
            {"key": str(g.key), "text": g.text, "objectives": by_goal.get(g.pk, [])}
        )
    return {
        "problems": [
            {
                "key": str(p.key),
                "text": p.text,
                "diagnosis": _public(p.diagnosis),
                "diagnosis_label": _diagnosis_label(p.diagnosis),
                "ipt_problem_area": p.ipt_problem_area,
                "asam_dimension": p.asam_dimension,
                "goals": by_problem.get(p.pk, []),
            }
            for p in sorted(problems, key=lambda r: (r.position, r.pk or 0))
        ],
        "medications": [
            {
                "key": str(m.key),
                "name": m.name,
                "dose": m.dose,
                "indication": m.indication,
                "prescriber": _public(m.prescriber),
                "prescriber_label": _user_label(m.prescriber),
                "outside_prescriber": m.outside_prescriber,
                "start_date": _iso(m.start_date),
                "stop_date": _iso(m.stop_date),
            }
            for m in sorted(medications, key=lambda r: (r.position, r.pk or 0))
        ],
    }


def empty_snapshot() -> Snapshot:
    return {"problems": [], "medications": []}


def _without_labels(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_labels(v) for k, v in value.items() if not k.endswith("_label")}
    if isinstance(value, list):
        return [_without_labels(v) for v in value]
    return value


def content_digest(*, plan: UUID, episode: UUID, number: int, snapshot: Snapshot) -> str:
    """SHA-256 over canonical JSON of what was signed (labels such as names excluded)."""
    payload = {
        "plan": str(plan),
        "episode": str(episode),
        "number": number,
        "content": _without_labels(snapshot),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


# --- The readable diff -------------------------------------------------------------------------

KIND_LABELS = {
    "problem": "Problem",
    "goal": "Goal",
    "objective": "Objective",
    "intervention": "Intervention",
    "medication": "Medication",
}
_CHOICE_LABELS: dict[str, dict[Any, str]] = {
    "ipt_problem_area": dict(IptProblemArea.choices),
    "asam_dimension": dict(AsamDimension.choices),
    "modality": dict(Modality.choices),
    "indication": dict(MedicationIndication.choices),
}
# (field in the snapshot, label shown in the diff) for each kind of row.
_COMPARED: dict[str, tuple[tuple[str, str], ...]] = {
    "problem": (
        ("text", "text"),
        ("diagnosis_label", "diagnosis"),
        ("ipt_problem_area", "IPT problem area"),
        ("asam_dimension", "ASAM dimension"),
    ),
    "goal": (("text", "text"),),
    "objective": (
        ("text", "text"),
        ("target_date", "target date"),
        ("measure_code", "measure"),
        ("target_text", "target"),
    ),
    "intervention": (
        ("modality", "modality"),
        ("description", "description"),
        ("frequency", "frequency"),
        ("responsible_label", "responsible"),
    ),
    "medication": (
        ("name", "name"),
        ("dose", "dose"),
        ("indication", "for"),
        ("prescriber_display", "prescriber"),
        ("start_date", "start"),
        ("stop_date", "stop"),
    ),
}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class DiffEntry:
    kind: str  # problem, goal, objective, intervention, medication
    change: str  # added, removed, changed
    label: str
    changes: tuple[FieldChange, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        head = f"{KIND_LABELS[self.kind]} {self.change}: “{self.label}”"
        if not self.changes:
            return head
        parts = "; ".join(f"{c.field} “{c.old}” → “{c.new}”" for c in self.changes)
        return f"{head} — {parts}"


def _display(name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    labels = _CHOICE_LABELS.get(name)
    if labels is not None:
        return labels.get(value, str(value))
    return str(value)


def _label(kind: str, row: dict[str, Any]) -> str:
    if kind == "intervention":
        text = _display("modality", row.get("modality"))
        return f"{text}, {row.get('frequency', '')}".strip(", ")
    if kind == "medication":
        return str(row.get("name", ""))
    return str(row.get("text", ""))


def _flatten(snapshot: Snapshot) -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for p in snapshot.get("problems", []):
        rows[("problem", p["key"])] = p
        for g in p.get("goals", []):
            rows[("goal", g["key"])] = g
            for o in g.get("objectives", []):
                rows[("objective", o["key"])] = o
                for i in o.get("interventions", []):
                    rows[("intervention", i["key"])] = i
    for m in snapshot.get("medications", []):
        m = dict(m)
        m["prescriber_display"] = m.get("prescriber_label") or m.get("outside_prescriber") or ""
        rows[("medication", m["key"])] = m
    return rows


_ORDER = {kind: n for n, kind in enumerate(KIND_LABELS)}


def plan_diff(old: Snapshot, new: Snapshot) -> list[DiffEntry]:
    """What changed from ``old`` to ``new``: rows added, removed, or changed field by field.

    Rows are matched by their ``key``, which a new version keeps from the version it copies.
    Order of rows is not a change. Entries come problems first, then goals, objectives,
    interventions, medications; within a kind in the order they appear.
    """
    before, after = _flatten(old), _flatten(new)
    entries: list[tuple[int, int, DiffEntry]] = []
    for n, ((kind, key), row) in enumerate(after.items()):
        if (kind, key) not in before:
            entries.append((_ORDER[kind], n, DiffEntry(kind, "added", _label(kind, row))))
            continue
        prev = before[(kind, key)]
        changes = tuple(
            FieldChange(label, _display(name, prev.get(name)), _display(name, row.get(name)))
            for name, label in _COMPARED[kind]
            if (prev.get(name) or None) != (row.get(name) or None)
        )
        if changes:
            entries.append(
                (_ORDER[kind], n, DiffEntry(kind, "changed", _label(kind, row), changes))
            )
    offset = len(after)
    for n, ((kind, key), row) in enumerate(before.items()):
        if (kind, key) not in after:
            entries.append(
                (_ORDER[kind], offset + n, DiffEntry(kind, "removed", _label(kind, row)))
            )
    return [e for _, _, e in sorted(entries, key=lambda t: (t[0], t[1]))]


def has_current_medication(snapshot: Snapshot, *, indication: str, today: date) -> bool:
    """A medication entry for ``indication`` that has not stopped before ``today``."""
    for m in snapshot.get("medications", []):
        if m.get("indication") != indication:
            continue
        stop = m.get("stop_date")
        if stop is None or date.fromisoformat(stop) >= today:
            return True
    return False


def count_rows(snapshot: Snapshot) -> dict[str, int]:
    return {kind: sum(1 for k, _ in _flatten(snapshot) if k == kind) for kind in KIND_LABELS}


def keys_of(snapshot: Snapshot) -> Sequence[str]:
    return [key for _, key in _flatten(snapshot)]
