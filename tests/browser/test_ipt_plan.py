"""Issue 4 end to end, in Debian's Chromium: a therapist builds the interpersonal inventory,
sees the closeness circle and what changed since the first inventory, chooses a problem area,
writes the formulation and contract, then creates, signs and reviews the treatment plan."""

from __future__ import annotations

import base64
import re
from datetime import date, timedelta

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Locator, Page, expect

from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.ipt.models import (
    Formulation,
    InventoryPerson,
    InventoryRevision,
    ProblemArea,
    ProblemAreaKind,
    TreatmentContract,
)
from iptcare.plans.models import PlanStatus, TreatmentPlan
from tests.conftest import PASSWORD
from tests.helpers import totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORMULATION = (
    "Low mood and heavier drinking since the arguments with her sister about their mother's care."
)
GOAL_1 = "I want to stop fighting with my sister"
OBJECTIVE_1 = "Two calm conversations with her sister"
GOAL_2 = "I want to spend my evenings away from K."
OBJECTIVE_2 = "Three evenings a week with sober company"


def _form(page: Page, button: str) -> Locator:
    """The form whose submit button is named ``button``."""
    return page.locator("form").filter(has=page.get_by_role("button", name=button, exact=True))


def _add_section(page: Page, what: str) -> Locator:
    """The plan editor's "Add <what>" card."""
    return (
        page.get_by_test_id("current-plan")
        .locator("section.card")
        .filter(has=page.get_by_role("heading", name=f"Add {what}", exact=True))
    )


def _ring_entries(figure: Locator, ring: str) -> Locator:
    """The list under a ring's heading in a circle's text equivalent."""
    return figure.locator("figcaption h3", has_text=re.compile(f"^{re.escape(ring)}$")).locator(
        "xpath=following-sibling::*[1][self::ul]"
    )


def _add_person(page: Page, *, name: str, relation: str, ring: str, checks: list[str]) -> None:
    details = page.locator("#inventory details").filter(
        has=page.locator("summary", has_text="Add a person")
    )
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    form = _form(page, "Add (creates a new revision)")
    form.get_by_label("Name or alias").fill(name)
    form.get_by_label("Relation").fill(relation)
    form.get_by_label("Ring", exact=True).select_option(label=ring)
    for label in checks:
        form.get_by_label(label, exact=True).check()
    form.get_by_role("button", name="Add (creates a new revision)").click()
    expect(page.locator(".messages")).to_contain_text(f"Inventory saved: {name}.")


def test_inventory_circle_formulation_and_plan_review(
    live_server: object, theo: User, client_record: Client, page: Page
) -> None:
    episode = Episode.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        client=client_record,
        status="admitted",
        primary_clinician=theo,
        referral_date=date.today() - timedelta(days=30),
        referral_source="individual",
        admission_date=date.today() - timedelta(days=28),
        level_of_care="1",
    )
    device = TOTPDevice.objects.create(user=theo, name="phone", confirmed=True)
    secret = base64.b32encode(device.bin_key).decode()
    base = str(live_server)

    # --- Log in with MFA, caseload → chart → IPT ------------------------------------------
    page.goto(f"{base}/account/login/")
    page.get_by_label("Email").fill("theo@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("6-digit code from your authenticator app").fill(totp(secret))
    page.get_by_role("button", name="Verify").click()

    page.get_by_role("link", name="Caseload").click()
    page.get_by_role("link", name=re.compile("Wren Testbrook")).click()
    expect(page.get_by_role("heading", name="Wren Testbrook")).to_be_visible()
    page.get_by_role("link", name="IPT", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/episodes/{episode.public_id}/ipt/"))
    heading = page.get_by_role("heading", name=re.compile("Interpersonal psychotherapy"))
    expect(heading).to_contain_text("Wren Testbrook")

    # --- Inventory: two people, then one moves closer (three revisions) -------------------
    _add_person(
        page, name="Sister R.", relation="sister", ring="Middle ring", checks=["Supports recovery"]
    )
    _add_person(
        page,
        name="Old friend K.",
        relation="friend",
        ring="Outer ring",
        checks=["Uses substances with or around the client", "Is a risk to recovery"],
    )
    page.locator("#inventory tr", has_text="Sister R.").get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Change a person")).to_be_visible()
    edit = _form(page, "Save as a new revision")
    expect(edit.get_by_label("Name or alias")).to_have_value("Sister R.")
    edit.get_by_label("Ring", exact=True).select_option(label="Inner ring (closest)")
    edit.get_by_role("button", name="Save as a new revision").click()
    expect(page.locator(".messages")).to_contain_text("Inventory saved: Sister R.")

    # --- The circle, its text equivalent, and the changes since the first inventory ------
    inventory = page.locator("#inventory")
    expect(inventory).to_contain_text("Revision 3")
    circle = inventory.get_by_role("img", name=re.compile("Closeness circle, inventory revision 3"))
    expect(circle).to_be_visible()
    expect(circle.locator("g.person")).to_have_count(2)
    current = inventory.locator("figure").first
    expect(_ring_entries(current, "Inner ring (closest)")).to_contain_text(
        "Sister R. (sister): supports recovery"
    )
    expect(_ring_entries(current, "Outer ring")).to_contain_text(
        "Old friend K. (friend): uses substances with or around the client; a risk to recovery"
    )
    expect(_ring_entries(current, "Middle ring")).to_have_count(0)  # "Nobody." now

    changes = page.locator("#changes")
    expect(changes.get_by_role("heading", name="Moved closer")).to_be_visible()
    expect(changes).to_contain_text("Sister R.: middle → inner ring")
    expect(changes.get_by_role("heading", name="New in the inventory")).to_be_visible()
    expect(changes.get_by_role("img")).to_have_count(2)
    first = changes.locator("figure").first
    expect(_ring_entries(first, "Middle ring")).to_contain_text("Sister R.")

    # --- Problem area, formulation, contract ----------------------------------------------
    page.locator("#formulation summary", has_text="Choose a problem area").click()
    area = _form(page, "Choose")
    area.get_by_label("Problem area", exact=True).select_option(label="Role dispute")
    area.get_by_label("Role dispute with (from the inventory)").select_option(
        label="Sister R. (sister)"
    )
    area.get_by_label("Stage of the dispute").select_option(
        label="Renegotiation (both still trying)"
    )
    area.get_by_role("button", name="Choose").click()
    expect(page.locator(".messages")).to_contain_text("Problem area chosen.")
    formulation = page.locator("#formulation")
    expect(formulation).to_contain_text("Role dispute with Sister R.")
    expect(formulation).to_contain_text("Renegotiation (both still trying)")

    form = _form(page, "Save as a new version")
    form.get_by_label("Interpersonal formulation").fill(FORMULATION)
    form.get_by_role("button", name="Save as a new version").click()
    expect(page.locator(".messages")).to_contain_text("Formulation saved as a new version.")
    expect(formulation.locator("blockquote")).to_have_text(FORMULATION)

    contract = _form(page, "Save contract")
    contract.get_by_label("Agreed IPT sessions").fill("16")
    contract.get_by_role("button", name="Save contract").click()
    expect(page.locator("#contract")).to_contain_text("16 IPT sessions from")

    # --- Treatment plan: version 1 ---------------------------------------------------------
    page.get_by_role("link", name="Chart of Wren Testbrook").click()
    page.get_by_role("link", name="Treatment plan", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/episodes/{episode.public_id}/plan/"))
    page.get_by_role("button", name="Start the plan").click()
    plan = page.get_by_test_id("current-plan")
    expect(plan.get_by_role("heading", name="Version 1 · Draft")).to_be_visible()

    problem = _add_section(page, "problem")
    problem.get_by_label("Problem", exact=True).fill("Depressed mood tied to a dispute with sister")
    problem.get_by_label("IPT problem area").select_option(label="Role dispute")
    problem.get_by_role("button", name="Add").click()
    expect(plan).to_contain_text("Problem 1: Depressed mood tied to a dispute with sister")

    goal = _add_section(page, "goal")
    goal.get_by_label("Goal, in the client's words").fill(GOAL_1)
    goal.get_by_role("button", name="Add").click()
    expect(plan).to_contain_text(f"Goal: “{GOAL_1}”")

    objective = _add_section(page, "objective")
    objective.get_by_label("Under").select_option(label=GOAL_1)
    objective.get_by_label("Measurable objective").fill(OBJECTIVE_1)
    target = (date.today() + timedelta(days=56)).isoformat()
    objective.get_by_label("Target date").fill(target)
    objective.get_by_role("button", name="Add").click()
    expect(plan).to_contain_text(f"{OBJECTIVE_1} — by {target}")

    intervention = _add_section(page, "intervention")
    intervention.get_by_label("Under").select_option(label=OBJECTIVE_1)
    intervention.get_by_label("Modality").select_option(label="Interpersonal psychotherapy (IPT)")
    intervention.get_by_label("Frequency").fill("weekly, 50 minutes")
    intervention.get_by_label("Responsible team member").select_option(label="Theo")
    intervention.get_by_role("button", name="Add").click()
    expect(plan).to_contain_text("weekly, 50 minutes")
    expect(plan).to_contain_text("Theo")

    page.get_by_role("button", name="Sign the plan").click()
    expect(page.locator(".messages")).to_contain_text("Plan signed.")
    page.get_by_role("button", name="Record the client's acknowledgement (in person)").click()
    expect(page.locator(".messages")).to_contain_text("acknowledgement is recorded")
    active = page.get_by_test_id("active-plan")
    expect(active).to_contain_text("Version 1 · active since")
    expect(active.locator(".signatures")).to_contain_text("In person (recorded by staff)")
    expect(page.get_by_test_id("current-plan")).to_have_count(0)

    # --- Review: version 2 adds a second goal ----------------------------------------------
    page.get_by_role("button", name="Start a review (new version)").click()
    expect(plan.get_by_role("heading", name="Version 2 · Draft")).to_be_visible()
    expect(plan).to_contain_text(f"Goal: “{GOAL_1}”")  # copied from version 1

    goal.get_by_label("Goal, in the client's words").fill(GOAL_2)
    goal.get_by_role("button", name="Add").click()
    expect(plan).to_contain_text(f"Goal: “{GOAL_2}”")
    objective.get_by_label("Under").select_option(label=GOAL_2)
    objective.get_by_label("Measurable objective").fill(OBJECTIVE_2)
    objective.get_by_label("Target date").fill(target)
    objective.get_by_role("button", name="Add").click()
    expect(plan).to_contain_text(OBJECTIVE_2)
    intervention.get_by_label("Under").select_option(label=OBJECTIVE_2)
    intervention.get_by_label("Modality").select_option(label="Peer support")
    intervention.get_by_label("Frequency").fill("twice weekly")
    intervention.get_by_role("button", name="Add").click()
    expect(plan).to_contain_text("twice weekly")

    page.get_by_role("button", name="Sign the plan").click()
    expect(page.locator(".messages")).to_contain_text("Plan signed.")
    page.get_by_role("button", name="Record the client's acknowledgement (in person)").click()
    expect(active).to_contain_text("Version 2 · active since")
    expect(active).to_contain_text(GOAL_2)

    history = page.get_by_test_id("history")
    expect(history.locator("> ol > li").nth(0)).to_contain_text("Version 2 · Active")
    expect(history.locator("> ol > li").nth(1)).to_contain_text("Version 1 · Superseded")
    expect(history).to_contain_text(f"Goal added: “{GOAL_2}”")
    history.get_by_role("link", name="changes since version 1").click()
    expect(page.get_by_role("heading", name="Changes from version 1 to version 2")).to_be_visible()
    diff = page.get_by_test_id("diff")
    expect(diff).to_contain_text(f"Goal added: “{GOAL_2}”")
    expect(diff).to_contain_text(f"Objective added: “{OBJECTIVE_2}”")
    expect(diff).not_to_contain_text(GOAL_1)

    # --- What the database holds ------------------------------------------------------------
    revisions = InventoryRevision.objects.filter(episode=episode)
    assert revisions.count() >= 3
    latest = revisions.order_by("-number").first()
    assert latest is not None
    rings = dict(InventoryPerson.objects.filter(revision=latest).values_list("name", "ring"))
    assert rings == {"Sister R.": "inner", "Old friend K.": "outer"}
    area_row = ProblemArea.objects.get(episode=episode)
    assert area_row.kind == ProblemAreaKind.ROLE_DISPUTE and area_row.dispute_with == "Sister R."
    assert area_row.stage_entries.get().stage == "renegotiation"
    assert Formulation.objects.get(episode=episode).text == FORMULATION
    assert TreatmentContract.objects.get(episode=episode).sessions == 16
    plans = list(TreatmentPlan.objects.filter(episode=episode).order_by("number"))
    assert [(p.number, p.status) for p in plans] == [
        (1, PlanStatus.SUPERSEDED),
        (2, PlanStatus.ACTIVE),
    ]
    assert all(p.signed_by_id == theo.pk and p.acknowledged_at for p in plans)
    assert not any(p.cosign_required for p in plans)
