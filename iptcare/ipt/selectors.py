"""Reads of the IPT record. Each public read asks the access policy through ``episode_get``
(one audit event); ``ipt_status_for_clients`` is the exception, see its docstring."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from typing import Any
from uuid import UUID

from django.db.models import Prefetch
from django.utils import timezone

from iptcare.access.policy import authorize
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.choices import EpisodeStatus
from iptcare.clients.models import Episode
from iptcare.clients.selectors import episode_get
from iptcare.core.errors import NotFound
from iptcare.ipt.circle import RingGroup, circle_svg, circle_text
from iptcare.ipt.diff import InventoryDiff, inventory_diff
from iptcare.ipt.models import (
    ConclusionPlan,
    DisputeStageEntry,
    Formulation,
    InventoryPerson,
    InventoryRevision,
    PhaseBoundaries,
    PhaseOverride,
    ProblemArea,
    TreatmentContract,
)
from iptcare.ipt.phases import DEFAULT_BOUNDARIES, Boundaries, PhaseInfo, phase_for
from iptcare.scheduling.models import ATTENDED_STATUSES, Appointment, AppointmentKind, Modality

CATEGORY = DataCategory.CLINICAL_RECORD
PURPOSE = Purpose.TREATMENT


@dataclass
class IptRecord:
    """Everything of one episode's IPT record, newest versions first where it matters."""

    episode: Episode
    revisions: list[InventoryRevision]
    formulations: list[Formulation]
    problem_areas: list[ProblemArea]
    contracts: list[TreatmentContract]
    conclusions: list[ConclusionPlan]
    overrides: list[PhaseOverride]
    boundaries: Boundaries
    phase: PhaseInfo | None = None
    people_of: dict[int, list[InventoryPerson]] = field(default_factory=dict)

    @property
    def first(self) -> InventoryRevision | None:
        return self.revisions[0] if self.revisions else None

    @property
    def latest(self) -> InventoryRevision | None:
        return self.revisions[-1] if self.revisions else None

    def people(self, revision: InventoryRevision | None) -> list[InventoryPerson]:
        return self.people_of.get(revision.pk, []) if revision is not None else []

    @cached_property
    def diff(self) -> InventoryDiff | None:
        if len(self.revisions) < 2:
            return None
        return inventory_diff(self.people(self.first), self.people(self.latest))

    @property
    def formulation(self) -> Formulation | None:
        return self.formulations[-1] if self.formulations else None

    @property
    def contract(self) -> TreatmentContract | None:
        return self.contracts[-1] if self.contracts else None

    @property
    def conclusion(self) -> ConclusionPlan | None:
        return self.conclusions[-1] if self.conclusions else None

    @property
    def override(self) -> PhaseOverride | None:
        return next((o for o in self.overrides if o.cleared_at is None), None)

    @property
    def active_areas(self) -> list[ProblemArea]:
        return [a for a in self.problem_areas if a.is_active]

    def circle(self, revision: InventoryRevision | None, *, id_prefix: str) -> str:
        title = "Closeness circle" + (f", inventory revision {revision.number}" if revision else "")
        return circle_svg(self.people(revision), title=title, id_prefix=id_prefix)

    def circle_text(self, revision: InventoryRevision | None) -> list[RingGroup]:
        return circle_text(self.people(revision))


def _record_of(episode: Episode) -> IptRecord:
    revisions = list(InventoryRevision.objects.filter(episode=episode).order_by("number"))
    people: dict[int, list[InventoryPerson]] = defaultdict(list)
    for person in InventoryPerson.objects.filter(revision__episode=episode).order_by(
        "revision_id", "position", "id"
    ):
        people[person.revision_id].append(person)
    areas = list(
        ProblemArea.objects.filter(episode=episode)
        .select_related("created_by", "ended_by")
        .prefetch_related(
            Prefetch(
                "stage_entries",
                queryset=DisputeStageEntry.objects.select_related("created_by").order_by(
                    "recorded_on", "id"
                ),
            )
        )
    )
    record = IptRecord(
        episode=episode,
        revisions=revisions,
        formulations=list(Formulation.objects.filter(episode=episode).select_related("created_by")),
        problem_areas=areas,
        contracts=list(TreatmentContract.objects.filter(episode=episode)),
        conclusions=list(
            ConclusionPlan.objects.filter(episode=episode).select_related("created_by")
        ),
        overrides=list(
            PhaseOverride.objects.filter(episode=episode).select_related("set_by", "cleared_by")
        ),
        boundaries=boundaries_for(program_id=episode.program_id),
        people_of=dict(people),
    )
    if record.contract is not None:
        attended = _attended_counts({episode.client_id: record.contract.start_date})
        override = record.override
        record.phase = phase_for(
            attended.get(episode.client_id, 0),
            record.contract.sessions,
            record.boundaries,
            override.phase if override else None,
        )
    return record


def ipt_record(*, actor: User, episode_id: UUID, action: Action = Action.VIEW) -> IptRecord:
    """One episode's IPT record, if the actor may read the episode's clinical record."""
    return _record_of(episode_get(actor=actor, public_id=episode_id, action=action))


def ipt_record_of(*, actor: User, episode: Episode) -> IptRecord:
    """The record of an episode the caller already holds (asks the policy again: one event)."""
    authorize(actor, Action.VIEW, episode, CATEGORY, PURPOSE, detail={"of": "ipt_record"})
    return _record_of(episode)


def problem_area_get(*, actor: User, public_id: UUID, action: Action = Action.VIEW) -> ProblemArea:
    area = (
        ProblemArea.objects.select_related(
            "episode__organisation", "episode__client", "episode__program"
        )
        .filter(public_id=public_id)
        .first()
    )
    if area is None:
        raise NotFound("No such problem area.")
    authorize(actor, action, area.episode, CATEGORY, PURPOSE, detail={"of": "ipt_problem_area"})
    return area


def boundaries_for(*, program_id: int) -> Boundaries:
    row = PhaseBoundaries.objects.filter(program_id=program_id).first()
    if row is None:
        return DEFAULT_BOUNDARIES
    return Boundaries(row.initial_sessions, row.termination_sessions)


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _attended_counts(starts: dict[int, date]) -> dict[int, int]:
    """Attended individual IPT sessions per client since that client's contract start.

    Group sessions are not counted: the contract is about the client's own IPT sessions, and a
    weekly IPT skills group would otherwise run the count past the contract. One query.
    """
    if not starts:
        return {}
    # One indexed range read of (client, start) pairs, counted here against each client's own
    # contract start: a per-client OR of conditions cost more to build than the rows to count.
    since = {client_id: _start_of(day) for client_id, day in starts.items()}
    rows = (
        Appointment.objects.filter(
            client_id__in=list(starts),
            starts_at__gte=min(since.values()),
            modality=Modality.IPT,
            status__in=sorted(ATTENDED_STATUSES),
        )
        .exclude(kind=AppointmentKind.GROUP)
        .values_list("client_id", "starts_at")
    )
    counts: dict[int, int] = {}
    for client_id, starts_at in rows:
        if starts_at >= since[client_id]:
            counts[client_id] = counts.get(client_id, 0) + 1
    return counts


def _preference(row: Mapping[str, Any]) -> tuple[int, int, int]:
    """Which of a client's episodes the caseload means: an admitted one first, then the newest."""
    admitted = row["episode__admission_date"]
    return (
        0 if row["episode__status"] == EpisodeStatus.ADMITTED else 1,
        -(admitted.toordinal() if admitted else 0),
        -row["episode_id"],
    )


def ipt_status_for_clients(*, client_ids: Iterable[int]) -> dict[int, PhaseInfo | None]:
    """Phase and session n of N for many clients (by client primary key) in four queries.

    For compositions (the caseload) whose caller has already asked the access policy for the
    list of clients: it reads only counts and phase settings, writes no audit event, and answers
    ``None`` for a client with no IPT treatment contract.
    """
    ids = list(dict.fromkeys(client_ids))
    result: dict[int, PhaseInfo | None] = dict.fromkeys(ids)
    if not ids:
        return result
    contracts = TreatmentContract.objects.filter(episode__client_id__in=ids).values(
        "episode_id",
        "episode__client_id",
        "episode__program_id",
        "episode__status",
        "episode__admission_date",
        "version",
        "sessions",
        "start_date",
    )
    chosen: dict[int, Mapping[str, Any]] = {}
    for row in contracts:
        client_id = row["episode__client_id"]
        best = chosen.get(client_id)
        if (
            best is None
            or _preference(row) < _preference(best)
            or (row["episode_id"] == best["episode_id"] and row["version"] > best["version"])
        ):
            chosen[client_id] = row
    if not chosen:
        return result
    program_ids = {row["episode__program_id"] for row in chosen.values()}
    boundaries = {
        program_id: Boundaries(initial, termination)
        for program_id, initial, termination in PhaseBoundaries.objects.filter(
            program_id__in=program_ids
        ).values_list("program_id", "initial_sessions", "termination_sessions")
    }
    overrides = dict(
        PhaseOverride.objects.filter(
            episode_id__in=[c["episode_id"] for c in chosen.values()], cleared_at__isnull=True
        ).values_list("episode_id", "phase")
    )
    attended = _attended_counts({cid: c["start_date"] for cid, c in chosen.items()})
    for client_id, best in chosen.items():
        result[client_id] = phase_for(
            attended.get(client_id, 0),
            best["sessions"],
            boundaries.get(best["episode__program_id"], DEFAULT_BOUNDARIES),
            overrides.get(best["episode_id"]),
        )
    return result
