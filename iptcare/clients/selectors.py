"""Reads of client data. Each one asks the access policy and leaves an audit event."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import reduce
from operator import and_
from uuid import UUID

from django.db.models import Prefetch, Q, QuerySet

from iptcare.access.policy import authorize, decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.models import (
    AsamAssessment,
    Client,
    Diagnosis,
    Episode,
    EpisodeSubstance,
    SudAssessment,
)
from iptcare.core.errors import NotFound
from iptcare.core.models import Organisation, Program

SEARCH_LIMIT = 50
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def client_get(
    *,
    actor: User,
    public_id: UUID,
    purpose: Purpose = Purpose.TREATMENT,
    action: Action = Action.VIEW,
    category: DataCategory = DataCategory.DEMOGRAPHICS,
) -> Client:
    client = (
        Client.objects.select_related("organisation", "program").filter(public_id=public_id).first()
    )
    if client is None:
        raise NotFound("No such client.")
    authorize(actor, action, client, category, purpose)
    return client


def client_list(
    *, actor: User, program: Program, purpose: Purpose = Purpose.TREATMENT
) -> QuerySet[Client]:
    """The clients of one program, if the actor may list them (one audit event for the list)."""
    authorize(actor, Action.LIST, program, DataCategory.DEMOGRAPHICS, purpose)
    # A stable order (the name, then the row) so that pages of the list never overlap.
    return (
        Client.objects.filter(program=program)
        .select_related("program")
        .order_by("legal_family_name", "legal_given_name", "id")
    )


def programs_visible(*, actor: User) -> list[Program]:
    """Programs whose client list the actor may open (no audit: no client data is read)."""
    return programs_permitting(actor=actor, action=Action.LIST, category=DataCategory.DEMOGRAPHICS)


def programs_permitting(
    *,
    actor: User,
    action: Action,
    category: DataCategory,
    purpose: Purpose = Purpose.TREATMENT,
) -> list[Program]:
    """Active programs of the actor's organisation where the role table grants ``action``.

    One query for the programs; ``decide`` runs per program, never per client row.
    """
    if actor.organisation_id is None:
        return []
    programs = Program.objects.filter(
        organisation_id=actor.organisation_id, is_active=True
    ).select_related("organisation")
    return [p for p in programs if decide(actor, action, p, category, purpose)]


def _organisation_of(actor: User) -> Organisation:
    if actor.organisation is None:
        raise NotFound("No organisation.")
    return actor.organisation


def client_search(
    *, actor: User, query: str, purpose: Purpose = Purpose.TREATMENT, limit: int = SEARCH_LIMIT
) -> list[Client]:
    """Clients the actor may see whose name, record number or date of birth match ``query``.

    Names match given, family or preferred name, case-insensitively and partially; every word of
    the query must match one of them. ``YYYY-MM-DD`` matches the date of birth exactly. One audit
    event for the search, with the query in its detail; a refused actor gets ``Forbidden``.
    """
    query = (query or "").strip()[:100]
    organisation = _organisation_of(actor)
    authorize(
        actor,
        Action.LIST,
        organisation,
        DataCategory.DEMOGRAPHICS,
        purpose,
        detail={"search": query},
    )
    program_ids = [
        p.pk
        for p in programs_permitting(
            actor=actor, action=Action.LIST, category=DataCategory.DEMOGRAPHICS, purpose=purpose
        )
    ]
    if not query or not program_ids:
        return []
    rows = Client.objects.filter(organisation=organisation, program_id__in=program_ids)
    if _DATE_RE.match(query):
        try:
            rows = rows.filter(date_of_birth=date.fromisoformat(query))
        except ValueError:
            return []
    else:
        words = query.split()
        rows = rows.filter(
            Q(record_number__iexact=query)
            | reduce(
                and_,
                (
                    Q(legal_given_name__icontains=w)
                    | Q(legal_family_name__icontains=w)
                    | Q(preferred_name__icontains=w)
                    for w in words
                ),
            )
        )
    return list(rows.select_related("program", "organisation")[:limit])


def _episode_queryset() -> QuerySet[Episode]:
    return Episode.objects.select_related(
        "organisation", "program", "client", "client__organisation", "primary_clinician"
    )


def episode_get(
    *,
    actor: User,
    public_id: UUID,
    action: Action = Action.VIEW,
    purpose: Purpose = Purpose.TREATMENT,
) -> Episode:
    """One episode, if the actor may ``action`` the clinical record in the episode's program."""
    episode = _episode_queryset().filter(public_id=public_id).first()
    if episode is None:
        raise NotFound("No such episode.")
    authorize(actor, action, episode, DataCategory.CLINICAL_RECORD, purpose)
    return episode


def sud_assessment_get(
    *,
    actor: User,
    public_id: UUID,
    action: Action = Action.VIEW,
    purpose: Purpose = Purpose.TREATMENT,
) -> SudAssessment:
    assessment = (
        SudAssessment.objects.select_related(
            "organisation",
            "client",
            "episode__program",
            "episode__organisation",
            "episode__client__organisation",
            "assessed_by",
        )
        .filter(public_id=public_id)
        .first()
    )
    if assessment is None:
        raise NotFound("No such assessment.")
    authorize(actor, action, assessment, DataCategory.CLINICAL_RECORD, purpose)
    return assessment


def diagnosis_get(
    *,
    actor: User,
    public_id: UUID,
    action: Action = Action.VIEW,
    purpose: Purpose = Purpose.TREATMENT,
) -> Diagnosis:
    diagnosis = (
        Diagnosis.objects.select_related("organisation", "client", "episode", "confirmed_by")
        .filter(public_id=public_id)
        .first()
    )
    if diagnosis is None:
        raise NotFound("No such diagnosis.")
    authorize(actor, action, diagnosis, DataCategory.CLINICAL_RECORD, purpose)
    return diagnosis


def _episodes_of(client: Client) -> list[Episode]:
    return list(
        Episode.objects.filter(client=client)
        .select_related("program", "primary_clinician")
        .prefetch_related(
            Prefetch("substances", queryset=EpisodeSubstance.objects.order_by("rank"))
        )
    )


def episode_list(
    *, actor: User, client: Client, purpose: Purpose = Purpose.TREATMENT
) -> list[Episode]:
    """A client's episodes (with TEDS substances), if the actor may list their clinical record."""
    authorize(actor, Action.LIST, client, DataCategory.CLINICAL_RECORD, purpose)
    episodes = list(_episodes_of(client))
    for e in episodes:
        e.client = client  # reuse the loaded client (and its organisation) for access_scope
    return episodes


def diagnosis_list(
    *, actor: User, client: Client, purpose: Purpose = Purpose.TREATMENT
) -> list[Diagnosis]:
    authorize(actor, Action.LIST, client, DataCategory.CLINICAL_RECORD, purpose)
    return list(
        Diagnosis.objects.filter(client=client).select_related(
            "episode", "confirmed_by", "source_assessment"
        )
    )


def sud_assessment_list(
    *, actor: User, episode: Episode, purpose: Purpose = Purpose.TREATMENT
) -> list[SudAssessment]:
    authorize(actor, Action.LIST, episode, DataCategory.CLINICAL_RECORD, purpose)
    return list(SudAssessment.objects.filter(episode=episode).select_related("assessed_by"))


def asam_assessment_list(
    *, actor: User, episode: Episode, purpose: Purpose = Purpose.TREATMENT
) -> list[AsamAssessment]:
    authorize(actor, Action.LIST, episode, DataCategory.CLINICAL_RECORD, purpose)
    return list(AsamAssessment.objects.filter(episode=episode).select_related("assessed_by"))


@dataclass
class ClinicalChart:
    client: Client
    episodes: list[Episode] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    latest_asam: AsamAssessment | None = None
    sud_assessments: list[SudAssessment] = field(default_factory=list)

    @property
    def open_episodes(self) -> list[Episode]:
        return [e for e in self.episodes if e.is_open]

    @property
    def active_diagnoses(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if not d.entered_in_error and d.status == "active"]


def client_chart_clinical(
    *, actor: User, client: Client, purpose: Purpose = Purpose.TREATMENT
) -> ClinicalChart:
    """Episodes (each with its substances as ``substance_list``, by rank), diagnoses, SUD
    assessments and the latest ASAM assessment.

    One audit event (VIEW, clinical record) and a fixed number of queries whatever the size of
    the record: episodes + substances (2), diagnoses (1), assessments (1), latest ASAM (1).
    """
    authorize(actor, Action.VIEW, client, DataCategory.CLINICAL_RECORD, purpose)
    episodes: list[Episode] = list(
        Episode.objects.filter(client=client)
        .select_related("program", "primary_clinician")
        .prefetch_related(
            Prefetch(
                "substances",
                queryset=EpisodeSubstance.objects.order_by("rank"),
                to_attr="substance_list",
            )
        )
    )
    for e in episodes:
        e.client = client
    # The episodes are loaded already: attach them instead of joining them into every row.
    by_id = {e.pk: e for e in episodes}
    diagnoses = list(Diagnosis.objects.filter(client=client).select_related("confirmed_by"))
    assessments = list(SudAssessment.objects.filter(client=client).select_related("assessed_by"))
    latest_asam = (
        AsamAssessment.objects.filter(client=client)
        .select_related("assessed_by")
        .order_by("-assessed_at", "-id")
        .first()
    )
    for d in diagnoses:
        if d.episode_id in by_id:
            d.episode = by_id[d.episode_id]
    for a in assessments:
        if a.episode_id in by_id:
            a.episode = by_id[a.episode_id]
    if latest_asam is not None and latest_asam.episode_id in by_id:
        latest_asam.episode = by_id[latest_asam.episode_id]
    return ClinicalChart(
        client=client,
        episodes=episodes,
        diagnoses=diagnoses,
        latest_asam=latest_asam,
        sud_assessments=assessments,
    )
