"""The extension point for note content: section types registered by code.

A note's ``content`` is ``{section_code: {field: value}}``. The general part (DAP) is a section
like any other; modality sections (IPT, CBT, MI, medication management) are registered by the
apps that own them, e.g. ``register(SectionType(code="ipt", ...))`` in ``iptcare/ipt``. The
engine validates drafts leniently (types, lengths, choices) and signing strictly (required
fields), so nothing about a modality lives in the note code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SectionField:
    name: str
    label: str
    required_to_sign: bool = False
    max_length: int = 10_000
    choices: tuple[tuple[str, str], ...] = ()
    multiple: bool = False
    help_text: str = ""


@dataclass(frozen=True)
class SectionType:
    code: str
    label: str
    fields: tuple[SectionField, ...]
    # Note kinds this section may appear in; empty = all.
    kinds: frozenset[str] = field(default_factory=frozenset)
    description: str = ""

    def field(self, name: str) -> SectionField | None:
        return next((f for f in self.fields if f.name == name), None)


REGISTRY: dict[str, SectionType] = {}


def register(section: SectionType) -> SectionType:
    if section.code in REGISTRY and REGISTRY[section.code] != section:
        raise ValueError(f"note section {section.code!r} is already registered")
    REGISTRY[section.code] = section
    return section


def validate(
    content: Any, *, kind: str, for_signing: bool
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Return (clean content, field errors keyed "section.field")."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, dict[str, Any]] = {}
    if not isinstance(content, dict):
        return {}, {"content": ["Content must be an object of sections."]}
    for code, data in content.items():
        section = REGISTRY.get(code)
        if section is None:
            # Named in the message, under "content": a key that is no section is not a field
            # (error keys are field names; an audit event records them).
            errors.setdefault("content", []).append(f"Unknown note section {str(code)[:40]!r}.")
            continue
        if section.kinds and kind not in section.kinds:
            errors.setdefault(code, []).append(f"This section does not belong in a {kind} note.")
            continue
        if not isinstance(data, dict):
            errors.setdefault(code, []).append("A section must be an object of fields.")
            continue
        out: dict[str, Any] = {}
        for name, value in data.items():
            spec = section.field(name)
            key = f"{code}.{name}"
            if spec is None:
                errors.setdefault(code, []).append(f"Unknown field {str(name)[:40]!r}.")
                continue
            problem = _check(spec, value)
            if problem:
                errors.setdefault(key, []).append(problem)
                continue
            out[name] = value
        clean[code] = out
    if for_signing:
        for code, data in clean.items():
            for spec in REGISTRY[code].fields:
                value = data.get(spec.name)
                if spec.required_to_sign and (value is None or value == "" or value == []):
                    errors.setdefault(f"{code}.{spec.name}", []).append(
                        f"{spec.label} is required before signing."
                    )
    return clean, errors


def _check(spec: SectionField, value: Any) -> str:
    allowed = {c for c, _ in spec.choices}
    if spec.multiple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "Choose from the list."
        if allowed and any(v not in allowed for v in value):
            return "Choose from the list."
        return ""
    if value is None:
        return ""
    if not isinstance(value, str):
        return "Must be text."
    if len(value) > spec.max_length:
        return f"At most {spec.max_length} characters."
    if allowed and value and value not in allowed:
        return "Choose from the list."
    return ""


DAP = register(
    SectionType(
        code="dap",
        label="Session note (DAP)",
        description="Data, Assessment, Plan — the general part of every progress note.",
        fields=(
            SectionField(
                "data",
                "Data",
                required_to_sign=True,
                help_text="What happened: what the client said and did, what was done.",
            ),
            SectionField(
                "assessment",
                "Assessment",
                required_to_sign=True,
                help_text="Your clinical impression of progress and risk.",
            ),
            SectionField("plan", "Plan", required_to_sign=True, help_text="Next steps."),
        ),
    )
)

GROUP = register(
    SectionType(
        code="group",
        label="Group session (shared part)",
        kinds=frozenset({"group"}),
        description="Written once for the group and copied into each attendee's note. "
        "Do not name other members.",
        fields=(SectionField("shared", "Shared group summary", required_to_sign=True),),
    )
)

COUNSELLING = register(
    SectionType(
        code="counselling",
        label="Counselling note",
        kinds=frozenset({"counselling"}),
        description="Psychotherapy/counselling notes kept apart from the record (HIPAA "
        "164.501; 42 CFR 2.11 'SUD counseling notes').",
        fields=(SectionField("text", "Counselling note", required_to_sign=True),),
    )
)


# --- Modality sections (issue 4). Sources for the IPT vocabulary: Weissman, Markowitz &
# Klerman, "The Guide to Interpersonal Psychotherapy" (2018), ch. 10 (techniques); problem areas
# and dispute stages as in DOMAIN.md §1 (iptuk.net stages of IPT; interpersonalpsychotherapy.org).
MODALITY_KINDS = frozenset({"individual", "group", "family"})

IPT = register(
    SectionType(
        code="ipt",
        label="Interpersonal psychotherapy (IPT)",
        kinds=MODALITY_KINDS,
        fields=(
            SectionField(
                "phase",
                "Phase",
                required_to_sign=True,
                choices=(
                    ("initial", "Initial"),
                    ("middle", "Middle"),
                    ("termination", "Termination"),
                ),
            ),
            SectionField(
                "focus",
                "Problem-area focus",
                choices=(
                    ("grief", "Grief"),
                    ("role_dispute", "Role dispute"),
                    ("role_transition", "Role transition"),
                    ("interpersonal_deficits", "Interpersonal deficits / sensitivity"),
                ),
            ),
            SectionField("incidents", "Interpersonal incidents since last session"),
            SectionField(
                "link",
                "Link between events and mood, craving and use",
                required_to_sign=True,
            ),
            SectionField(
                "techniques",
                "Techniques used",
                multiple=True,
                choices=(
                    ("exploratory", "Exploratory"),
                    ("affect", "Encouragement of affect"),
                    ("clarification", "Clarification"),
                    ("communication_analysis", "Communication analysis"),
                    ("decision_analysis", "Decision analysis"),
                    ("role_play", "Role play"),
                    ("therapeutic_relationship", "Use of the therapeutic relationship"),
                ),
            ),
            SectionField(
                "dispute_stage",
                "Role-dispute stage (if relevant)",
                choices=(
                    ("renegotiation", "Renegotiation"),
                    ("impasse", "Impasse"),
                    ("dissolution", "Dissolution"),
                ),
            ),
            SectionField("task", "Between-session task"),
        ),
    )
)

CBT = register(
    SectionType(
        code="cbt",
        label="Cognitive behavioural therapy (CBT)",
        kinds=MODALITY_KINDS,
        fields=(
            SectionField("skill", "Skill practised", required_to_sign=True),
            SectionField("homework", "Homework"),
        ),
    )
)

_RULER = tuple((str(n), str(n)) for n in range(11))
MI = register(
    SectionType(
        code="mi",
        label="Motivational interviewing (MI)",
        kinds=MODALITY_KINDS,
        fields=(
            SectionField("importance", "Readiness: importance (0 to 10)", choices=_RULER),
            SectionField("confidence", "Readiness: confidence (0 to 10)", choices=_RULER),
            SectionField("change_talk", "Change talk heard", required_to_sign=True),
        ),
    )
)

MEDICATION = register(
    SectionType(
        code="medication",
        label="Medication management",
        kinds=frozenset({"medication", "individual"}),
        description="Medication treatment as recorded in this program; prescribing happens "
        "in the prescriber's own system.",
        fields=(
            SectionField("medication", "Medication and dose", required_to_sign=True),
            SectionField(
                "adherence",
                "Adherence",
                required_to_sign=True,
                choices=(
                    ("as_prescribed", "Taken as prescribed"),
                    ("some_missed", "Some doses missed"),
                    ("mostly_missed", "Mostly missed"),
                    ("stopped", "Stopped"),
                ),
            ),
            SectionField("side_effects", "Side effects"),
        ),
    )
)

MODALITY_SECTIONS = ("ipt", "cbt", "mi", "medication")
