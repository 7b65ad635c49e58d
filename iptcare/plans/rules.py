"""Transparent planning suggestions: a table of rules, each with its condition and its source.

Suggestions are prompts for the clinician, never decisions: each is shown with the rule that
fired and where the rule comes from, and the clinician accepts or dismisses it (recorded).
No rule claims that IPT treats the substance use itself — the evidence for that is mixed
(DOMAIN §1); IPT is suggested only as a focus for co-occurring depression.

Inputs that later issues provide (the AUDIT total, the readiness ruler) may be ``None``: a rule
whose input is missing does not fire.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# AUDIT zones (WHO AUDIT manual; DOMAIN §3): I 0-7, II 8-15, III 16-19, IV 20-40.
AUDIT_ZONE_III_MIN = 16
AUDIT_ZONE_IV_MIN = 20
# Readiness ruler (0-10): importance or confidence at or below this is "low readiness".
LOW_READINESS_MAX = 3

_SUD = re.compile(r"^F1[0-9]")
_OUD = re.compile(r"^F11")
_DEPRESSION = re.compile(r"^F3[23]")


@dataclass(frozen=True)
class PlanFacts:
    """What the rules look at. Codes are the client's active ICD-10-CM diagnoses."""

    diagnosis_codes: tuple[str, ...] = ()
    has_oud_medication: bool = False
    audit_total: int | None = None
    readiness_importance: int | None = None
    readiness_confidence: int | None = None

    def has(self, pattern: re.Pattern[str]) -> bool:
        return any(pattern.match(code.strip().upper()) for code in self.diagnosis_codes)


def audit_zone(total: int | None) -> int | None:
    """The AUDIT risk zone (1-4) of a total 0-40, or None without a total."""
    if total is None:
        return None
    if total >= AUDIT_ZONE_IV_MIN:
        return 4
    if total >= AUDIT_ZONE_III_MIN:
        return 3
    return 2 if total >= 8 else 1


def _low_readiness(f: PlanFacts) -> bool:
    return any(
        v is not None and v <= LOW_READINESS_MAX
        for v in (f.readiness_importance, f.readiness_confidence)
    )


@dataclass(frozen=True)
class Rule:
    code: str
    suggestion: str
    rule_text: str
    source: str
    applies: Callable[[PlanFacts], bool]


RULES: tuple[Rule, ...] = (
    Rule(
        code="moud_discuss",
        suggestion="Discuss medications for opioid use disorder (buprenorphine, methadone, "
        "extended-release naltrexone) with the client and a prescriber.",
        rule_text="An opioid use disorder diagnosis (ICD-10-CM F11.*) and no current medication "
        "treatment entry for opioid use disorder in this plan.",
        source="ASAM National Practice Guideline for the Treatment of Opioid Use Disorder, 2020 "
        "Focused Update (J Addict Med 2020;14(2S)); SAMHSA TIP 63, Medications for Opioid Use "
        "Disorder.",
        applies=lambda f: f.has(_OUD) and not f.has_oud_medication,
    ),
    Rule(
        code="maud_consider",
        suggestion="Consider medication for alcohol use disorder (for example naltrexone, "
        "acamprosate) and discuss it with the client and a prescriber.",
        rule_text=f"Latest AUDIT total in zone III or IV (≥ {AUDIT_ZONE_III_MIN}).",
        source="SAMHSA & NIAAA, Medication for the Treatment of Alcohol Use Disorder: A Brief "
        "Guide (2015); AUDIT zones: WHO AUDIT manual (Babor et al., 2001), DOMAIN §3.",
        applies=lambda f: f.audit_total is not None and f.audit_total >= AUDIT_ZONE_III_MIN,
    ),
    Rule(
        code="mi_first",
        suggestion="Use motivational interviewing to build readiness before action-oriented "
        "work (for example skills practice or a quit date).",
        rule_text=f"Readiness ruler importance or confidence ≤ {LOW_READINESS_MAX} (of 10).",
        source="Miller WR, Rollnick S. Motivational Interviewing: Helping People Change "
        "(3rd ed., Guilford Press, 2013).",
        applies=_low_readiness,
    ),
    Rule(
        code="ipt_depression_focus",
        suggestion="Consider an IPT focus for the depression (choose a problem area with the "
        "client). Treat the substance use with its own interventions as well.",
        rule_text="A depression diagnosis (F32.* or F33.*) alongside a substance use disorder "
        "(F10-F19). IPT's best support here is for the co-occurring depression; its effect on "
        "substance use itself is mixed.",
        source="DOMAIN §1 (IPT evidence: Markowitz 2008; Johnson & Zlotnick 2012).",
        applies=lambda f: f.has(_DEPRESSION) and f.has(_SUD),
    ),
)
RULES_BY_CODE = {r.code: r for r in RULES}


def evaluate(facts: PlanFacts, *, rules: Sequence[Rule] = RULES) -> list[Rule]:
    """The rules that fire for these facts, in table order."""
    return [r for r in rules if r.applies(facts)]
