"""Synthetic IPT records for the demo and benchmark data sets.

For a share of admitted or discharged episodes: an interpersonal inventory of 4-9 obviously
fictional people (first names or aliases only) in 1-3 revisions that show change (someone moves
closer, a friend who uses leaves, someone newly supports recovery), a formulation with one
(sometimes two) problem areas, a treatment contract (usually 16 sessions) and, for episodes near
or past the end of the contract, a conclusion plan. ``bulk_create`` only, no audit events (nobody
accessed anything), deterministic for a given ``rng``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from iptcare.clients.choices import EpisodeStatus
from iptcare.clients.models import Episode
from iptcare.ipt.models import (
    Answer,
    ConclusionPlan,
    ContactFrequency,
    DisputeStage,
    DisputeStageEntry,
    Formulation,
    InventoryPerson,
    InventoryRevision,
    ProblemArea,
    ProblemAreaKind,
    Ring,
    TreatmentContract,
)

# (alias, relation, ring, supports recovery)
POOL: tuple[tuple[str, str, str, bool], ...] = (
    ("Aunt M.", "aunt", Ring.MIDDLE, True),
    ("Neighbour J.", "neighbour", Ring.OUTER, False),
    ("Sister K.", "sister", Ring.INNER, True),
    ("Brother T.", "brother", Ring.MIDDLE, False),
    ("Partner A.", "partner", Ring.INNER, False),
    ("Mum (B.)", "mother", Ring.INNER, True),
    ("Dad (G.)", "father", Ring.OUTER, False),
    ("Cousin R.", "cousin", Ring.OUTER, False),
    ("Co-worker P.", "co-worker", Ring.OUTER, False),
    ("Coach E.", "football coach", Ring.MIDDLE, True),
    ("Grandma V.", "grandmother", Ring.MIDDLE, True),
    ("Friend D.", "friend from school", Ring.MIDDLE, False),
)
USING_FRIEND = ("Old mate Z.", "friend", Ring.INNER)
SPONSOR = ("Sponsor L.", "peer sponsor", Ring.MIDDLE)
TRANSITIONS = (
    ("active use", "recovery"),
    ("employed", "out of work"),
    ("living with a partner", "living alone"),
    ("incarceration", "life in the community"),
)
FORMULATION = (
    "Low mood and heavier use began after {area}. The client links drinking or using to "
    "{detail}. We agreed to work on this in IPT and to watch mood and use week by week."
)
DEMO_SHARE = 0.6


def _at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _person(
    rng: random.Random, alias: str, relation: str, ring: str, **flags: Any
) -> dict[str, Any]:
    return {
        "person_key": _uuid(rng),
        "name": alias,
        "relation": relation,
        "ring": ring,
        "contact_frequency": rng.choice(ContactFrequency.values[:4]),
        "expectations_met": rng.choice(Answer.values),
        "conflicts_resolve": rng.choice(Answer.values),
        "knows_about_use": rng.choice(Answer.values),
        "supports_recovery": flags.get("supports_recovery", False),
        "uses_with_client": flags.get("uses_with_client", False),
        "is_risk": flags.get("is_risk", False),
        "conflicts": flags.get("conflicts", ""),
        "satisfying": "Time together at weekends." if ring == Ring.INNER else "",
    }


def _closer(ring: str) -> str:
    return Ring.INNER if ring == Ring.MIDDLE else Ring.MIDDLE


def _revisions(rng: random.Random) -> list[list[dict[str, Any]]]:
    """1-3 lists of people; later lists are edited copies of the first."""
    picks = rng.sample(POOL, rng.randint(3, 8))
    first = [_person(rng, a, r, ring, supports_recovery=s) for a, r, ring, s in picks]
    if rng.random() < 0.7:
        first.append(
            _person(rng, *USING_FRIEND, uses_with_client=True, is_risk=True, conflicts="Pressure")
        )
    first = first[:9]
    if len(first) < 4:
        first.append(_person(rng, *SPONSOR[:2], Ring.OUTER))
    revisions = [first]
    count = rng.choice((1, 2, 2, 3))
    if count >= 2:
        second = [dict(p) for p in first if not p["uses_with_client"]]  # the using friend leaves
        movable = [p for p in second if p["ring"] != Ring.INNER]
        if movable:
            mover = rng.choice(movable)
            mover["ring"] = _closer(mover["ring"])
            mover["supports_recovery"] = True
        if len(second) < 4:
            second.append(_person(rng, *SPONSOR, supports_recovery=True))
        revisions.append(second)
    if count == 3:
        third = [dict(p) for p in revisions[-1]]
        if not any(p["name"] == SPONSOR[0] for p in third):
            third.append(_person(rng, *SPONSOR, supports_recovery=True))
        revisions.append(third[:9])
    return revisions


def _ensure_pks(model: type[models.Model], rows: Sequence[Any]) -> None:
    """Databases without RETURNING leave bulk-created primary keys empty: look them up."""
    if all(r.pk is not None for r in rows):
        return
    ids = dict(
        model._default_manager.filter(public_id__in=[r.public_id for r in rows]).values_list(
            "public_id", "pk"
        )
    )
    for row in rows:
        row.pk = ids[row.public_id]


def generate(
    *,
    episodes: Sequence[Episode],
    rng: random.Random,
    today: date,
    share: float = DEMO_SHARE,
    batch_size: int = 2000,
) -> int:
    """IPT records for a share of the admitted and discharged episodes; returns how many."""
    revisions: list[InventoryRevision] = []
    people_of: list[list[dict[str, Any]]] = []
    formulations: list[Formulation] = []
    areas: list[ProblemArea] = []
    stages_of: list[list[tuple[str, date]]] = []
    contracts: list[TreatmentContract] = []
    conclusions: list[ConclusionPlan] = []
    for episode in episodes:
        if (
            episode.status not in {EpisodeStatus.ADMITTED, EpisodeStatus.DISCHARGED}
            or episode.admission_date is None
            or episode.primary_clinician_id is None
            or rng.random() >= share
        ):
            continue
        by = episode.primary_clinician_id
        sessions = rng.choice((16, 16, 16, 12, 20))
        # The IPT course often starts once the client is settled in treatment: at most a little
        # longer ago than the contract runs, so that demo phases spread over the whole course.
        recent = today - timedelta(weeks=rng.randint(0, sessions + 2))
        start = min(max(episode.admission_date + timedelta(days=7), recent), today)
        end = start + timedelta(weeks=sessions - 1)
        contracts.append(
            TreatmentContract(
                public_id=_uuid(rng),
                episode=episode,
                version=1,
                sessions=sessions,
                start_date=start,
                planned_end_date=end,
                created_by_id=by,
                created_at=_at(start),
            )
        )
        lists = _revisions(rng)
        for number, people in enumerate(lists, start=1):
            day = min(start + timedelta(weeks=5 * (number - 1)), today)
            revisions.append(
                InventoryRevision(
                    public_id=_uuid(rng),
                    episode=episode,
                    number=number,
                    note="Initial inventory" if number == 1 else "Inventory revisited",
                    created_by_id=by,
                    created_at=_at(day, 11),
                )
            )
            people_of.append(people)
        first = lists[0]
        kinds = [rng.choice(ProblemAreaKind.values)]
        if rng.random() < 0.25:
            kinds.append(rng.choice([k for k in ProblemAreaKind.values if k != kinds[0]]))
        for kind in kinds:
            area = ProblemArea(
                public_id=_uuid(rng),
                episode=episode,
                kind=kind,
                created_by_id=by,
                created_at=_at(start + timedelta(weeks=2)),
            )
            stages: list[tuple[str, date]] = []
            if kind == ProblemAreaKind.ROLE_DISPUTE:
                other = rng.choice(first)
                area.dispute_person_key = other["person_key"]
                area.dispute_with = other["name"]
                stages.append((DisputeStage.IMPASSE, min(start + timedelta(weeks=2), today)))
                if rng.random() < 0.6:
                    stages.append(
                        (DisputeStage.RENEGOTIATION, min(start + timedelta(weeks=7), today))
                    )
            elif kind == ProblemAreaKind.ROLE_TRANSITION:
                area.transition_from, area.transition_to = rng.choice(TRANSITIONS)
            areas.append(area)
            stages_of.append(stages)
        labels = {
            ProblemAreaKind.GRIEF: ("a death in the family", "the loss and the anniversaries"),
            ProblemAreaKind.ROLE_DISPUTE: ("a dispute at home", "arguments that go nowhere"),
            ProblemAreaKind.ROLE_TRANSITION: ("a big change in life", "missing the old routine"),
            ProblemAreaKind.INTERPERSONAL_DEFICITS: ("growing isolation", "lonely evenings"),
        }
        what, detail = labels[ProblemAreaKind(kinds[0])]
        formulations.append(
            Formulation(
                public_id=_uuid(rng),
                episode=episode,
                version=1,
                text=FORMULATION.format(area=what, detail=detail),
                created_by_id=by,
                created_at=_at(start + timedelta(weeks=2), 12),
            )
        )
        if episode.status == EpisodeStatus.DISCHARGED or end - timedelta(weeks=4) <= today:
            conclusions.append(
                ConclusionPlan(
                    public_id=_uuid(rng),
                    episode=episode,
                    version=1,
                    gains="Talks with family again; fewer arguments at home.",
                    depression_warning_signs="Staying in bed, skipping meals, avoiding calls.",
                    use_warning_signs="Seeing old using friends; carrying cash on payday.",
                    continuation_plan="Monthly maintenance sessions for six months.",
                    created_by_id=by,
                    created_at=_at(min(end - timedelta(weeks=2), today), 13),
                )
            )
    with transaction.atomic():
        TreatmentContract.objects.bulk_create(contracts, batch_size=batch_size)
        InventoryRevision.objects.bulk_create(revisions, batch_size=batch_size)
        _ensure_pks(InventoryRevision, revisions)
        rows = [
            InventoryPerson(revision=revision, position=i, **person)
            for revision, people in zip(revisions, people_of, strict=True)
            for i, person in enumerate(people)
        ]
        InventoryPerson.objects.bulk_create(rows, batch_size=batch_size)
        ProblemArea.objects.bulk_create(areas, batch_size=batch_size)
        _ensure_pks(ProblemArea, areas)
        DisputeStageEntry.objects.bulk_create(
            [
                DisputeStageEntry(
                    problem_area=area,
                    stage=stage,
                    recorded_on=day,
                    created_by_id=area.created_by_id,
                    created_at=_at(day, 14),
                )
                for area, stages in zip(areas, stages_of, strict=True)
                for stage, day in stages
            ],
            batch_size=batch_size,
        )
        Formulation.objects.bulk_create(formulations, batch_size=batch_size)
        ConclusionPlan.objects.bulk_create(conclusions, batch_size=batch_size)
    return len(contracts)
