"""The episode state machine: every allowed and refused transition, and the one-open rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients import services
from iptcare.clients.choices import EpisodeStatus, Frequency, Route, TedsSubstance
from iptcare.clients.errors import InvalidTransition
from iptcare.clients.models import Client, Episode, EpisodeSubstance, RecordRevision
from iptcare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iptcare.core.models import Program
from tests.clients.conftest import REFERRED_ON, TODAY, admit, discharge
from tests.helpers import last_audit_id

S = EpisodeStatus


def in_state(state: str, theo: User, client: Client, refer: Callable[..., Episode]) -> Episode:
    episode = refer(client)
    if state in (S.ADMITTED, S.DISCHARGED):
        episode = admit(theo, episode)
    if state == S.DISCHARGED:
        episode = discharge(theo, episode)
    if state == S.CANCELLED:
        episode = services.episode_cancel(actor=theo, episode=episode, version=episode.version)
    assert episode.status == state
    return episode


def do(name: str, theo: User, episode: Episode) -> Episode:
    if name == "admit":
        return admit(theo, episode)
    if name == "discharge":
        return discharge(theo, episode)
    return services.episode_cancel(actor=theo, episode=episode, version=episode.version)


# (from state, transition) -> resulting state, or None when refused.
TABLE: dict[tuple[str, str], str | None] = {
    (S.REFERRED, "admit"): S.ADMITTED,
    (S.REFERRED, "discharge"): None,  # discharging a never-admitted client
    (S.REFERRED, "cancel"): S.CANCELLED,
    (S.ADMITTED, "admit"): None,  # admitting twice
    (S.ADMITTED, "discharge"): S.DISCHARGED,
    (S.ADMITTED, "cancel"): None,
    (S.DISCHARGED, "admit"): None,
    (S.DISCHARGED, "discharge"): None,
    (S.DISCHARGED, "cancel"): None,
    (S.CANCELLED, "admit"): None,
    (S.CANCELLED, "discharge"): None,
    (S.CANCELLED, "cancel"): None,
}


def test_the_table_covers_every_state_and_transition() -> None:
    assert set(TABLE) == {(s, t) for s in S.values for t in services.TRANSITIONS}
    for (source, name), target in TABLE.items():
        sources, end = services.TRANSITIONS[name]
        assert (source in sources) == (target is not None)
        assert target in (None, end)


@pytest.mark.parametrize(("source", "name"), list(TABLE))
def test_transition(
    theo: User,
    client_record: Client,
    refer: Callable[..., Episode],
    source: str,
    name: str,
) -> None:
    episode = in_state(source, theo, client_record, refer)
    expected = TABLE[(source, name)]
    before = last_audit_id()
    if expected is None:
        with pytest.raises(InvalidTransition) as exc:
            do(name, theo, episode)
        assert exc.value.status == 409 and source in exc.value.message.lower()
        stored = Episode.objects.get(pk=episode.pk)
        assert (stored.status, stored.version) == (source, episode.version)
        # Nothing written; one event says the write failed, and why (the fields, no values).
        (failure,) = AuditEvent.objects.filter(id__gt=before)
        assert failure.outcome == "failure" and failure.resource_id == str(episode.public_id)
        assert failure.reason == "failed: InvalidTransition (409); fields: status"
    else:
        result = do(name, theo, episode)
        assert result.status == expected and result.version == episode.version + 1
        (event,) = AuditEvent.objects.filter(id__gt=before)
        assert event.outcome == "success"
        assert event.detail["transition"] == name and event.detail["to"] == expected
        assert event.data_category == "clinical_record" and event.action == "update"
        assert RecordRevision.objects.filter(
            resource_id=episode.public_id, version=episode.version
        ).exists()


@pytest.mark.parametrize(
    ("source", "allowed"),
    [(S.REFERRED, False), (S.ADMITTED, False), (S.DISCHARGED, True), (S.CANCELLED, True)],
)
def test_a_second_episode_in_the_same_program_only_when_the_first_is_closed(
    theo: User,
    client_record: Client,
    refer: Callable[..., Episode],
    source: str,
    allowed: bool,
) -> None:
    in_state(source, theo, client_record, refer)
    if allowed:
        assert refer(client_record).status == S.REFERRED
    else:
        with pytest.raises(InvalidTransition):
            refer(client_record)
        assert Episode.objects.count() == 1


def test_an_open_episode_in_another_program_is_allowed(
    make_user: Callable[..., User],
    org: Any,
    northside: Program,
    riverside: Program,
    client_record: Client,
    refer: Callable[..., Episode],
) -> None:
    from iptcare.access.vocabulary import Role

    both = make_user(
        "bo@example.org", organisation=org, roles=(Role.THERAPIST,), programs=(northside, riverside)
    )
    refer(client_record, actor=both)
    other = refer(client_record, actor=both, program=riverside)
    assert other.program == riverside and Episode.objects.filter(status=S.REFERRED).count() == 2


def test_the_database_refuses_a_second_open_episode(referred: Episode) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Episode.objects.create(
            organisation=referred.organisation,
            program=referred.program,
            client=referred.client,
            status=S.ADMITTED,
            referral_date=REFERRED_ON,
            referral_source="individual",
        )


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"discharge_date": REFERRED_ON}, "discharge_date"),  # before admission
        ({"discharge_reason": ""}, "discharge_reason"),
        ({"discharge_date": TODAY + timedelta(days=1)}, "discharge_date"),
    ],
)
def test_discharge_refusals_change_nothing(
    theo: User, admitted: Episode, kw: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidTransition) as exc:
        discharge(theo, admitted, **kw)
    assert field in exc.value.field_errors
    stored = Episode.objects.get(pk=admitted.pk)
    assert (stored.status, stored.version, stored.discharge_date) == (S.ADMITTED, 2, None)
    assert not RecordRevision.objects.filter(version=2).exists()


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"admission_date": REFERRED_ON - timedelta(days=1)}, "admission_date"),
        ({"level_of_care": ""}, "level_of_care"),
        ({"level_of_care": "9.9"}, "level_of_care"),
        (
            {"substances": [services.SubstanceIn(1, "alcohol", "oral", "daily", 150)]},
            "substances.1.age_of_first_use",
        ),
        (
            {"substances": [services.SubstanceIn(2, "alcohol", "oral", "daily")]},
            "substances",
        ),
        (
            {
                "substances": [
                    services.SubstanceIn(1, "alcohol", "oral", "daily"),
                    services.SubstanceIn(3, "cocaine", "smoking", "1-2_week"),
                ]
            },
            "substances",
        ),
    ],
)
def test_admission_bad_input_changes_nothing(
    theo: User, referred: Episode, kw: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        admit(theo, referred, **kw)
    assert field in exc.value.field_errors
    stored = Episode.objects.get(pk=referred.pk)
    assert (stored.status, stored.version) == (S.REFERRED, 1)


def test_admission_records_teds_items(theo: User, referred: Episode) -> None:
    subs = [
        services.SubstanceIn(1, TedsSubstance.HEROIN, Route.INJECTION, Frequency.DAILY, 19),
        services.SubstanceIn(2, TedsSubstance.ALCOHOL, Route.ORAL, Frequency.WEEKLY_1_2, 15),
    ]
    episode = admit(
        theo,
        referred,
        substances=subs,
        prior_treatment_episodes=5,
        employment_status="unemployed",
        living_arrangement="homeless",
        arrests_past_30_days=1,
    )
    assert episode.prior_treatment_episodes == 5 and episode.living_arrangement == "homeless"
    assert list(
        EpisodeSubstance.objects.filter(episode=episode).values_list("rank", "substance")
    ) == [(1, "heroin"), (2, "alcohol")]


def test_stale_episode_version_is_a_conflict(theo: User, admitted: Episode) -> None:
    with pytest.raises(Conflict):
        discharge(theo, admitted, version=1)
    assert Episode.objects.get(pk=admitted.pk).status == S.ADMITTED


def test_outsiders_cannot_refer_or_transition(
    tess: User, remy: User, oscar: User, client_record: Client, referred: Episode
) -> None:
    for actor, error in ((tess, Forbidden), (remy, Forbidden), (oscar, NotFound)):
        with pytest.raises(error):
            admit(actor, referred)
        with pytest.raises(error):
            services.episode_refer(
                actor=actor,
                client=client_record,
                referral_date=REFERRED_ON,
                referral_source="individual",
                program=client_record.program,
            )
    assert Episode.objects.get(pk=referred.pk).status == S.REFERRED
    assert Episode.objects.count() == 1
