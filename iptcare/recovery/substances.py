"""Substances, what a drug-screen panel tests for, and which prescribed medications explain a
positive. Plain data, no database.

Days of use (Timeline Followback) and return-to-use events are recorded per TEDS substance
(``TedsSubstance``, the codes of the episode's SUB1-SUB3 fields) so that every figure speaks
the same vocabulary as the episode. A screen panel is finer: it tests for an *analyte*, and the
analyte decides whether a prescribed medication explains the result — a buprenorphine-positive
screen is expected for a client on buprenorphine, a fentanyl-positive one is not, although TEDS
files both under "other opiates and synthetics". Each analyte maps to one TEDS substance.
"""

from __future__ import annotations

from django.db import models

from iptcare.clients.choices import TedsSubstance

Substance = TedsSubstance

# TEDS substances that are opioids (TEDS-A SUB codes 05 heroin, 06 non-prescription methadone,
# 07 other opiates and synthetics; SAMHSA TEDS-A codebook). Grouped for abstinence before a
# return to use: tolerance is lost to opioids as a class, not to one product.
OPIOIDS: frozenset[str] = frozenset(
    {TedsSubstance.HEROIN, TedsSubstance.METHADONE, TedsSubstance.OTHER_OPIATES}
)
OPIOID_GROUP = "opioids"


def abstinence_key(substance: str) -> str:
    """The key abstinence is counted under before a return to use: opioids as one class."""
    return OPIOID_GROUP if substance in OPIOIDS else substance


def is_opioid(substance: str) -> bool:
    return substance in OPIOIDS


class Analyte(models.TextChoices):
    """What one line of a screen panel tests for.

    Standard opiate immunoassays detect morphine and codeine (heroin is seen as morphine, or
    specifically by 6-acetylmorphine) but not reliably the semi-synthetic and synthetic opioids;
    oxycodone, fentanyl, buprenorphine and methadone each need their own assay. Source: ASAM,
    "Appropriate Use of Drug Testing in Clinical Addiction Medicine" (J Addict Med 2017;11(3):
    163-173), and SAMHSA TIP 63, Medications for Opioid Use Disorder (2021), Part 3 (drug
    testing) — both cited from memory, not read here. Read here and agreeing: Milone MC,
    "Laboratory Testing for Prescription Opioids", J Med Toxicol 2012;8(4):408-416 (opioid
    screening was designed to detect heroin use, and its sensitivity varies considerably across
    opioids), and Tenore PL, "Advanced Urine Toxicology Testing", J Addict Dis 2010;29:436-448
    (oxycodone can give a negative opiate screen).
    """

    ALCOHOL = "alcohol", "Alcohol (ethanol / EtG)"
    OPIATES = "opiates", "Opiates (morphine/codeine)"
    HEROIN_6AM = "6am", "6-acetylmorphine (heroin)"
    OXYCODONE = "oxycodone", "Oxycodone"
    FENTANYL = "fentanyl", "Fentanyl"
    BUPRENORPHINE = "buprenorphine", "Buprenorphine"
    METHADONE = "methadone", "Methadone"
    COCAINE = "cocaine", "Cocaine"
    AMPHETAMINES = "amphetamines", "Amphetamines"
    METHAMPHETAMINE = "methamphetamine", "Methamphetamine"
    CANNABINOIDS = "thc", "Cannabinoids (THC)"
    BENZODIAZEPINES = "benzodiazepines", "Benzodiazepines"
    BARBITURATES = "barbiturates", "Barbiturates"
    PCP = "pcp", "Phencyclidine (PCP)"


ANALYTE_SUBSTANCE: dict[str, str] = {
    Analyte.ALCOHOL: TedsSubstance.ALCOHOL,
    Analyte.OPIATES: TedsSubstance.OTHER_OPIATES,
    Analyte.HEROIN_6AM: TedsSubstance.HEROIN,
    Analyte.OXYCODONE: TedsSubstance.OTHER_OPIATES,
    Analyte.FENTANYL: TedsSubstance.OTHER_OPIATES,
    Analyte.BUPRENORPHINE: TedsSubstance.OTHER_OPIATES,
    Analyte.METHADONE: TedsSubstance.METHADONE,
    Analyte.COCAINE: TedsSubstance.COCAINE,
    Analyte.AMPHETAMINES: TedsSubstance.OTHER_AMPHETAMINES,
    Analyte.METHAMPHETAMINE: TedsSubstance.METHAMPHETAMINE,
    Analyte.CANNABINOIDS: TedsSubstance.MARIJUANA,
    Analyte.BENZODIAZEPINES: TedsSubstance.BENZODIAZEPINES,
    Analyte.BARBITURATES: TedsSubstance.BARBITURATES,
    Analyte.PCP: TedsSubstance.PCP,
}

# A common urine panel for an opioid treatment program, offered first on the form.
DEFAULT_PANEL: tuple[str, ...] = (
    Analyte.OPIATES,
    Analyte.FENTANYL,
    Analyte.BUPRENORPHINE,
    Analyte.METHADONE,
    Analyte.OXYCODONE,
    Analyte.COCAINE,
    Analyte.AMPHETAMINES,
    Analyte.BENZODIAZEPINES,
    Analyte.CANNABINOIDS,
)

# Words in a plan's medication entry (its free-text name, brand or generic) → the analyte that
# medication makes positive. Buprenorphine and methadone treatment give buprenorphine- and
# methadone-positive screens respectively and are tested for to confirm adherence (SAMHSA TIP 63,
# Part 3; ASAM 2017 drug-testing statement, above). Naltrexone is not detected by these panels.
# Anything else a clinician knows to be prescribed is marked expected by hand.
MEDICATION_ANALYTES: tuple[tuple[str, str], ...] = (
    ("buprenorphine", Analyte.BUPRENORPHINE),
    ("suboxone", Analyte.BUPRENORPHINE),
    ("subutex", Analyte.BUPRENORPHINE),
    ("zubsolv", Analyte.BUPRENORPHINE),
    ("sublocade", Analyte.BUPRENORPHINE),
    ("brixadi", Analyte.BUPRENORPHINE),
    ("methadone", Analyte.METHADONE),
    ("methadose", Analyte.METHADONE),
    ("dolophine", Analyte.METHADONE),
)


def analytes_explained_by(medication_name: str) -> set[str]:
    """The analytes a medication entry (by its recorded name) makes positive."""
    name = medication_name.lower()
    return {analyte for word, analyte in MEDICATION_ANALYTES if word in name}
