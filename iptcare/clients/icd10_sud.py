"""Proposed ICD-10-CM codes for a DSM-5 substance use disorder, by substance class and severity.

Source: American Psychiatric Association, DSM-5-TR (2022), coding notes of each substance use
disorder ("Specify current severity/remission: ... Mild: F10.10, Moderate: F10.20, Severe: F10.20"
etc.), which use the CMS/NCHS ICD-10-CM code set (FY2024+ tabular list, chapter 5, F10-F19, and
Z72.0 "Tobacco use"). In DSM-5-TR, moderate and severe share one ICD-10-CM code; mild tobacco use
disorder is coded Z72.0.

Deliberately limited: these are the codes for a use disorder *without* a co-occurring
substance-induced mental disorder and *not* in remission. With an induced disorder or a remission
specifier the code differs (e.g. F10.11, F10.21, F10.14…); the clinician then overrides the proposed
code and gives a reason. Phencyclidine (F16.x with its own DSM-5 disorder) and "other or unspecified
stimulant" are folded into the hallucinogen and amphetamine-type rows of DSM-5-TR; caffeine has no
use disorder in DSM-5 and is absent.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class SubstanceClass(models.TextChoices):
    ALCOHOL = "alcohol", "Alcohol"
    OPIOID = "opioid", "Opioid"
    CANNABIS = "cannabis", "Cannabis"
    SEDATIVE = "sedative", "Sedative, hypnotic or anxiolytic"
    COCAINE = "cocaine", "Cocaine"
    STIMULANT = "stimulant", "Other stimulant (amphetamine-type)"
    HALLUCINOGEN = "hallucinogen", "Other hallucinogen"
    INHALANT = "inhalant", "Inhalant"
    TOBACCO = "tobacco", "Tobacco"
    OTHER = "other", "Other (or unknown) substance"


class Severity(models.TextChoices):
    NONE = "none", "Criteria not met"
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


# Shown with every proposal, so that the clinician who confirms it sees where it comes from.
CODE_SOURCE = (
    "DSM-5-TR (American Psychiatric Association, 2022), coding notes of each substance use "
    "disorder; ICD-10-CM (CMS/NCHS), chapter 5, F10-F19, and Z72.0. Without a substance-induced "
    "disorder or a remission specifier."
)


@dataclass(frozen=True)
class SudCode:
    code: str
    description: str


# substance class -> (mild code, moderate/severe code). DSM-5-TR / CMS ICD-10-CM (see above).
_TABLE: dict[SubstanceClass, tuple[SudCode, SudCode]] = {
    SubstanceClass.ALCOHOL: (
        SudCode("F10.10", "Alcohol use disorder, mild"),
        SudCode("F10.20", "Alcohol use disorder, {severity}"),
    ),
    SubstanceClass.OPIOID: (
        SudCode("F11.10", "Opioid use disorder, mild"),
        SudCode("F11.20", "Opioid use disorder, {severity}"),
    ),
    SubstanceClass.CANNABIS: (
        SudCode("F12.10", "Cannabis use disorder, mild"),
        SudCode("F12.20", "Cannabis use disorder, {severity}"),
    ),
    SubstanceClass.SEDATIVE: (
        SudCode("F13.10", "Sedative, hypnotic, or anxiolytic use disorder, mild"),
        SudCode("F13.20", "Sedative, hypnotic, or anxiolytic use disorder, {severity}"),
    ),
    SubstanceClass.COCAINE: (
        SudCode("F14.10", "Cocaine use disorder, mild"),
        SudCode("F14.20", "Cocaine use disorder, {severity}"),
    ),
    SubstanceClass.STIMULANT: (
        SudCode("F15.10", "Amphetamine-type substance use disorder, mild"),
        SudCode("F15.20", "Amphetamine-type substance use disorder, {severity}"),
    ),
    SubstanceClass.HALLUCINOGEN: (
        SudCode("F16.10", "Other hallucinogen use disorder, mild"),
        SudCode("F16.20", "Other hallucinogen use disorder, {severity}"),
    ),
    SubstanceClass.INHALANT: (
        SudCode("F18.10", "Inhalant use disorder, mild"),
        SudCode("F18.20", "Inhalant use disorder, {severity}"),
    ),
    SubstanceClass.TOBACCO: (
        SudCode("Z72.0", "Tobacco use disorder, mild"),
        SudCode("F17.200", "Tobacco use disorder, {severity}"),
    ),
    SubstanceClass.OTHER: (
        SudCode("F19.10", "Other (or unknown) substance use disorder, mild"),
        SudCode("F19.20", "Other (or unknown) substance use disorder, {severity}"),
    ),
}


def proposed_code(substance: SubstanceClass | str, severity: Severity | str) -> SudCode | None:
    """The ICD-10-CM code DSM-5-TR gives for this class and severity; None below threshold."""
    severity = Severity(severity)
    if severity == Severity.NONE:
        return None
    mild, higher = _TABLE[SubstanceClass(substance)]
    if severity == Severity.MILD:
        return mild
    return SudCode(higher.code, higher.description.format(severity=severity.label.lower()))
