"""The stateless instrument API: list, definition, score; errors as problem+json."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.accounts.services import token_create
from iptcare.audit.models import AuditEvent

SHIPPED = {"phq-9", "gad-7", "audit", "audit-c", "dast-10", "mspss", "readiness-ruler"}


def _api(user: User) -> dict[str, Any]:
    token = token_create(user=user, name="integration", days=1).plaintext
    return {"headers": {"Authorization": f"Bearer {token}"}}


def _post(http: HttpClient, path: str, body: object, auth: dict[str, Any]) -> Any:
    return http.post(path, data=json.dumps(body), content_type="application/json", **auth)


def test_list_names_every_shipped_instrument(theo: User) -> None:
    response = HttpClient().get("/api/v1/instruments", **_api(theo))
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()}
    assert set(rows) >= SHIPPED
    assert rows["phq-9"]["items"] == 9 and rows["phq-9"]["total_loinc"] == "44261-6"


def test_definition_gives_each_item_with_code_display_and_score(theo: User) -> None:
    response = HttpClient().get("/api/v1/instruments/dast-10", **_api(theo))
    assert response.status_code == 200
    body = response.json()
    assert [i["number"] for i in body["items"]] == [str(n) for n in range(1, 11)]
    item3 = {o["code"]: o["score"] for o in body["items"][2]["options"]}
    item1 = {o["code"]: o["score"] for o in body["items"][0]["options"]}
    # DAST-10 item 3 is the reversed one: "no" scores 1 (Skinner 1982).
    assert item1 == {"yes": 1, "no": 0}
    assert item3 == {"yes": 0, "no": 1}
    assert all({"code", "display", "score"} <= set(o) for o in body["items"][0]["options"])


def test_score_returns_total_band_and_safety_flag(theo: User) -> None:
    answers = {str(n): "0" for n in range(1, 10)} | {"9": "1"}
    response = _post(
        HttpClient(), "/api/v1/instruments/phq-9/score", {"answers": answers}, _api(theo)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1 and body["band"]["code"] == "minimal"
    assert [f["code"] for f in body["flags"]] == ["item-9-self-harm"]
    assert body["flags"][0]["severity"] == "safety" and body["complete"] is True


def test_score_with_context_picks_the_cutoff(theo: User) -> None:
    answers = {"1": "1", "2": "1", "3": "1"}
    auth = _api(theo)
    http = HttpClient()
    women = _post(
        http,
        "/api/v1/instruments/audit-c/score",
        {"answers": answers, "context": {"sex": "female"}},
        auth,
    )
    men = _post(
        http,
        "/api/v1/instruments/audit-c/score",
        {"answers": answers, "context": {"sex": "male"}},
        auth,
    )
    assert women.status_code == men.status_code == 200
    assert women.json()["total"] == 3
    assert women.json()["screens"][0]["positive"] is True
    assert men.json()["screens"][0]["positive"] is False


def test_invalid_answers_get_422_naming_each_bad_item(theo: User) -> None:
    answers = {str(n): "0" for n in range(1, 10)} | {"3": "7", "12": "1", "5": 2}
    response = _post(
        HttpClient(), "/api/v1/instruments/phq-9/score", {"answers": answers}, _api(theo)
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(fields) == {"answers.3", "answers.answers", "answers.5"}  # "12" is no item
    assert "'7' is not an option for item 3" in fields["answers.3"]
    assert "no item '12'" in fields["answers.answers"]


def test_missing_items_give_no_total_and_say_so(theo: User) -> None:
    answers = {str(n): "1" for n in range(1, 7)}
    response = _post(
        HttpClient(), "/api/v1/instruments/gad-7/score", {"answers": answers}, _api(theo)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] is None and body["band"] is None
    assert body["complete"] is False and body["missing"] == ["7"]


def test_unknown_instrument_is_404(theo: User) -> None:
    auth = _api(theo)
    assert HttpClient().get("/api/v1/instruments/phq-10", **auth).status_code == 404
    response = _post(HttpClient(), "/api/v1/instruments/phq-10/score", {"answers": {}}, auth)
    assert response.status_code == 404


def test_anonymous_is_refused_and_nothing_is_audited(theo: User) -> None:
    assert HttpClient().get("/api/v1/instruments").status_code == 401
    response = _post(HttpClient(), "/api/v1/instruments/phq-9/score", {"answers": {}}, {})
    assert response.status_code == 401
    auth = _api(theo)  # issuing the token is itself audited
    before = AuditEvent.objects.count()
    _post(HttpClient(), "/api/v1/instruments/phq-9/score", {"answers": {"1": "0"}}, auth)
    assert AuditEvent.objects.count() == before
