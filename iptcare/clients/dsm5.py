"""DSM-5 substance use disorder criteria and severity (APA, DSM-5, 2013; unchanged in DSM-5-TR).

A problematic pattern of use leading to clinically significant impairment or distress, shown by
at least two of eleven criteria within a 12-month period. Severity: mild 2-3, moderate 4-5,
severe 6 or more. For tolerance (10) and withdrawal (11) DSM-5 says: "This criterion is not
considered to be met for those taking [the substance] solely under appropriate medical
supervision" — hence the "taken only as prescribed" flag.
"""

from __future__ import annotations

from collections.abc import Mapping

from iptcare.clients.icd10_sud import Severity

# (field name, number, short text)
CRITERIA: tuple[tuple[str, int, str], ...] = (
    ("larger_amounts", 1, "Often taken in larger amounts or over a longer period than intended"),
    ("cut_down", 2, "Persistent desire or unsuccessful efforts to cut down or control use"),
    ("time_spent", 3, "A great deal of time spent obtaining, using or recovering from its effects"),
    ("craving", 4, "Craving, or a strong desire or urge to use"),
    ("role_failure", 5, "Recurrent use resulting in failure to fulfil major role obligations"),
    (
        "social_problems",
        6,
        "Continued use despite social or interpersonal problems caused or worsened by it",
    ),
    (
        "activities_given_up",
        7,
        "Important social, occupational or recreational activities given up or reduced",
    ),
    ("hazardous_use", 8, "Recurrent use in situations in which it is physically hazardous"),
    (
        "physical_psychological_problems",
        9,
        "Continued use despite knowing of a physical or psychological problem caused or worsened",
    ),
    ("tolerance", 10, "Tolerance"),
    ("withdrawal", 11, "Withdrawal"),
)
CRITERION_FIELDS: tuple[str, ...] = tuple(name for name, _, _ in CRITERIA)
PRESCRIBED_EXCLUDED: frozenset[str] = frozenset({"tolerance", "withdrawal"})


def criteria_count(answers: Mapping[str, bool], *, taken_as_prescribed: bool) -> int:
    return sum(
        1
        for name in CRITERION_FIELDS
        if answers.get(name) and not (taken_as_prescribed and name in PRESCRIBED_EXCLUDED)
    )


def severity_for(count: int) -> Severity:
    if count >= 6:
        return Severity.SEVERE
    if count >= 4:
        return Severity.MODERATE
    if count >= 2:
        return Severity.MILD
    return Severity.NONE
