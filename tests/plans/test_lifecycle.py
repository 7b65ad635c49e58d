"""The plan's life cycle: draft → frozen (signed and/or acknowledged) → active → superseded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.core.errors import Conflict, DomainError, Forbidden, InvalidInput
from iptcare.plans import selectors, services
from iptcare.plans.models import (
    PlanGoal,
    PlanImmutable,
    PlanProblem,
    PlanSettings,
    PlanStatus,
    TreatmentPlan,
)
from tests.plans.conftest import TODAY, complete_content

STEPS: dict[str, Callable[[User, TreatmentPlan], TreatmentPlan]] = {
    "sign": lambda a, p: services.plan_sign(actor=a, plan=p, version=p.version),
    "acknowledge": lambda a, p: services.plan_acknowledge(actor=a, plan=p, version=p.version),
    "cosign": lambda a, p: services.plan_cosign(actor=a, plan=p),
    "edit": lambda a, p: services.plan_update_draft(
        actor=a, plan=p, version=p.version, content_in=complete_content()
    ),
}


def _run(actors: dict[str, User], plan: TreatmentPlan, steps: str) -> TreatmentPlan:
    for step in steps.split():
        who, action = step.split(":")
        plan = STEPS[action](actors[who], plan)
    return plan


@pytest.fixture
def actors(theo: User, tina: User, sue: User) -> dict[str, User]:
    return {"theo": theo, "tina": tina, "sue": sue}


# (steps already taken, next step, expected error or the resulting status)
TRANSITIONS = [
    ("", "theo:edit", PlanStatus.DRAFT),
    ("", "theo:sign", PlanStatus.PENDING),
    ("", "theo:acknowledge", PlanStatus.PENDING),
    ("", "sue:cosign", services.InvalidTransition),
    ("theo:sign", "theo:acknowledge", PlanStatus.ACTIVE),
    ("theo:acknowledge", "theo:sign", PlanStatus.ACTIVE),
    ("theo:sign", "theo:edit", PlanImmutable),
    ("theo:acknowledge", "theo:edit", PlanImmutable),
    ("theo:sign", "theo:sign", services.InvalidTransition),
    ("theo:acknowledge", "theo:acknowledge", services.InvalidTransition),
    ("theo:sign", "sue:cosign", services.InvalidTransition),
    ("theo:sign theo:acknowledge", "theo:edit", PlanImmutable),
    ("theo:sign theo:acknowledge", "theo:sign", services.InvalidTransition),
    ("theo:sign theo:acknowledge", "theo:acknowledge", services.InvalidTransition),
    # A trainee's signature needs a supervisor's co-signature before the plan is active.
    ("tina:sign", "theo:acknowledge", PlanStatus.PENDING),
    ("tina:sign theo:acknowledge", "sue:cosign", PlanStatus.ACTIVE),
    ("tina:sign", "sue:cosign", PlanStatus.PENDING),
    ("tina:sign sue:cosign", "theo:acknowledge", PlanStatus.ACTIVE),
    ("theo:acknowledge tina:sign", "sue:cosign", PlanStatus.ACTIVE),
    ("tina:sign", "tina:cosign", Forbidden),  # a therapist has no supervision purpose
    ("tina:sign", "theo:cosign", Forbidden),
    ("tina:sign sue:cosign", "sue:cosign", services.InvalidTransition),
]


@pytest.mark.parametrize(("done", "step", "expected"), TRANSITIONS)
def test_transition_table(
    actors: dict[str, User], draft: TreatmentPlan, done: str, step: str, expected: object
) -> None:
    plan = _run(actors, draft, done) if done else draft
    if isinstance(expected, type) and issubclass(expected, Exception):
        before = TreatmentPlan.objects.get(pk=plan.pk)
        with pytest.raises(expected):
            _run(actors, plan, step)
        after = TreatmentPlan.objects.get(pk=plan.pk)
        assert (after.status, after.version) == (before.status, before.version)
    else:
        assert _run(actors, plan, step).status == expected
        assert TreatmentPlan.objects.get(pk=plan.pk).status == expected


def test_active_records_both_and_review_due(theo: User, active: TreatmentPlan) -> None:
    assert active.status == PlanStatus.ACTIVE
    assert active.signed_by == theo and active.signed_at is not None
    assert active.acknowledged_by == theo and active.acknowledgement_method == "in_person"
    assert active.review_due == TODAY + timedelta(days=30)
    assert services.digest_ok(active)


def test_review_interval_is_a_program_setting(theo: User, draft: TreatmentPlan) -> None:
    PlanSettings.objects.create(program=draft.episode.program, review_interval_days=14)
    plan = _run({"theo": theo}, draft, "theo:sign theo:acknowledge")
    assert plan.review_due == TODAY + timedelta(days=14)


def test_settings_update_is_for_administrators(theo: User, alice: User, episode) -> None:
    row = services.plan_settings_update(
        actor=alice, program=episode.program, review_interval_days=60
    )
    assert row.review_interval_days == 60
    with pytest.raises(Forbidden):
        services.plan_settings_update(actor=theo, program=episode.program, review_interval_days=9)
    with pytest.raises(InvalidInput) as err:
        services.plan_settings_update(actor=alice, program=episode.program, review_interval_days=1)
    assert "review_interval_days" in err.value.field_errors


def test_cosign_by_the_signer_is_refused(
    make_user: Callable[..., User], tina: User, draft: TreatmentPlan, org, northside
) -> None:
    from iptcare.access.vocabulary import Role

    trainee_supervisor = make_user(
        "ts@example.org",
        organisation=org,
        roles=(Role.CLINICAL_SUPERVISOR,),
        programs=(northside,),
        is_trainee=True,
    )
    signed = services.plan_sign(actor=trainee_supervisor, plan=draft, version=draft.version)
    assert signed.cosign_required
    with pytest.raises(Forbidden):
        services.plan_cosign(actor=trainee_supervisor, plan=signed)


def test_incomplete_plan_cannot_be_signed(theo: User, episode) -> None:
    plan = services.plan_start_version(actor=theo, episode=episode)
    with pytest.raises(InvalidInput) as err:
        services.plan_sign(actor=theo, plan=plan, version=plan.version)
    assert "problems" in err.value.field_errors
    content = complete_content()
    content["problems"][0]["goals"][0]["objectives"][0]["target_date"] = None
    plan = services.plan_update_draft(
        actor=theo, plan=plan, version=plan.version, content_in=content
    )
    with pytest.raises(InvalidInput) as err:
        services.plan_acknowledge(actor=theo, plan=plan, version=plan.version)
    assert list(err.value.field_errors) == ["problems.0.goals.0.objectives.0.target_date"]
    assert TreatmentPlan.objects.get(pk=plan.pk).status == PlanStatus.DRAFT


def test_stale_edit_is_a_conflict(theo: User, draft: TreatmentPlan) -> None:
    with pytest.raises(Conflict):
        services.plan_update_draft(
            actor=theo, plan=draft, version=draft.version - 1, content_in=complete_content()
        )
    with pytest.raises(Conflict):
        services.plan_sign(actor=theo, plan=draft, version=draft.version - 1)


def test_review_creates_a_new_version_and_supersedes(theo: User, active: TreatmentPlan) -> None:
    v2 = services.plan_start_version(actor=theo, episode=active.episode)
    assert (v2.number, v2.status, v2.based_on_id) == (2, PlanStatus.DRAFT, active.pk)
    old, new = selectors.plan_snapshots([active, v2]).values()
    assert old == new  # same content, same keys
    with pytest.raises(services.InvalidTransition):
        services.plan_start_version(actor=theo, episode=active.episode)
    _run({"theo": theo}, v2, "theo:sign")
    assert TreatmentPlan.objects.get(pk=active.pk).status == PlanStatus.ACTIVE
    v2 = TreatmentPlan.objects.get(pk=v2.pk)
    _run({"theo": theo}, v2, "theo:acknowledge")
    assert TreatmentPlan.objects.get(pk=active.pk).status == PlanStatus.SUPERSEDED
    assert TreatmentPlan.objects.get(pk=v2.pk).status == PlanStatus.ACTIVE
    assert TreatmentPlan.objects.filter(episode=active.episode).count() == 2


def test_outsiders_are_refused_every_write(
    tess: User, remy: User, oscar: User, draft: TreatmentPlan
) -> None:
    for actor in (tess, remy, oscar):
        for action in ("edit", "sign", "acknowledge"):
            with pytest.raises(DomainError):
                STEPS[action](actor, draft)
        with pytest.raises(DomainError):
            services.plan_start_version(actor=actor, episode=draft.episode)
    assert TreatmentPlan.objects.get(pk=draft.pk).version == draft.version
    denied = AuditEvent.objects.filter(outcome="denied", resource_id=str(draft.public_id))
    assert denied.count() == 9


def test_frozen_content_refused_through_orm_and_database(active: TreatmentPlan) -> None:
    problem = PlanProblem.objects.get(plan=active)
    problem.text = "changed"
    with pytest.raises(PlanImmutable):
        problem.save()
    with pytest.raises(PlanImmutable):
        problem.delete()
    with pytest.raises(PlanImmutable):
        active.delete()
    active.number = 7
    with pytest.raises(PlanImmutable):
        active.save()
    # Past the ORM's checks, the database refuses too.
    for attempt in (
        lambda: PlanProblem.objects.filter(plan=active).update(text="changed"),
        lambda: PlanGoal.objects.filter(plan=active).delete(),
        lambda: TreatmentPlan.objects.filter(pk=active.pk).update(status="draft"),
        lambda: TreatmentPlan.objects.filter(pk=active.pk).update(content_digest="x"),
        lambda: TreatmentPlan.objects.filter(pk=active.pk).delete(),
        lambda: PlanProblem.objects.create(plan=active, text="new"),
    ):
        with pytest.raises(Exception) as err, transaction.atomic():
            attempt()
        assert "frozen plan versions" in str(err.value) or isinstance(
            err.value, IntegrityError | PlanImmutable
        )
    assert PlanProblem.objects.get(plan=active).text != "changed"
    assert services.digest_ok(TreatmentPlan.objects.get(pk=active.pk))


def test_bad_input_gives_field_errors_and_changes_nothing(
    theo: User, tess: User, draft: TreatmentPlan
) -> None:
    before = selectors.plan_snapshot(draft)
    bad = complete_content()
    bad["problems"][0]["text"] = ""
    bad["problems"][0]["asam_dimension"] = 9
    bad["problems"][0]["goals"][0]["objectives"][0]["target_date"] = "soon"
    intervention = bad["problems"][0]["goals"][0]["objectives"][0]["interventions"][0]
    intervention["modality"] = "magic"
    intervention["responsible"] = str(tess.public_id)  # another program
    bad["medications"] = [
        {"name": "", "indication": "oud", "start_date": "2025-02-01", "stop_date": "2025-01-01"}
    ]
    with pytest.raises(InvalidInput) as err:
        services.plan_update_draft(actor=theo, plan=draft, version=draft.version, content_in=bad)
    objective = "problems.0.goals.0.objectives.0"
    assert set(err.value.field_errors) == {
        "problems.0.text",
        "problems.0.asam_dimension",
        f"{objective}.target_date",
        f"{objective}.interventions.0.modality",
        f"{objective}.interventions.0.responsible",
        "medications.0.name",
        "medications.0.stop_date",
    }
    fresh = TreatmentPlan.objects.get(pk=draft.pk)
    assert fresh.version == draft.version
    assert selectors.plan_snapshot(fresh) == before


def test_diagnosis_link_must_be_the_clients(
    theo: User, draft: TreatmentPlan, add_diagnosis, org, northside
) -> None:
    from iptcare.clients.models import Client

    other = Client.objects.create(
        organisation=org,
        program=northside,
        record_number="T-0002",
        legal_given_name="Other",
        legal_family_name="Person",
        date_of_birth=draft.episode.client.date_of_birth,
    )
    mine = add_diagnosis(draft.episode.client, "F10.20")
    theirs = add_diagnosis(other, "F11.20")
    content = complete_content()
    content["problems"][0]["diagnosis"] = str(theirs.public_id)
    with pytest.raises(InvalidInput) as err:
        services.plan_update_draft(
            actor=theo, plan=draft, version=draft.version, content_in=content
        )
    assert "problems.0.diagnosis" in err.value.field_errors
    content["problems"][0]["diagnosis"] = str(mine.public_id)
    plan = services.plan_update_draft(
        actor=theo, plan=draft, version=draft.version, content_in=content
    )
    assert selectors.plan_snapshot(plan)["problems"][0]["diagnosis_label"].startswith("F10.20")


def test_one_active_version_per_episode_in_the_database(active: TreatmentPlan) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentPlan.objects.create(
            episode=active.episode, number=9, created_by=active.created_by, status="draft"
        ).__class__.objects.create(
            episode=active.episode, number=10, created_by=active.created_by, status="draft"
        )
