"""Episodes of care: a state machine (TRANSITIONS) of refer, admit, discharge, cancel."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from iptcare.access.policy import Grant, writing
from iptcare.access.scope import ResourceScope
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients.choices import EpisodeStatus
from iptcare.clients.errors import InvalidTransition
from iptcare.clients.models import (
    Client,
    Episode,
    EpisodeSubstance,
)
from iptcare.clients.services._common import (
    full_clean_or_raise,
    lock_version,
    snapshot,
)
from iptcare.core.errors import InvalidInput
from iptcare.core.models import Program

# --- episodes: a state machine -----------------------------------------------------------------

S = EpisodeStatus
# transition name -> (states it may start from, state it ends in)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "admit": (frozenset({S.REFERRED}), S.ADMITTED),
    "discharge": (frozenset({S.ADMITTED}), S.DISCHARGED),
    "cancel": (frozenset({S.REFERRED}), S.CANCELLED),
}


def _check_transition(episode: Episode, name: str) -> str:
    sources, target = TRANSITIONS[name]
    if episode.status not in sources:
        allowed = ", ".join(sorted(sources))
        raise InvalidTransition(
            f"Cannot {name} an episode that is {EpisodeStatus(episode.status).label.lower()} "
            f"(only from: {allowed}).",
            field_errors={"status": [f"The episode is {episode.status}."]},
        )
    return target


@dataclass(frozen=True)
class SubstanceIn:
    rank: int
    substance: str
    route: str
    frequency: str
    age_of_first_use: int | None = None


@dataclass(frozen=True)
class _At:
    """A resource that does not exist yet, described by where it will live."""

    access_scope: ResourceScope


def _episode_scope(*, program: Program, client: Client) -> ResourceScope:
    """Where a new episode of ``client`` in ``program`` will live (the client's organisation:
    a program of another one is refused as bad input inside the write)."""
    return ResourceScope(
        organisation_id=client.organisation_id,
        organisation_public_id=client.organisation.public_id,
        program_id=program.pk,
        resource_type="episode",
        resource_id="",
        client_id=client.public_id,
    )


def episode_refer(
    *,
    actor: User,
    client: Client,
    referral_date: date,
    referral_source: str,
    program: Program | None = None,
    primary_clinician: User | None = None,
) -> Episode:
    """Open an episode (status referred) in ``program`` (default: the client's program)."""
    program = program or client.program
    scope = _episode_scope(program=program, client=client)
    with writing(
        actor,
        Action.CREATE,
        _At(scope),
        DataCategory.CLINICAL_RECORD,
        Purpose.TREATMENT,
        detail={"transition": "refer"},
    ) as grant:
        if program.organisation_id != client.organisation_id:
            raise InvalidInput(
                "The program belongs to another organisation.",
                field_errors={"program": ["Choose a program of this organisation."]},
            )
        _check_clinician(primary_clinician, program)
        episode = Episode(
            organisation_id=client.organisation_id,
            program=program,
            client=client,
            status=EpisodeStatus.REFERRED,
            referral_date=referral_date,
            referral_source=referral_source or "",
            primary_clinician=primary_clinician,
        )
        episode.organisation = client.organisation
        if referral_date and referral_date > timezone.localdate():
            raise InvalidInput(
                "The referral date is in the future.",
                field_errors={"referral_date": ["Enter a date that is not in the future."]},
            )
        full_clean_or_raise(episode, exclude=["organisation", "program", "client"])
        try:
            Client.objects.select_for_update().filter(pk=client.pk).first()
            if Episode.objects.filter(
                client=client, program=program, status__in=[S.REFERRED, S.ADMITTED]
            ).exists():
                raise InvalidTransition(
                    f"{client.display_name} already has an open episode in {program.name}.",
                    field_errors={"program": ["An open episode exists in this program."]},
                )
            episode.save()
        except IntegrityError as exc:  # a concurrent referral won the race (the DB constraint)
            raise InvalidTransition(
                f"{client.display_name} already has an open episode in {program.name}.",
                field_errors={"program": ["An open episode exists in this program."]},
            ) from exc
        grant.record_as(episode)
        grant.detail["to"] = S.REFERRED
    return episode


def _check_clinician(clinician: User | None, program: Program) -> None:
    if clinician is None:
        return
    if clinician.organisation_id != program.organisation_id or not clinician.is_active:
        raise InvalidInput(
            "The primary clinician must be an active staff member of this organisation.",
            field_errors={"primary_clinician": ["Choose a staff member of this organisation."]},
        )


def _writing_transition(actor: User, episode: Episode, name: str) -> AbstractContextManager[Grant]:
    """The write of one transition of TRANSITIONS (``writing``: the decision, then one
    transaction and its one event)."""
    return writing(
        actor,
        Action.UPDATE,
        episode,
        DataCategory.CLINICAL_RECORD,
        Purpose.TREATMENT,
        detail={"transition": name},
    )


def _transition(
    *,
    actor: User,
    grant: Grant,
    episode: Episode,
    version: int,
    name: str,
    apply: Callable[[Episode], None],
    detail: dict[str, Any] | None = None,
    after_save: Callable[[Episode], None] | None = None,
) -> Episode:
    """Run one transition of TRANSITIONS under a row lock, inside its write (``grant``).
    ``detail`` is added to the write's event once the transition is done (so a value that
    failed validation never reaches a failure's event)."""
    locked = lock_version(Episode, episode.pk, version, "episode")
    locked.organisation, locked.client, locked.program = (
        episode.organisation,
        episode.client,
        episode.program,
    )
    source = locked.status
    target = _check_transition(locked, name)
    snapshot(actor=actor, instance=locked, client=episode.client)
    apply(locked)
    locked.status = target
    full_clean_or_raise(locked, exclude=["organisation", "program", "client"])
    locked.version += 1
    locked.save()
    if after_save is not None:
        after_save(locked)
    grant.detail.update({"from": source, "to": target, **(detail or {})})
    return locked


def _validate_substances(substances: Iterable[SubstanceIn]) -> list[SubstanceIn]:
    items = list(substances)
    errors: dict[str, list[str]] = {}
    ranks = [s.rank for s in items]
    if len(set(ranks)) != len(ranks) or any(r not in (1, 2, 3) for r in ranks):
        errors["substances"] = ["Ranks are 1 (primary), 2 (secondary), 3 (tertiary), each once."]
    elif items and 1 not in ranks:
        errors["substances"] = ["Give the primary substance (rank 1) first."]
    elif 3 in ranks and 2 not in ranks:
        errors["substances"] = ["Give the secondary substance (rank 2) before a tertiary one."]
    for s in items:
        row = EpisodeSubstance(
            rank=s.rank,
            substance=s.substance,
            route=s.route,
            frequency=s.frequency,
            age_of_first_use=s.age_of_first_use,
        )
        try:
            row.full_clean(exclude=["episode"])
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(f"substances.{s.rank}.{key}", []).extend(messages)
    if errors:
        raise InvalidInput("Some substance entries are invalid.", field_errors=errors)
    return items


def episode_admit(
    *,
    actor: User,
    episode: Episode,
    version: int,
    admission_date: date,
    level_of_care: str,
    substances: Iterable[SubstanceIn] = (),
    prior_treatment_episodes: int | None = None,
    employment_status: str = "",
    living_arrangement: str = "",
    arrests_past_30_days: int | None = None,
    primary_clinician: User | None = None,
) -> Episode:
    """referred → admitted, with the TEDS admission items."""

    def apply(e: Episode) -> None:
        e.admission_date = admission_date
        e.level_of_care = level_of_care
        e.prior_treatment_episodes = prior_treatment_episodes
        e.employment_status = employment_status or ""
        e.living_arrangement = living_arrangement or ""
        e.arrests_past_30_days = arrests_past_30_days
        if primary_clinician is not None:
            e.primary_clinician = primary_clinician

    with _writing_transition(actor, episode, "admit") as grant:
        items = _validate_substances(substances)
        errors: dict[str, list[str]] = {}
        if admission_date is None:
            errors["admission_date"] = ["Enter the admission date."]
        elif admission_date < episode.referral_date:
            errors["admission_date"] = ["The admission date is before the referral date."]
        elif admission_date > timezone.localdate():
            errors["admission_date"] = ["Enter a date that is not in the future."]
        if not level_of_care:
            errors["level_of_care"] = ["Choose the level of care."]
        if errors and episode.status == S.REFERRED:
            raise InvalidInput("Please correct the admission details.", field_errors=errors)
        _check_clinician(primary_clinician, episode.program)

        def add_substances(e: Episode) -> None:
            EpisodeSubstance.objects.filter(episode=e).delete()
            EpisodeSubstance.objects.bulk_create(
                [
                    EpisodeSubstance(
                        episode=e,
                        rank=s.rank,
                        substance=s.substance,
                        route=s.route,
                        frequency=s.frequency,
                        age_of_first_use=s.age_of_first_use,
                    )
                    for s in items
                ]
            )

        admitted = _transition(
            actor=actor,
            grant=grant,
            episode=episode,
            version=version,
            name="admit",
            apply=apply,
            after_save=add_substances,
            detail={"level_of_care": level_of_care},
        )
    return admitted


def episode_discharge(
    *,
    actor: User,
    episode: Episode,
    version: int,
    discharge_date: date,
    discharge_reason: str,
    discharge_note: str = "",
) -> Episode:
    """admitted → discharged. The date may not precede admission; a reason is required."""

    def apply(e: Episode) -> None:
        errors: dict[str, list[str]] = {}
        if not discharge_reason:
            errors["discharge_reason"] = ["Give the reason for discharge."]
        if discharge_date is None:
            errors["discharge_date"] = ["Enter the discharge date."]
        elif e.admission_date and discharge_date < e.admission_date:
            errors["discharge_date"] = ["The discharge date is before the admission date."]
        elif discharge_date > timezone.localdate():
            errors["discharge_date"] = ["Enter a date that is not in the future."]
        if errors:
            raise InvalidTransition(
                "Cannot discharge: " + " ".join(m for ms in errors.values() for m in ms),
                field_errors=errors,
            )
        e.discharge_date = discharge_date
        e.discharge_reason = discharge_reason
        e.discharge_note = discharge_note or ""

    with _writing_transition(actor, episode, "discharge") as grant:
        discharged = _transition(
            actor=actor,
            grant=grant,
            episode=episode,
            version=version,
            name="discharge",
            apply=apply,
            detail={"discharge_reason": discharge_reason},
        )
    return discharged


def episode_cancel(*, actor: User, episode: Episode, version: int, reason: str = "") -> Episode:
    """referred → cancelled: a referral that never started. (The reason is free text: it is
    kept in the record, not in the audit event.)"""

    def apply(e: Episode) -> None:
        e.cancel_reason = (reason or "").strip()[:500]

    with _writing_transition(actor, episode, "cancel") as grant:
        cancelled = _transition(
            actor=actor, grant=grant, episode=episode, version=version, name="cancel", apply=apply
        )
    return cancelled
