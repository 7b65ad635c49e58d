"""Synthetic clinical records for the demo generator: episodes, TEDS substances, DSM-5 checklists,
confirmed diagnoses and ASAM assessments for clients that already exist.

Everything is written with ``bulk_create`` (no per-row save, no signals, no audit events: this is
fixture data, not anybody's access), so 20,000 clients take seconds.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients import dsm5
from iptcare.clients.choices import (
    ASAM_DIMENSIONS,
    DiagnosisKind,
    DischargeReason,
    Employment,
    EpisodeStatus,
    Frequency,
    LevelOfCare,
    LivingArrangement,
    ReferralSource,
    Route,
    TedsSubstance,
)
from iptcare.clients.icd10_sud import SubstanceClass, proposed_code
from iptcare.clients.models import (
    AsamAssessment,
    Client,
    Diagnosis,
    Episode,
    EpisodeSubstance,
    SudAssessment,
)
from iptcare.core.models import Organisation, Program

BATCH = 2000

# TEDS substance → DSM-5 substance class of its use disorder.
_CLASS_OF: dict[str, SubstanceClass] = {
    TedsSubstance.ALCOHOL: SubstanceClass.ALCOHOL,
    TedsSubstance.HEROIN: SubstanceClass.OPIOID,
    TedsSubstance.OTHER_OPIATES: SubstanceClass.OPIOID,
    TedsSubstance.METHADONE: SubstanceClass.OPIOID,
    TedsSubstance.MARIJUANA: SubstanceClass.CANNABIS,
    TedsSubstance.COCAINE: SubstanceClass.COCAINE,
    TedsSubstance.METHAMPHETAMINE: SubstanceClass.STIMULANT,
    TedsSubstance.BENZODIAZEPINES: SubstanceClass.SEDATIVE,
}
# Weighted roughly like US treatment admissions: alcohol and opioids lead.
_PRIMARY = [
    (TedsSubstance.ALCOHOL, 30),
    (TedsSubstance.HEROIN, 14),
    (TedsSubstance.OTHER_OPIATES, 12),
    (TedsSubstance.METHAMPHETAMINE, 12),
    (TedsSubstance.MARIJUANA, 10),
    (TedsSubstance.COCAINE, 8),
    (TedsSubstance.BENZODIAZEPINES, 4),
]
_ROUTE_OF: dict[str, str] = {
    TedsSubstance.ALCOHOL: Route.ORAL,
    TedsSubstance.MARIJUANA: Route.SMOKING,
    TedsSubstance.BENZODIAZEPINES: Route.ORAL,
}
# Co-occurring conditions (ICD-10-CM, CMS FY2024+ tabular list).
_CO_OCCURRING = [
    ("F32.1", "Major depressive disorder, single episode, moderate"),
    ("F41.1", "Generalized anxiety disorder"),
    ("F43.10", "Post-traumatic stress disorder, unspecified"),
]
_LEVELS = [
    (LevelOfCare.L1, 45),
    (LevelOfCare.L2_1, 30),
    (LevelOfCare.L2_5, 8),
    (LevelOfCare.L3_5, 10),
    (LevelOfCare.L3_7, 5),
    (LevelOfCare.L0_5, 2),
]


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _at(day: date, rng: random.Random) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59))))


def generate(
    *,
    organisation: Organisation,
    programs: Sequence[Program],
    clinicians_by_program: Mapping[Any, Sequence[User]],
    clients: Sequence[Client],
    rng: random.Random,
    today: date,
) -> dict[str, int]:
    """One episode per client spread over the last 12 months (about 60 % still admitted; every
    discharge reason at least once when there are 50 or more clients), with TEDS substances,
    a DSM-5 checklist and confirmed diagnosis per admitted or discharged episode, some
    co-occurring diagnoses and an ASAM assessment. ``clinicians_by_program`` is keyed by
    ``Program`` or program id. Returns row counts."""
    by_program = {getattr(k, "pk", k): list(v) for k, v in clinicians_by_program.items()}
    fallback = [u for users in by_program.values() for u in users]
    if not fallback:
        raise ValueError("The demo needs at least one clinician.")
    now = timezone.now()
    reasons = list(DischargeReason.values)
    discharged_seen = 0
    episodes: list[Episode] = []
    plans: list[dict[str, Any]] = []
    for client in clients:
        clinicians = by_program.get(client.program_id) or fallback
        clinician = rng.choice(clinicians) if clinicians else None
        referral = today - timedelta(days=rng.randint(10, 365))
        roll = rng.random()
        if roll < 0.60:
            status = EpisodeStatus.ADMITTED
        elif roll < 0.90:
            status = EpisodeStatus.DISCHARGED
        elif roll < 0.96:
            status = EpisodeStatus.REFERRED
        else:
            status = EpisodeStatus.CANCELLED
        if discharged_seen < len(reasons) and len(clients) >= 50 and roll >= 0.60:
            status = EpisodeStatus.DISCHARGED  # make sure every reason appears
        e = Episode(
            public_id=uuid.uuid4(),
            organisation=organisation,
            program_id=client.program_id,
            client=client,
            status=status,
            primary_clinician=clinician,
            referral_date=referral,
            referral_source=rng.choice(ReferralSource.values),
        )
        if status in (EpisodeStatus.ADMITTED, EpisodeStatus.DISCHARGED):
            e.admission_date = min(referral + timedelta(days=rng.randint(0, 14)), today)
            e.level_of_care = _weighted(rng, _LEVELS)
            e.prior_treatment_episodes = rng.choice([0, 0, 0, 1, 1, 2, 3, 4, 5])
            e.employment_status = rng.choice(Employment.values)
            e.living_arrangement = _weighted(
                rng,
                [
                    (LivingArrangement.INDEPENDENT, 60),
                    (LivingArrangement.DEPENDENT, 25),
                    (LivingArrangement.HOMELESS, 15),
                ],
            )
            e.arrests_past_30_days = _weighted(rng, [(0, 85), (1, 12), (2, 3)])
        if status == EpisodeStatus.DISCHARGED:
            assert e.admission_date is not None
            span = max((today - e.admission_date).days, 0)
            e.discharge_date = e.admission_date + timedelta(days=rng.randint(0, span))
            if discharged_seen < len(reasons):
                e.discharge_reason = reasons[discharged_seen]
            else:
                e.discharge_reason = _weighted(
                    rng,
                    [
                        (DischargeReason.COMPLETED, 45),
                        (DischargeReason.LEFT_AGAINST_ADVICE, 25),
                        (DischargeReason.TRANSFERRED, 12),
                        (DischargeReason.TERMINATED, 6),
                        (DischargeReason.INCARCERATED, 5),
                        (DischargeReason.OTHER, 6),
                        (DischargeReason.DIED, 1),
                    ],
                )
            discharged_seen += 1
        if status == EpisodeStatus.CANCELLED:
            e.cancel_reason = "Did not attend the intake appointment."
        episodes.append(e)
        plans.append({"primary": _weighted(rng, _PRIMARY)})
    Episode.objects.bulk_create(episodes, batch_size=BATCH)
    # bulk_create returns primary keys on PostgreSQL and SQLite ≥ 3.35; map by public_id anyway.
    if any(e.pk is None for e in episodes):
        ids = dict(Episode.objects.filter(organisation=organisation).values_list("public_id", "pk"))
        for e in episodes:
            e.pk = ids[e.public_id]

    substances: list[EpisodeSubstance] = []
    assessments: list[SudAssessment] = []
    asams: list[AsamAssessment] = []
    for e, plan in zip(episodes, plans, strict=True):
        if e.admission_date is None:
            continue
        primary = plan["primary"]
        others = [x for x in TedsSubstance.values if x not in (primary, TedsSubstance.OTC)]
        picked = [primary, *rng.sample(others, rng.choice([0, 0, 1, 1, 2]))]
        for rank, sub in enumerate(picked, start=1):
            substances.append(
                EpisodeSubstance(
                    episode=e,
                    rank=rank,
                    substance=sub,
                    route=_ROUTE_OF.get(sub, rng.choice(Route.values)),
                    frequency=rng.choice(Frequency.values),
                    age_of_first_use=rng.randint(12, 30),
                )
            )
        substance_class = _CLASS_OF.get(primary, SubstanceClass.OTHER)
        answers = {name: rng.random() < 0.55 for name in dsm5.CRITERION_FIELDS}
        answers["craving"] = True
        answers["larger_amounts"] = True  # a client in treatment meets at least two criteria
        count = dsm5.criteria_count(answers, taken_as_prescribed=False)
        severity = dsm5.severity_for(count)
        code = proposed_code(substance_class, severity)
        assessed_at = _at(e.admission_date, rng)
        assessments.append(
            SudAssessment(
                public_id=uuid.uuid4(),
                organisation=organisation,
                client=e.client,
                episode=e,
                substance_class=substance_class,
                criteria_count=count,
                severity=severity,
                proposed_code=code.code if code else "",
                assessed_by=e.primary_clinician or fallback[0],
                assessed_at=assessed_at,
                **answers,
            )
        )
        if e.status == EpisodeStatus.ADMITTED:
            ratings = {f"{p}_rating": rng.choice([0, 1, 1, 2, 2, 3, 4]) for p, _ in ASAM_DIMENSIONS}
            asams.append(
                AsamAssessment(
                    public_id=uuid.uuid4(),
                    organisation=organisation,
                    client=e.client,
                    episode=e,
                    level_of_care=e.level_of_care,
                    assessed_by=e.primary_clinician or fallback[0],
                    assessed_at=assessed_at,
                    **ratings,
                )
            )
    EpisodeSubstance.objects.bulk_create(substances, batch_size=BATCH)
    SudAssessment.objects.bulk_create(assessments, batch_size=BATCH)
    AsamAssessment.objects.bulk_create(asams, batch_size=BATCH)
    if any(a.pk is None for a in assessments):
        ids = dict(
            SudAssessment.objects.filter(organisation=organisation).values_list("public_id", "pk")
        )
        for a in assessments:
            a.pk = ids[a.public_id]

    diagnoses: list[Diagnosis] = []
    for a in assessments:
        code = proposed_code(a.substance_class, a.severity)
        assert code is not None
        diagnoses.append(
            Diagnosis(
                organisation=organisation,
                client=a.client,
                episode=a.episode,
                code=code.code,
                description=code.description,
                kind=DiagnosisKind.SUBSTANCE_USE,
                source_assessment=a,
                confirmed_by=a.assessed_by,
                confirmed_at=a.assessed_at,
            )
        )
        if rng.random() < 0.3:
            co_code, co_text = rng.choice(_CO_OCCURRING)
            diagnoses.append(
                Diagnosis(
                    organisation=organisation,
                    client=a.client,
                    episode=a.episode,
                    code=co_code,
                    description=co_text,
                    kind=DiagnosisKind.CO_OCCURRING,
                    confirmed_by=a.assessed_by,
                    confirmed_at=min(a.assessed_at + timedelta(days=rng.randint(0, 20)), now),
                )
            )
    Diagnosis.objects.bulk_create(diagnoses, batch_size=BATCH)
    return {
        "episodes": len(episodes),
        "admitted": sum(e.status == EpisodeStatus.ADMITTED for e in episodes),
        "discharged": sum(e.status == EpisodeStatus.DISCHARGED for e in episodes),
        "substances": len(substances),
        "sud_assessments": len(assessments),
        "diagnoses": len(diagnoses),
        "asam_assessments": len(asams),
    }
