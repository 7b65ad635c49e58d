"""Intake: the DSM-5 SUD checklist, diagnoses (confirmed, co-occurring, in error), ASAM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from iptcare.access.policy import writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients import dsm5
from iptcare.clients.choices import ASAM_DIMENSIONS, DiagnosisKind
from iptcare.clients.errors import InvalidTransition
from iptcare.clients.icd10_sud import SubstanceClass, proposed_code
from iptcare.clients.models import (
    ICD10CM_RE,
    AsamAssessment,
    Client,
    Diagnosis,
    Episode,
    SudAssessment,
)
from iptcare.clients.services._common import (
    full_clean_or_raise,
    lock_version,
    snapshot,
)
from iptcare.core.errors import InvalidInput

# --- intake: DSM-5 checklist, diagnoses, ASAM ------------------------------------------------


def _require_open(episode: Episode) -> None:
    if not episode.is_open:
        raise InvalidTransition(
            "The episode is closed; assessments belong to an open episode.",
            field_errors={"episode": ["The episode is closed."]},
        )


def sud_assessment_create(
    *,
    actor: User,
    episode: Episode,
    substance_class: str,
    answers: Mapping[str, bool],
    taken_as_prescribed: bool = False,
    notes: str = "",
) -> SudAssessment:
    """Record a DSM-5 checklist; the count, severity and proposed ICD-10-CM code are computed."""
    with writing(
        actor,
        Action.CREATE,
        episode,
        DataCategory.CLINICAL_RECORD,
        Purpose.TREATMENT,
        detail={"episode": str(episode.public_id)},
    ) as grant:
        unknown = sorted(set(answers) - set(dsm5.CRITERION_FIELDS))
        if unknown:
            raise InvalidInput(
                "Unknown criteria.", field_errors={k: ["Not a DSM-5 criterion."] for k in unknown}
            )
        if substance_class not in SubstanceClass.values:
            raise InvalidInput(
                "Choose a substance class.",
                field_errors={"substance_class": ["Choose a substance class."]},
            )
        _require_open(episode)
        count = dsm5.criteria_count(answers, taken_as_prescribed=taken_as_prescribed)
        severity = dsm5.severity_for(count)
        code = proposed_code(substance_class, severity)
        assessment = SudAssessment(
            organisation=episode.organisation,
            client=episode.client,
            episode=episode,
            substance_class=substance_class,
            taken_as_prescribed=taken_as_prescribed,
            criteria_count=count,
            severity=severity,
            proposed_code=code.code if code else "",
            notes=notes or "",
            assessed_by=actor,
            assessed_at=timezone.now(),
            **{name: bool(answers.get(name)) for name in dsm5.CRITERION_FIELDS},
        )
        full_clean_or_raise(
            assessment, exclude=["organisation", "client", "episode", "assessed_by"]
        )
        assessment.save()
        grant.record_as(assessment)
        grant.detail.update({"count": count, "severity": severity})
    return assessment


def diagnosis_confirm(
    *,
    actor: User,
    assessment: SudAssessment,
    code: str = "",
    description: str = "",
    override_reason: str = "",
) -> Diagnosis:
    """Confirm the assessment's proposed code, or override it with another code and a reason."""
    with writing(
        actor,
        Action.CREATE,
        assessment.episode,
        DataCategory.CLINICAL_RECORD,
        Purpose.TREATMENT,
        detail={"assessment": str(assessment.public_id)},
    ) as grant:
        proposal = proposed_code(assessment.substance_class, assessment.severity)
        code = (code or "").strip().upper()
        errors: dict[str, list[str]] = {}
        if not code or (proposal is not None and code == proposal.code):
            if proposal is None:
                raise InvalidInput(
                    "The checklist does not meet the DSM-5 threshold: enter a code and a reason.",
                    field_errors={"code": ["No code is proposed below two criteria."]},
                )
            code, description, override_reason = proposal.code, proposal.description, ""
        else:
            if not ICD10CM_RE.match(code):
                errors["code"] = ["Enter an ICD-10-CM code such as F11.20."]
            if not (override_reason or "").strip():
                errors["override_reason"] = ["Say why the proposed code is overridden."]
            if not (description or "").strip():
                errors["description"] = ["Describe the diagnosis."]
            if errors:
                raise InvalidInput("Please correct the diagnosis.", field_errors=errors)
        if assessment.diagnoses.filter(entered_in_error=False).exists():
            raise InvalidTransition(
                "This assessment already has a confirmed diagnosis.",
                field_errors={"code": ["Already confirmed."]},
            )
        diagnosis = Diagnosis(
            organisation=assessment.organisation,
            client=assessment.client,
            episode=assessment.episode,
            code=code,
            description=description.strip(),
            kind=DiagnosisKind.SUBSTANCE_USE,
            source_assessment=assessment,
            proposed_code=(proposal.code if proposal else "") if override_reason else "",
            override_reason=(override_reason or "").strip(),
            confirmed_by=actor,
            confirmed_at=timezone.now(),
        )
        full_clean_or_raise(
            diagnosis,
            exclude=["organisation", "client", "episode", "source_assessment", "confirmed_by"],
        )
        diagnosis.save()
        grant.record_as(diagnosis)
        # Whether the proposed code was overridden (the reason itself stays in the record).
        grant.detail["override"] = bool(override_reason)
    return diagnosis


def diagnosis_add(
    *,
    actor: User,
    client: Client,
    code: str,
    description: str,
    episode: Episode | None = None,
) -> Diagnosis:
    """A co-occurring diagnosis entered by ICD-10-CM code and text.

    Decided on the episode it is entered in (its program), or on the client; an episode of
    another client is bad input, decided (and recorded) as a diagnosis of ``client``."""
    own_episode = episode if episode is not None and episode.client_id == client.pk else None
    target: Any = own_episode if own_episode is not None else client
    with writing(
        actor, Action.CREATE, target, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
    ) as grant:
        if episode is not None and own_episode is None:
            raise InvalidInput(
                "The episode belongs to another client.",
                field_errors={"episode": ["Choose an episode of this client."]},
            )
        diagnosis = Diagnosis(
            organisation=client.organisation,
            client=client,
            episode=episode,
            code=(code or "").strip().upper(),
            description=(description or "").strip(),
            kind=DiagnosisKind.CO_OCCURRING,
            confirmed_by=actor,
            confirmed_at=timezone.now(),
        )
        full_clean_or_raise(
            diagnosis, exclude=["organisation", "client", "episode", "confirmed_by"]
        )
        diagnosis.save()
        grant.record_as(diagnosis)
    return diagnosis


def diagnosis_mark_entered_in_error(
    *, actor: User, diagnosis: Diagnosis, version: int, reason: str
) -> Diagnosis:
    """Mark a diagnosis entered in error (it stays in the record, struck through). The reason is
    free text: kept in the record, not in the audit event."""
    with writing(actor, Action.UPDATE, diagnosis, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT):
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput(
                "Give a reason.", field_errors={"reason": ["Say why it was entered in error."]}
            )
        locked = lock_version(Diagnosis, diagnosis.pk, version, "diagnosis")
        if locked.entered_in_error:
            raise InvalidTransition(
                "Already marked entered in error.", field_errors={"reason": ["Already marked."]}
            )
        locked.organisation, locked.client, locked.episode = (
            diagnosis.organisation,
            diagnosis.client,
            diagnosis.episode,
        )
        snapshot(actor=actor, instance=locked, client=diagnosis.client)
        locked.entered_in_error = True
        locked.entered_in_error_reason = reason[:500]
        locked.entered_in_error_by = actor
        locked.entered_in_error_at = timezone.now()
        locked.version += 1
        locked.save()
    return locked


def asam_assessment_create(
    *,
    actor: User,
    episode: Episode,
    ratings: Mapping[str, int],
    level_of_care: str,
    dimension_notes: Mapping[str, str] | None = None,
    notes: str = "",
) -> AsamAssessment:
    """Six dimension ratings (0-4) and the level of care the clinician chose (not computed)."""
    with writing(
        actor, Action.CREATE, episode, DataCategory.CLINICAL_RECORD, Purpose.TREATMENT
    ) as grant:
        prefixes = [p for p, _ in ASAM_DIMENSIONS]
        unknown = sorted(set(ratings) - set(prefixes)) + sorted(
            set(dimension_notes or {}) - set(prefixes)
        )
        if unknown:
            raise InvalidInput(
                "Unknown ASAM dimensions.",
                field_errors={k: ["Not an ASAM dimension (d1-d6)."] for k in unknown},
            )
        missing = [p for p in prefixes if ratings.get(p) is None]
        if missing:
            raise InvalidInput(
                "Rate every dimension.",
                field_errors={f"{p}_rating": ["Rate this dimension (0-4)."] for p in missing},
            )
        _require_open(episode)
        fields: dict[str, Any] = {}
        for p in prefixes:
            fields[f"{p}_rating"] = ratings[p]
            fields[f"{p}_notes"] = (dimension_notes or {}).get(p, "") or ""
        assessment = AsamAssessment(
            organisation=episode.organisation,
            client=episode.client,
            episode=episode,
            level_of_care=level_of_care or "",
            notes=notes or "",
            assessed_by=actor,
            assessed_at=timezone.now(),
            **fields,
        )
        full_clean_or_raise(
            assessment, exclude=["organisation", "client", "episode", "assessed_by"]
        )
        assessment.save()
        grant.record_as(assessment)
        grant.detail["level_of_care"] = level_of_care
    return assessment
