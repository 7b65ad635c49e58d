"""Coded vocabularies of the clinical record, kept as data.

TEDS categories follow SAMHSA's Treatment Episode Data Set — Admissions (TEDS-A) codebook and the
TEDS State Instruction Manual (admission and discharge data items): PSOURCE (referral source),
SUB1-SUB3 (substances), ROUTE1-3, FREQ1-3, FRSTUSE1-3, NOPRIOR, EMPLOY, LIVARAG, ARRESTS and
REASON (reason for discharge). Stored values are our own stable slugs; labels follow the codebook.
"""

from __future__ import annotations

from django.db import models


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Unknown"
    DECLINED = "declined", "Asked but declined to answer"


class GenderIdentity(models.TextChoices):
    WOMAN = "woman", "Woman"
    MAN = "man", "Man"
    TRANSGENDER_WOMAN = "transgender_woman", "Transgender woman"
    TRANSGENDER_MAN = "transgender_man", "Transgender man"
    NON_BINARY = "non_binary", "Non-binary"
    ANOTHER = "another", "Another gender identity"
    DECLINED = "declined", "Asked but declined to answer"


class EpisodeStatus(models.TextChoices):
    REFERRED = "referred", "Referred"
    ADMITTED = "admitted", "Admitted"
    DISCHARGED = "discharged", "Discharged"
    CANCELLED = "cancelled", "Cancelled (never started)"


OPEN_EPISODE_STATUSES = (EpisodeStatus.REFERRED, EpisodeStatus.ADMITTED)


class ReferralSource(models.TextChoices):
    """TEDS-A PSOURCE, "Referral source"."""

    INDIVIDUAL = "individual", "Individual (includes self-referral)"
    SUD_PROVIDER = "sud_provider", "Alcohol/drug use care provider"
    HEALTH_PROVIDER = "health_provider", "Other health care provider"
    SCHOOL = "school", "School (educational)"
    EMPLOYER = "employer", "Employer/EAP"
    COMMUNITY = "community", "Other community referral"
    CRIMINAL_JUSTICE = "criminal_justice", "Court/criminal justice referral/DUI/DWI"


class LevelOfCare(models.TextChoices):
    """ASAM Criteria (3rd ed.) levels of care. The 4th edition renames some: keep them as data."""

    L0_5 = "0.5", "0.5 Early intervention"
    L1 = "1", "1 Outpatient services"
    L2_1 = "2.1", "2.1 Intensive outpatient services"
    L2_5 = "2.5", "2.5 Partial hospitalization services"
    L3_1 = "3.1", "3.1 Clinically managed low-intensity residential services"
    L3_3 = "3.3", "3.3 Clinically managed population-specific high-intensity residential"
    L3_5 = "3.5", "3.5 Clinically managed high-intensity residential services"
    L3_7 = "3.7", "3.7 Medically monitored intensive inpatient services"
    L4 = "4", "4 Medically managed intensive inpatient services"


class TedsSubstance(models.TextChoices):
    """TEDS-A SUB1-SUB3 substance categories."""

    ALCOHOL = "alcohol", "Alcohol"
    COCAINE = "cocaine", "Cocaine/crack"
    MARIJUANA = "marijuana", "Marijuana/hashish"
    HEROIN = "heroin", "Heroin"
    METHADONE = "methadone", "Non-prescription methadone"
    OTHER_OPIATES = "other_opiates", "Other opiates and synthetics"
    PCP = "pcp", "PCP"
    HALLUCINOGENS = "hallucinogens", "Hallucinogens"
    METHAMPHETAMINE = "methamphetamine", "Methamphetamine/speed"
    OTHER_AMPHETAMINES = "other_amphetamines", "Other amphetamines"
    OTHER_STIMULANTS = "other_stimulants", "Other stimulants"
    BENZODIAZEPINES = "benzodiazepines", "Benzodiazepines"
    OTHER_TRANQUILIZERS = "other_tranquilizers", "Other tranquilizers"
    BARBITURATES = "barbiturates", "Barbiturates"
    OTHER_SEDATIVES = "other_sedatives", "Other sedatives or hypnotics"
    INHALANTS = "inhalants", "Inhalants"
    OTC = "otc", "Over-the-counter medications"
    OTHER = "other", "Other drugs"


class Route(models.TextChoices):
    """TEDS-A ROUTE1-3, usual route of administration."""

    ORAL = "oral", "Oral"
    SMOKING = "smoking", "Smoking"
    INHALATION = "inhalation", "Inhalation"
    INJECTION = "injection", "Injection (intravenous, intramuscular, intradermal or subcutaneous)"
    OTHER = "other", "Other"


class Frequency(models.TextChoices):
    """TEDS FREQ1-3 (State Instruction Manual's detailed categories)."""

    NONE_PAST_MONTH = "none", "No use in the past month"
    MONTHLY_1_3 = "1-3_month", "1-3 times in the past month"
    WEEKLY_1_2 = "1-2_week", "1-2 times per week"
    WEEKLY_3_6 = "3-6_week", "3-6 times per week"
    DAILY = "daily", "Daily"


class PriorTreatment(models.IntegerChoices):
    """TEDS-A NOPRIOR, previous substance use treatment episodes."""

    NONE = 0, "No prior treatment episodes"
    ONE = 1, "1 prior treatment episode"
    TWO = 2, "2 prior treatment episodes"
    THREE = 3, "3 prior treatment episodes"
    FOUR = 4, "4 prior treatment episodes"
    FIVE_OR_MORE = 5, "5 or more prior treatment episodes"


class Employment(models.TextChoices):
    """TEDS-A EMPLOY."""

    FULL_TIME = "full_time", "Full-time"
    PART_TIME = "part_time", "Part-time"
    UNEMPLOYED = "unemployed", "Unemployed"
    NOT_IN_LABOR_FORCE = "not_in_labor_force", "Not in labor force"


class LivingArrangement(models.TextChoices):
    """TEDS-A LIVARAG."""

    HOMELESS = "homeless", "Homeless"
    DEPENDENT = "dependent", "Dependent living"
    INDEPENDENT = "independent", "Independent living"


class Arrests(models.IntegerChoices):
    """TEDS-A ARRESTS, arrests in the 30 days before admission."""

    NONE = 0, "None"
    ONCE = 1, "Once"
    TWO_OR_MORE = 2, "Two or more times"


class DischargeReason(models.TextChoices):
    """TEDS-D REASON, reason for discharge (grouped)."""

    COMPLETED = "completed", "Treatment completed"
    LEFT_AGAINST_ADVICE = "left_against_advice", "Left against professional advice (dropped out)"
    TERMINATED = "terminated", "Terminated by facility"
    TRANSFERRED = "transferred", "Transferred to another treatment program or facility"
    INCARCERATED = "incarcerated", "Incarcerated"
    DIED = "died", "Death"
    OTHER = "other", "Other"


class DiagnosisKind(models.TextChoices):
    SUBSTANCE_USE = "substance_use", "Substance use disorder"
    CO_OCCURRING = "co_occurring", "Co-occurring condition"


class DiagnosisStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"


class AsamRisk(models.IntegerChoices):
    NONE = 0, "0 — no risk or stable"
    MILD = 1, "1 — mild"
    MODERATE = 2, "2 — moderate"
    SIGNIFICANT = 3, "3 — significant"
    SEVERE = 4, "4 — severe"


# The six ASAM dimensions: (field prefix, label).
ASAM_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("d1", "1. Acute intoxication and/or withdrawal potential"),
    ("d2", "2. Biomedical conditions and complications"),
    ("d3", "3. Emotional, behavioural or cognitive conditions and complications"),
    ("d4", "4. Readiness to change"),
    ("d5", "5. Relapse, continued use or continued problem potential"),
    ("d6", "6. Recovery/living environment"),
)
