"""The JSON API: OpenAPI, problem+json errors, bearer tokens (hashed, expiring, revocable),
session auth with CSRF and MFA."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as HttpClient
from django.utils import timezone

from iptcare.accounts.models import ApiToken, User, hash_token_secret
from iptcare.accounts.services import token_create
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.core.models import Program

PROBLEM = "application/problem+json"


def _bearer(token: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {token}"}}


def test_openapi_is_served(db: None) -> None:
    response = HttpClient().get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/clients/{client_id}" in spec["paths"]


def test_anonymous_gets_problem_json_401(client_record: Client) -> None:
    response = HttpClient().get(f"/api/v1/clients/{client_record.public_id}")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == 401 and body["title"] == "Unauthorized"


def test_token_created_by_cli_authenticates_and_is_stored_hashed(
    theo: User, client_record: Client
) -> None:
    out = StringIO()
    call_command("token", "create", "--email", "THEO@example.org", "--days", "7", stdout=out)
    plaintext = out.getvalue().strip()
    assert plaintext.startswith("ipt_")
    token = ApiToken.objects.get(user=theo)
    assert plaintext not in (token.secret_hash, token.prefix)
    assert token.secret_hash == hash_token_secret(plaintext.split("_", 2)[2])
    assert token.expires_at - timezone.now() > timedelta(days=6, hours=23)
    response = HttpClient().get(f"/api/v1/clients/{client_record.public_id}", **_bearer(plaintext))
    assert response.status_code == 200
    assert response.json()["record_number"] == "T-0001"
    event = AuditEvent.objects.filter(client_id=client_record.public_id).get()
    assert event.actor_id == theo.public_id and event.outcome == "success"


def test_token_cli_refuses_bad_input(theo: User) -> None:
    with pytest.raises(CommandError, match="between 1 and"):
        call_command("token", "create", "--email", "theo@example.org", "--days", "0")
    with pytest.raises(CommandError, match="no user"):
        call_command("token", "create", "--email", "ghost@example.org", "--days", "3")
    assert not ApiToken.objects.exists()


def test_expired_token_is_refused(theo: User) -> None:
    issued = token_create(user=theo, name="t", days=1)
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = HttpClient().get("/api/v1/me", **_bearer(issued.plaintext))
    assert response.status_code == 401


def test_revoked_token_is_refused(theo: User) -> None:
    issued = token_create(user=theo, name="t", days=3)
    http = HttpClient()
    assert http.get("/api/v1/me", **_bearer(issued.plaintext)).status_code == 200
    response = http.delete(f"/api/v1/tokens/{issued.token.public_id}", **_bearer(issued.plaintext))
    assert response.status_code == 204
    assert http.get("/api/v1/me", **_bearer(issued.plaintext)).status_code == 401
    out = StringIO()
    call_command("token", "list", "--email", "theo@example.org", stdout=out)
    assert "revoked" in out.getvalue()


def test_token_of_a_deactivated_user_is_refused(theo: User) -> None:
    issued = token_create(user=theo, name="t", days=3)
    User.objects.filter(pk=theo.pk).update(is_active=False)
    assert HttpClient().get("/api/v1/me", **_bearer(issued.plaintext)).status_code == 401


@pytest.mark.parametrize("garbage", ["nonsense", "ipt_", "ipt_abcd_", "ipt_deadbeef_wrongsecret"])
def test_malformed_tokens_are_refused(theo: User, garbage: str) -> None:
    token_create(user=theo, name="t", days=3)
    assert HttpClient().get("/api/v1/me", **_bearer(garbage)).status_code == 401


def test_forbidden_is_problem_json_and_audited(remy: User, client_record: Client) -> None:
    issued = token_create(user=remy, name="t", days=3)
    response = HttpClient().get(
        f"/api/v1/clients/{client_record.public_id}", **_bearer(issued.plaintext)
    )
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert "de-identified" in response.json()["detail"] or "no role" in response.json()["detail"]
    assert AuditEvent.objects.filter(outcome="denied", actor_id=remy.public_id).count() == 1


def test_other_organisation_gets_404(oscar: User, client_record: Client) -> None:
    issued = token_create(user=oscar, name="t", days=3)
    response = HttpClient().get(
        f"/api/v1/clients/{client_record.public_id}", **_bearer(issued.plaintext)
    )
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_validation_errors_name_each_field(alice: User, northside: Program) -> None:
    issued = token_create(user=alice, name="t", days=3)
    response = HttpClient().post(
        "/api/v1/staff",
        data={"email": "nope", "full_name": "", "roles": ["wizard"]},
        content_type="application/json",
        **_bearer(issued.plaintext),
    )
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"email", "full_name", "roles.0"} <= fields
    assert User.objects.count() == 1


def test_api_staff_update_with_stale_version_is_409(alice: User, theo: User) -> None:
    issued = token_create(user=alice, name="t", days=3)
    http = HttpClient()
    body = {"version": theo.version, "full_name": "Theo", "roles": ["nurse"], "programs": []}
    url = f"/api/v1/staff/{theo.public_id}"
    ok = http.put(url, data=body, content_type="application/json", **_bearer(issued.plaintext))
    assert ok.status_code == 200 and ok.json()["version"] == theo.version + 1
    stale = http.put(
        url,
        data={**body, "roles": ["prescriber"]},
        content_type="application/json",
        **_bearer(issued.plaintext),
    )
    assert stale.status_code == 409
    assert stale["Content-Type"] == PROBLEM


def test_session_auth_requires_csrf_for_writes(
    alice: User, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(alice)
    assert http.get("/api/v1/me").json()["email"] == "alice@example.org"
    http.handler.enforce_csrf_checks = True
    response = http.post(
        "/api/v1/staff",
        data={"email": "x@example.org", "full_name": "X", "roles": ["nurse"]},
        content_type="application/json",
    )
    assert response.status_code in {401, 403}
    assert not User.objects.filter(email="x@example.org").exists()


def test_session_without_mfa_is_refused_by_the_api(theo: User) -> None:
    http = HttpClient()
    http.force_login(theo, backend="iptcare.accounts.backends.EmailBackend")
    response = http.get("/api/v1/me")
    assert response.status_code == 401
    assert "Multi-factor" in response.json()["detail"]


def test_program_clients_lists_only_in_scope(
    theo: User, tess: User, client_record: Client, northside: Program
) -> None:
    theo_token = token_create(user=theo, name="t", days=3).plaintext
    tess_token = token_create(user=tess, name="t", days=3).plaintext
    url = f"/api/v1/programs/{northside.public_id}/clients"
    assert [c["record_number"] for c in HttpClient().get(url, **_bearer(theo_token)).json()] == [
        "T-0001"
    ]
    assert HttpClient().get(url, **_bearer(tess_token)).status_code == 403
