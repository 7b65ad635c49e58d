"""Demo treatment plans: active (signed and acknowledged) plans for most admitted episodes, some
overdue for review, some in their second version. Bulk inserts only, no audit events.

Every sentence is generic and fictional, in plain client language.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from iptcare.clients.choices import DiagnosisStatus, EpisodeStatus
from iptcare.clients.models import Diagnosis, Episode
from iptcare.plans import content
from iptcare.plans.models import (
    DEFAULT_REVIEW_INTERVAL_DAYS,
    AcknowledgementMethod,
    MedicationIndication,
    PlanGoal,
    PlanIntervention,
    PlanMedication,
    PlanObjective,
    PlanProblem,
    PlanStatus,
    TreatmentPlan,
)

# (problem, IPT area or "", ASAM dimension or None, goal in the client's words, objective,
#  interventions as (modality, frequency, description))
PROBLEMS: tuple[tuple[str, str, int | None, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Substance use is causing problems at home and at work.",
        "",
        5,
        "I want to get through the week without using.",
        "Report at least 5 days without use per week on the weekly check-in.",
        (
            ("cbt", "weekly", "Craving log, high-risk situations and refusal skills."),
            ("mutual_help", "twice a week", "Attend a mutual-help meeting of the client's choice."),
        ),
    ),
    (
        "Low mood since a move and a job change; feels cut off from old routines.",
        "role_transition",
        3,
        "I want to feel like myself again in my new life.",
        "Name two things gained and two things lost in the change, and try one new activity.",
        (("ipt", "weekly", "Role transition work: mourn the old role, build the new one."),),
    ),
    (
        "Frequent arguments with a partner that often end in using.",
        "role_dispute",
        6,
        "I want to talk with my partner without it ending in a fight.",
        "Have one calm conversation about a disagreement and review it in session.",
        (
            ("ipt", "weekly", "Communication analysis and role play of a recent argument."),
            ("family", "every two weeks", "Joint session with the partner if the client agrees."),
        ),
    ),
    (
        "Few people to turn to since stopping use; spends most evenings alone.",
        "interpersonal_deficits",
        6,
        "I want to have people around me who support my recovery.",
        "Make contact with one supportive person each week.",
        (("peer_support", "weekly", "Meet the peer specialist; explore recovery community."),),
    ),
    (
        "Unsure whether to change drinking; mixed feelings about cutting down.",
        "",
        4,
        "I want to decide for myself what I do about drinking.",
        "Complete a decisional balance and set a goal the client chooses.",
        (("mi", "weekly", "Explore ambivalence; elicit and reflect change talk."),),
    ),
)
OUD_PROBLEM = (
    "Opioid use with risk of overdose.",
    "",
    1,
    "I want to stay alive and stop chasing pills every day.",
    "Take the medication as agreed and attend every medication visit this month.",
    (
        ("moud", "weekly visits", "Medication for opioid use disorder with the prescriber."),
        ("case_management", "as needed", "Help with transport to medication visits."),
    ),
)
OUD_MEDICATIONS = (("Buprenorphine/naloxone", "16 mg/4 mg daily"), ("Methadone", "80 mg daily"))


def _when(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(hour=rng.randint(9, 16)), tzinfo=UTC)


def _spec(rng: random.Random, *, oud: bool) -> list[tuple[Any, ...]]:
    picks = rng.sample(PROBLEMS, k=rng.randint(1, 2 if oud else 3))
    return [OUD_PROBLEM, *picks] if oud else picks


def _rows(
    plan: TreatmentPlan,
    spec: Sequence[tuple[Any, ...]],
    *,
    keys: list[uuid.UUID],
    target: date,
    clinician: Any,
    sud_diagnosis: Diagnosis | None,
    medication: tuple[str, str] | None,
    start: date,
) -> dict[str, list[Any]]:
    """Rows of one version; ``keys`` are reused in order so a second version matches the first."""
    key_iter = iter(keys)

    def key() -> uuid.UUID:
        k = next(key_iter, None)
        if k is None:
            k = uuid.uuid4()
            keys.append(k)
        return k

    out: dict[str, list[Any]] = {
        "problems": [],
        "goals": [],
        "objectives": [],
        "interventions": [],
        "medications": [],
    }
    for n, (text, area, dim, goal_text, objective_text, interventions) in enumerate(spec):
        problem = PlanProblem(
            plan=plan,
            key=key(),
            position=n,
            text=text,
            ipt_problem_area=area,
            asam_dimension=dim,
            diagnosis=sud_diagnosis if n == 0 else None,
        )
        goal = PlanGoal(plan=plan, key=key(), position=0, problem=problem, text=goal_text)
        objective = PlanObjective(
            plan=plan, key=key(), position=0, goal=goal, text=objective_text, target_date=target
        )
        if area:  # IPT work aims at depressive symptoms: link the objective to the PHQ-9
            objective.measure_code, objective.target_text = "phq-9", "< 10"
        out["problems"].append(problem)
        out["goals"].append(goal)
        out["objectives"].append(objective)
        for m, (modality, frequency, description) in enumerate(interventions):
            out["interventions"].append(
                PlanIntervention(
                    plan=plan,
                    key=key(),
                    position=m,
                    objective=objective,
                    modality=modality,
                    frequency=frequency,
                    description=description,
                    responsible=clinician,
                )
            )
    if medication is not None:
        out["medications"].append(
            PlanMedication(
                plan=plan,
                key=key(),
                name=medication[0],
                dose=medication[1],
                indication=MedicationIndication.OPIOID_USE_DISORDER,
                outside_prescriber="Community prescriber (fictional)",
                start_date=start,
            )
        )
    return out


def _insert(per_plan: Sequence[tuple[TreatmentPlan, dict[str, list[Any]], str]]) -> None:
    """Insert drafts, their content, then freeze them (the triggers refuse content otherwise)."""
    if not per_plan:
        return
    plans = [p for p, _, _ in per_plan]
    TreatmentPlan.objects.bulk_create(plans)
    rows: dict[str, list[Any]] = {
        k: [] for k in ("problems", "goals", "objectives", "interventions", "medications")
    }
    for _, plan_rows, _ in per_plan:
        for k, v in plan_rows.items():
            rows[k].extend(v)
    PlanProblem.objects.bulk_create(rows["problems"])
    for g in rows["goals"]:
        g.problem_id = g.problem.pk
    PlanGoal.objects.bulk_create(rows["goals"])
    for o in rows["objectives"]:
        o.goal_id = o.goal.pk
    PlanObjective.objects.bulk_create(rows["objectives"])
    for i in rows["interventions"]:
        i.objective_id = i.objective.pk
    PlanIntervention.objects.bulk_create(rows["interventions"])
    PlanMedication.objects.bulk_create(rows["medications"])
    for plan, plan_rows, status in per_plan:
        snapshot = content.snapshot_from_rows(**plan_rows)
        plan.content_digest = content.content_digest(
            plan=plan.public_id,
            episode=plan.episode.public_id,
            number=plan.number,
            snapshot=snapshot,
        )
        plan.status = status
    TreatmentPlan.objects.bulk_update(plans, ["content_digest", "status"], batch_size=500)


def generate(
    *,
    episodes: Sequence[Episode],
    rng: random.Random,
    today: date,
    share: float = 0.85,
    overdue_share: float = 0.2,
    second_version_share: float = 0.25,
) -> int:
    """Active plans for ``share`` of the admitted episodes that have a primary clinician.

    Returns the number of plan versions written. The episodes' ``primary_clinician`` is used
    as author, signer and responsible team member; the acknowledgement is in person.
    """
    chosen = [
        e
        for e in episodes
        if e.status == EpisodeStatus.ADMITTED
        and e.primary_clinician_id is not None
        and e.admission_date is not None
        and rng.random() < share
    ]
    if not chosen:
        return 0
    sud_by_client: dict[int, Diagnosis] = {}
    oud_clients: set[int] = set()
    for d in Diagnosis.objects.filter(
        client_id__in={e.client_id for e in chosen},
        status=DiagnosisStatus.ACTIVE,
        entered_in_error=False,
        code__startswith="F1",
    ).order_by("confirmed_at"):
        sud_by_client.setdefault(d.client_id, d)
        if d.code.startswith("F11"):
            oud_clients.add(d.client_id)

    interval = DEFAULT_REVIEW_INTERVAL_DAYS
    per_plan: list[tuple[TreatmentPlan, dict[str, list[Any]], str]] = []
    for episode in chosen:
        clinician = episode.primary_clinician
        admitted_on = episode.admission_date
        assert admitted_on is not None
        overdue = rng.random() < overdue_share
        age = rng.randint(interval + 1, interval + 40) if overdue else rng.randint(0, interval - 5)
        latest_active = max(admitted_on, today - timedelta(days=age))
        versions = 1
        if (latest_active - admitted_on).days > interval and rng.random() < second_version_share:
            versions = 2
        oud = episode.client_id in oud_clients
        spec = _spec(rng, oud=oud)
        medication = rng.choice(OUD_MEDICATIONS) if oud and rng.random() < 0.7 else None
        keys: list[uuid.UUID] = []
        for number in range(1, versions + 1):
            last = number == versions
            active_on = latest_active if last else latest_active - timedelta(days=interval)
            active_on = max(active_on, admitted_on)
            signed_at = _when(active_on, rng)
            plan = TreatmentPlan(
                episode=episode,
                number=number,
                status=PlanStatus.DRAFT,  # set after the content is inserted (triggers.py)
                created_by=clinician,
                signed_by=clinician,
                signed_at=signed_at,
                acknowledged_at=signed_at + timedelta(minutes=5),
                acknowledgement_method=AcknowledgementMethod.IN_PERSON,
                acknowledged_by=clinician,
                activated_at=signed_at + timedelta(minutes=5),
                review_due=active_on + timedelta(days=interval),
                superseded_at=None if last else _when(latest_active, rng),
            )
            version_spec = list(spec)
            if number == 2 and not oud:
                # The review changed something: a goal met, another problem added.
                extra = [p for p in PROBLEMS if p not in version_spec]
                if extra:
                    version_spec.append(rng.choice(extra))
            plan_rows = _rows(
                plan,
                version_spec,
                keys=keys,
                target=active_on + timedelta(days=interval),
                clinician=clinician,
                sud_diagnosis=sud_by_client.get(episode.client_id),
                medication=medication,
                start=admitted_on,
            )
            per_plan.append((plan, plan_rows, PlanStatus.ACTIVE if last else PlanStatus.SUPERSEDED))

    # Both versions of an episode cannot be open drafts at once: insert version by version.
    for number in (1, 2):
        _insert([entry for entry in per_plan if entry[0].number == number])
    return len(per_plan)
