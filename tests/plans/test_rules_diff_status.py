"""Suggestion rules at their boundaries, the readable diff, and review status for the caseload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.core.errors import Conflict, InvalidInput
from iptcare.plans import content, selectors, services
from iptcare.plans.models import SuggestionDecision, TreatmentPlan
from iptcare.plans.rules import RULES, PlanFacts, audit_zone, evaluate
from tests.plans.conftest import TODAY, complete_content


def codes(**facts: object) -> set[str]:
    return {r.code for r in evaluate(PlanFacts(**facts))}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "fires"),
    [
        ({"audit_total": None}, False),
        ({"audit_total": 15}, False),
        ({"audit_total": 16}, True),
        ({"audit_total": 19}, True),
        ({"audit_total": 20}, True),
        ({"audit_total": 40}, True),
    ],
)
def test_audit_zone_rule(facts: dict, fires: bool) -> None:
    assert ("maud_consider" in codes(**facts)) is fires


@pytest.mark.parametrize(
    ("total", "zone"), [(None, None), (7, 1), (8, 2), (15, 2), (16, 3), (19, 3), (20, 4), (40, 4)]
)
def test_audit_zones(total: int | None, zone: int | None) -> None:
    assert audit_zone(total) == zone


@pytest.mark.parametrize(
    ("importance", "confidence", "fires"),
    [
        (None, None, False),
        (4, 4, False),
        (3, 9, True),
        (9, 3, True),
        (4, None, False),
        (None, 0, True),
    ],
)
def test_readiness_rule(importance: int | None, confidence: int | None, fires: bool) -> None:
    found = codes(readiness_importance=importance, readiness_confidence=confidence)
    assert ("mi_first" in found) is fires


@pytest.mark.parametrize(
    ("diagnoses", "medication", "expected"),
    [
        (("F11.20",), False, {"moud_discuss"}),
        (("F11.20",), True, set()),
        (("f11.10",), False, {"moud_discuss"}),
        (("F10.20",), False, set()),
        (("F32.1", "F10.20"), False, {"ipt_depression_focus"}),
        (("F33.0", "F19.20"), False, {"ipt_depression_focus"}),
        (("F32.1",), False, set()),
        (("F32.1", "F11.20"), True, {"ipt_depression_focus"}),
        (("F41.1", "F10.20"), False, set()),
        ((), False, set()),
    ],
)
def test_diagnosis_rules(diagnoses: tuple, medication: bool, expected: set) -> None:
    assert codes(diagnosis_codes=diagnoses, has_oud_medication=medication) == expected


def test_every_rule_is_transparent_and_no_rule_claims_ipt_treats_substance_use() -> None:
    for rule in RULES:
        assert rule.suggestion and rule.rule_text and rule.source
    ipt = [r for r in RULES if "IPT" in r.suggestion]
    assert [r.code for r in ipt] == ["ipt_depression_focus"]
    assert "depression" in ipt[0].suggestion
    assert "mixed" in ipt[0].rule_text


def test_oud_rule_sees_current_medication_only() -> None:
    snap = {"problems": [], "medications": [{"key": "k", "indication": "oud", "stop_date": None}]}
    assert content.has_current_medication(snap, indication="oud", today=TODAY)
    snap["medications"][0]["stop_date"] = (TODAY - timedelta(days=1)).isoformat()
    assert not content.has_current_medication(snap, indication="oud", today=TODAY)
    snap["medications"][0]["indication"] = "aud"
    snap["medications"][0]["stop_date"] = None
    assert not content.has_current_medication(snap, indication="oud", today=TODAY)


def _snap(goal: str = "I want calm evenings.", date: str = "2030-01-01") -> dict:
    return {
        "problems": [
            {
                "key": "p1",
                "text": "Drinking",
                "diagnosis_label": "",
                "ipt_problem_area": "role_dispute",
                "asam_dimension": 5,
                "goals": [
                    {
                        "key": "g1",
                        "text": goal,
                        "objectives": [
                            {
                                "key": "o1",
                                "text": "Four dry evenings",
                                "target_date": date,
                                "measure_code": "",
                                "target_text": "",
                                "interventions": [
                                    {
                                        "key": "i1",
                                        "modality": "ipt",
                                        "frequency": "weekly",
                                        "description": "",
                                        "responsible_label": "Theo",
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
        "medications": [],
    }


def test_diff_same_is_empty() -> None:
    assert content.plan_diff(_snap(), _snap()) == []


def test_diff_added_removed_changed_readable() -> None:
    old, new = _snap(), _snap(goal="I want peaceful evenings.", date="2030-02-01")
    new["problems"][0]["goals"][0]["objectives"][0]["interventions"] = [
        {
            "key": "i2",
            "modality": "cbt",
            "frequency": "weekly",
            "description": "",
            "responsible_label": "",
        }
    ]
    new["medications"] = [
        {
            "key": "m1",
            "name": "Naltrexone",
            "indication": "aud",
            "prescriber_label": "",
            "outside_prescriber": "Dr Example",
        }
    ]
    new["problems"][0]["ipt_problem_area"] = "role_transition"
    lines = [str(e) for e in content.plan_diff(old, new)]
    assert lines == [
        "Problem changed: “Drinking” — IPT problem area “Role dispute” → “Role transition”",
        "Goal changed: “I want peaceful evenings.” — text “I want calm evenings.” → "
        "“I want peaceful evenings.”",
        "Objective changed: “Four dry evenings” — target date “2030-01-01” → “2030-02-01”",
        "Intervention added: “Cognitive behavioural therapy (CBT), weekly”",
        "Intervention removed: “Interpersonal psychotherapy (IPT), weekly”",
        "Medication added: “Naltrexone”",
    ]
    kinds = {(e.kind, e.change) for e in content.plan_diff(old, new)}
    assert kinds == {
        ("problem", "changed"),
        ("goal", "changed"),
        ("objective", "changed"),
        ("intervention", "added"),
        ("intervention", "removed"),
        ("medication", "added"),
    }
    back = {(e.kind, e.change) for e in content.plan_diff(new, old)}
    assert ("medication", "removed") in back


def test_diff_between_stored_versions(theo: User, active: TreatmentPlan) -> None:
    v2 = services.plan_start_version(actor=theo, episode=active.episode)
    snap = selectors.plan_snapshot(v2)
    snap["problems"][0]["goals"][0]["text"] = "I want my evenings back."
    v2 = services.plan_update_draft(actor=theo, plan=v2, version=v2.version, content_in=snap)
    snaps = selectors.plan_snapshots([active, v2])
    diff = content.plan_diff(snaps[active.pk], snaps[v2.pk])
    assert [(e.kind, e.change) for e in diff] == [("goal", "changed")]


def test_review_status_due_and_overdue(
    theo: User, active: TreatmentPlan, client_record: Client
) -> None:
    status = selectors.plan_review_status_for_clients(client_ids=[client_record.pk, 999_999])
    assert status[client_record.pk] == (1, TODAY + timedelta(days=30), False)
    assert status[999_999] == (None, None, False)
    later = selectors.plan_review_status_for_clients(
        client_ids=[client_record.pk], today=TODAY + timedelta(days=31)
    )
    assert later[client_record.pk].overdue
    on_the_day = selectors.plan_review_status_for_clients(
        client_ids=[client_record.pk], today=TODAY + timedelta(days=30)
    )
    assert not on_the_day[client_record.pk].overdue


def test_review_status_constant_queries(theo: User, org, northside) -> None:
    import random

    from iptcare.clients.choices import EpisodeStatus
    from iptcare.clients.models import Episode
    from iptcare.plans import demo

    clients = []
    for n in range(10):
        c = Client.objects.create(
            organisation=org,
            program=northside,
            record_number=f"Q-{n}",
            legal_given_name="Q",
            legal_family_name=f"Client{n}",
            date_of_birth=TODAY.replace(year=1990),
        )
        Episode.objects.create(
            organisation=org,
            program=northside,
            client=c,
            status=EpisodeStatus.ADMITTED,
            primary_clinician=theo,
            referral_date=TODAY - timedelta(days=90),
            referral_source="individual",
            admission_date=TODAY - timedelta(days=80),
        )
        clients.append(c)
    episodes = list(Episode.objects.select_related("client", "primary_clinician"))
    demo.generate(episodes=episodes, rng=random.Random(1), today=TODAY, share=1.0)
    counts = []
    for ids in ([c.pk for c in clients[:2]], [c.pk for c in clients]):
        with CaptureQueriesContext(connection) as ctx:
            result = selectors.plan_review_status_for_clients(client_ids=ids)
        counts.append(len(ctx.captured_queries))
        assert all(r.active_plan_version for r in result.values())
    assert counts == [1, 1]


def test_suggestions_decided_are_recorded_audited_and_not_shown_again(
    theo: User, draft: TreatmentPlan, add_diagnosis
) -> None:
    add_diagnosis(draft.episode.client, "F11.20")
    snap = selectors.plan_snapshot(draft)
    facts = selectors.plan_facts(draft, snap, readiness_importance=2)
    shown = selectors.pending_suggestions(draft, facts, [])
    assert [r.code for r in shown] == ["moud_discuss", "mi_first"]
    row = services.suggestion_decide(
        actor=theo, plan=draft, rule_code="moud_discuss", decision="accepted", note="Referred."
    )
    assert (row.decided_by, row.decision, row.note) == (theo, "accepted", "Referred.")
    event = AuditEvent.objects.filter(resource_id=str(draft.public_id)).order_by("-id").first()
    assert event is not None and event.detail["suggestion"] == "moud_discuss"
    again = selectors.pending_suggestions(draft, facts, selectors.suggestion_decisions(draft))
    assert [r.code for r in again] == ["mi_first"]
    with pytest.raises(Conflict):
        services.suggestion_decide(
            actor=theo, plan=draft, rule_code="moud_discuss", decision="dismissed"
        )
    with pytest.raises(InvalidInput) as err:
        services.suggestion_decide(actor=theo, plan=draft, rule_code="nope", decision="maybe")
    assert set(err.value.field_errors) == {"rule_code", "decision"}
    assert SuggestionDecision.objects.filter(plan=draft).count() == 1


def test_oud_medication_entry_silences_the_moud_prompt(
    theo: User, draft: TreatmentPlan, add_diagnosis
) -> None:
    add_diagnosis(draft.episode.client, "F11.20")
    content_in = complete_content()
    content_in["medications"] = [
        {
            "name": "Buprenorphine",
            "dose": "16 mg",
            "indication": "oud",
            "outside_prescriber": "Community clinic",
        }
    ]
    plan = services.plan_update_draft(
        actor=theo, plan=draft, version=draft.version, content_in=content_in
    )
    facts = selectors.plan_facts(plan, selectors.plan_snapshot(plan))
    assert facts.has_oud_medication
    assert selectors.pending_suggestions(plan, facts, []) == []


def test_demo_writes_overdue_and_second_versions(theo: User, org, northside) -> None:
    import random

    from iptcare.clients.choices import EpisodeStatus
    from iptcare.clients.models import Episode
    from iptcare.plans import demo

    for n in range(30):
        c = Client.objects.create(
            organisation=org,
            program=northside,
            record_number=f"D-{n}",
            legal_given_name="D",
            legal_family_name=f"Demo{n}",
            date_of_birth=TODAY.replace(year=1980),
        )
        Episode.objects.create(
            organisation=org,
            program=northside,
            client=c,
            status=EpisodeStatus.ADMITTED,
            primary_clinician=theo,
            referral_date=TODAY - timedelta(days=200),
            referral_source="individual",
            admission_date=TODAY - timedelta(days=190),
        )
    episodes = list(Episode.objects.select_related("client", "primary_clinician"))
    written = demo.generate(episodes=episodes, rng=random.Random(7), today=TODAY)
    active = TreatmentPlan.objects.filter(status="active")
    assert 20 <= active.count() < written
    assert TreatmentPlan.objects.filter(status="superseded").exists()
    assert active.filter(review_due__lt=TODAY).exists()
    assert active.filter(review_due__gte=TODAY).exists()
    assert all(services.digest_ok(p) for p in TreatmentPlan.objects.select_related("episode"))
