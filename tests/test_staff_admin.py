"""Administrators manage users and roles in the app; every privilege change is audited with
before and after; bad input changes nothing; a stale edit is a conflict."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django_otp.plugins.otp_totp.models import TOTPDevice

from iptcare.access.vocabulary import Action, Role
from iptcare.accounts import services
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.core.errors import Conflict, Forbidden
from iptcare.core.models import Program


def _privilege_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=Action.PRIVILEGE_CHANGE).order_by("id"))


def test_admin_creates_a_user_who_gets_a_setup_link(
    alice: User,
    northside: Program,
    login_as: Callable[[User], HttpClient],
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    http = login_as(alice)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[attr-defined]
        response = http.post(
            "/staff/new/",
            {
                "email": "New.Person@Example.org",
                "full_name": "New Person",
                "roles": ["therapist", "nurse"],
                "programs": [northside.pk],
            },
        )
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.org")
    assert user.role_set == {Role.THERAPIST, Role.NURSE}
    assert set(user.programs.all()) == {northside}
    assert not user.has_usable_password()
    assert len(mail.outbox) == 1 and "set up your account" in mail.outbox[0].subject
    assert "therapist" not in mail.outbox[0].body  # emails carry no privileges or clinical content
    (event,) = _privilege_events()
    assert event.actor_id == alice.public_id
    assert event.detail["before"] is None
    assert event.detail["after"]["roles"] == ["nurse", "therapist"]


def test_admin_changes_roles_and_the_audit_has_before_and_after(
    alice: User,
    theo: User,
    northside: Program,
    riverside: Program,
    login_as: Callable[[User], HttpClient],
) -> None:
    http = login_as(alice)
    page = http.get(f"/staff/{theo.public_id}/")
    assert page.status_code == 200
    response = http.post(
        f"/staff/{theo.public_id}/",
        {
            "full_name": "Theo T.",
            "roles": ["therapist", "clinical_supervisor"],
            "programs": [northside.pk, riverside.pk],
            "is_active": "on",
            "version": theo.version,
        },
    )
    assert response.status_code == 302
    (event,) = _privilege_events()
    assert event.detail["before"]["roles"] == ["therapist"]
    assert event.detail["after"]["roles"] == ["clinical_supervisor", "therapist"]
    assert len(event.detail["after"]["programs"]) == 2
    assert event.detail["subject"] == "theo@example.org"


def test_stale_edit_is_a_conflict_and_changes_nothing(
    alice: User, theo: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(alice)
    form = {
        "full_name": "Theo",
        "roles": ["therapist"],
        "programs": [northside.pk],
        "is_active": "on",
        "version": theo.version,
    }
    assert http.post(f"/staff/{theo.public_id}/", {**form, "roles": ["nurse"]}).status_code == 302
    stale = http.post(f"/staff/{theo.public_id}/", {**form, "roles": ["prescriber"]})
    assert stale.status_code == 409
    assert b"Someone else changed this user" in stale.content
    theo.refresh_from_db()
    theo.forget_cached_privileges()
    assert theo.role_set == {Role.NURSE}


def test_bad_input_gets_field_errors_and_changes_nothing(
    alice: User, theo: User, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(alice)
    before = User.objects.count()
    response = http.post(
        "/staff/new/", {"email": "not-an-email", "full_name": "", "roles": ["wizard"]}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address" in html
    assert "This field is required" in html
    assert "Select a valid choice" in html
    dup = http.post(
        "/staff/new/", {"email": "THEO@example.org", "full_name": "Dup", "roles": ["nurse"]}
    )
    assert dup.status_code == 400 and b"already exists" in dup.content
    assert User.objects.count() == before
    assert _privilege_events() == []


def test_admin_cannot_demote_themself(alice: User, login_as: Callable[[User], HttpClient]) -> None:
    response = login_as(alice).post(
        f"/staff/{alice.public_id}/",
        {"full_name": "Alice", "roles": ["therapist"], "is_active": "on", "version": alice.version},
    )
    assert response.status_code == 400
    assert b"Ask another administrator" in response.content
    assert alice.role_grants.get().role == Role.ADMINISTRATOR


def test_deactivation_ends_the_users_sessions(
    alice: User, theo: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    theo_http = login_as(theo)
    assert theo_http.get("/").status_code == 200
    login_as(alice).post(
        f"/staff/{theo.public_id}/",
        {
            "full_name": "Theo",
            "roles": ["therapist"],
            "programs": [northside.pk],
            "version": theo.version,
        },
    )
    theo.refresh_from_db()
    assert not theo.is_active
    assert theo_http.get("/").status_code == 302


def test_admin_resets_mfa(alice: User, theo: User, login_as: Callable[[User], HttpClient]) -> None:
    TOTPDevice.objects.create(user=theo, name="old phone", confirmed=True)
    response = login_as(alice).post(f"/staff/{theo.public_id}/reset-mfa/")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=theo, name="old phone").exists()
    assert AuditEvent.objects.filter(
        action=Action.MFA_RESET, resource_id=str(theo.public_id)
    ).exists()


def test_non_admin_cannot_change_privileges(theo: User, alice: User) -> None:
    with pytest.raises(Forbidden):
        services.staff_update(
            actor=theo,
            user=alice,
            version=alice.version,
            full_name="x",
            roles=[Role.THERAPIST],
            programs=[],
            is_active=True,
        )
    assert _privilege_events() == []
    denied = AuditEvent.objects.get(outcome="denied")
    assert denied.actor_id == theo.public_id and denied.data_category == "staff_accounts"


def test_admin_cannot_touch_another_organisations_user(
    alice: User, oscar: User, login_as: Callable[[User], HttpClient]
) -> None:
    assert login_as(alice).get(f"/staff/{oscar.public_id}/").status_code == 404


def test_service_conflict_on_stale_version(alice: User, theo: User) -> None:
    services.staff_update(
        actor=alice,
        user=theo,
        version=theo.version,
        full_name="A",
        roles=[Role.THERAPIST],
        programs=[],
        is_active=True,
    )
    with pytest.raises(Conflict):
        services.staff_update(
            actor=alice,
            user=theo,
            version=theo.version,
            full_name="B",
            roles=[Role.NURSE],
            programs=[],
            is_active=True,
        )


def test_staff_list_query_count_does_not_grow_with_staff(
    alice: User,
    make_user: Callable[..., User],
    login_as: Callable[[User], HttpClient],
    northside: Program,
) -> None:
    http = login_as(alice)
    http.get("/staff/")  # warm caches (content types, sessions)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert http.get("/staff/").status_code == 200
        return len(ctx.captured_queries)

    base = count()
    for i in range(8):
        make_user(
            f"extra{i}@example.org",
            organisation=alice.organisation,
            roles=(Role.NURSE,),
            programs=(northside,),
        )
    assert count() == base
