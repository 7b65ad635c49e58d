"""DSM-5 count and severity, the prescribed-use exclusion and the ICD-10-CM table."""

from __future__ import annotations

import pytest

from iptcare.clients import dsm5
from iptcare.clients.icd10_sud import Severity, SubstanceClass, proposed_code

NON_PHYSIOLOGICAL = [n for n in dsm5.CRITERION_FIELDS if n not in ("tolerance", "withdrawal")]


def answers(n_other: int, *, tolerance: bool = False, withdrawal: bool = False) -> dict[str, bool]:
    chosen = {name: True for name in NON_PHYSIOLOGICAL[:n_other]}
    return chosen | {"tolerance": tolerance, "withdrawal": withdrawal}


def test_eleven_criteria_are_listed_in_order() -> None:
    assert [n for _, n, _ in dsm5.CRITERIA] == list(range(1, 12))
    assert dsm5.CRITERION_FIELDS[9:] == ("tolerance", "withdrawal")


@pytest.mark.parametrize(
    ("count", "severity"),
    [(0, "none"), (1, "none"), (2, "mild"), (3, "mild"), (4, "moderate"), (5, "moderate")]
    + [(n, "severe") for n in range(6, 12)],
)
def test_severity_thresholds(count: int, severity: str) -> None:
    assert dsm5.severity_for(count) == severity


@pytest.mark.parametrize(
    ("n_other", "tol", "wd", "prescribed", "count", "severity"),
    [
        # Boundary 1/2: tolerance + withdrawal alone make 2 (mild) unless taken as prescribed.
        (0, True, True, False, 2, "mild"),
        (0, True, True, True, 0, "none"),
        (1, True, False, False, 2, "mild"),
        (1, True, False, True, 1, "none"),
        # Boundary 3/4
        (2, True, True, False, 4, "moderate"),
        (2, True, True, True, 2, "mild"),
        (3, False, True, False, 4, "moderate"),
        (3, False, True, True, 3, "mild"),
        # Boundary 5/6
        (4, True, True, False, 6, "severe"),
        (4, True, True, True, 4, "moderate"),
        (5, True, False, False, 6, "severe"),
        (5, True, False, True, 5, "moderate"),
        (6, True, True, True, 6, "severe"),
        (9, True, True, False, 11, "severe"),
    ],
)
def test_prescribed_use_excludes_tolerance_and_withdrawal(
    n_other: int, tol: bool, wd: bool, prescribed: bool, count: int, severity: str
) -> None:
    got = dsm5.criteria_count(
        answers(n_other, tolerance=tol, withdrawal=wd), taken_as_prescribed=prescribed
    )
    assert got == count
    assert dsm5.severity_for(got) == severity


ICD = [
    (SubstanceClass.ALCOHOL, "F10.10", "F10.20"),
    (SubstanceClass.OPIOID, "F11.10", "F11.20"),
    (SubstanceClass.CANNABIS, "F12.10", "F12.20"),
    (SubstanceClass.SEDATIVE, "F13.10", "F13.20"),
    (SubstanceClass.COCAINE, "F14.10", "F14.20"),
    (SubstanceClass.STIMULANT, "F15.10", "F15.20"),
    (SubstanceClass.HALLUCINOGEN, "F16.10", "F16.20"),
    (SubstanceClass.INHALANT, "F18.10", "F18.20"),
    (SubstanceClass.OTHER, "F19.10", "F19.20"),
    (SubstanceClass.TOBACCO, "Z72.0", "F17.200"),
]


@pytest.mark.parametrize(("substance", "mild", "higher"), ICD)
def test_icd10cm_codes_by_class_and_severity(
    substance: SubstanceClass, mild: str, higher: str
) -> None:
    assert proposed_code(substance, Severity.NONE) is None
    mild_code = proposed_code(substance, Severity.MILD)
    assert mild_code is not None and mild_code.code == mild
    for severity in (Severity.MODERATE, Severity.SEVERE):
        code = proposed_code(substance, severity)
        assert code is not None and code.code == higher
        assert severity.label.lower() in code.description


def test_every_substance_class_has_codes() -> None:
    assert {row[0] for row in ICD} == set(SubstanceClass)
