"""Recovery API: the routes work for theo, bad input is 422 problem+json and changes nothing,
stale edits are 409."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.plans.models import TreatmentPlan
from iptcare.recovery.models import DrugScreen, ReturnToUseEvent, UseDay
from tests.recovery.conftest import TODAY, RecordDays, at, days_ago

Login = Callable[[User], HttpClient]
PROBLEM = "application/problem+json"


def _send(http: HttpClient, method: str, url: str, body: dict[str, Any]) -> Any:
    return getattr(http, method)(url, data=json.dumps(body), content_type="application/json")


def _days(pattern: str, substance: str = "heroin", end_ago: int = 1) -> dict[str, Any]:
    start = days_ago(end_ago + len(pattern) - 1)
    return {
        "start": start.isoformat(),
        "end": days_ago(end_ago).isoformat(),
        "source": "self_report",
        "days": [
            {
                "date": days_ago(end_ago + len(pattern) - 1 - i).isoformat(),
                "substance": substance,
                "used": c == "u",
            }
            for i, c in enumerate(pattern)
            if c != "."
        ],
    }


def test_screens_create_list_detail_and_mark_expected(
    theo: User, client_record: Client, on_buprenorphine: TreatmentPlan, login_as: Login
) -> None:
    http = login_as(theo)
    base = f"/api/v1/clients/{client_record.public_id}/drug-screens"
    created = _send(
        http,
        "post",
        base,
        {
            "collected_at": at(days_ago(1)).isoformat(),
            "specimen": "urine",
            "results": [
                {"analyte": "buprenorphine", "result": "positive"},
                {"analyte": "fentanyl", "result": "positive"},
                {"analyte": "cocaine", "result": "negative"},
            ],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    results = {r["analyte"]: r for r in body["results"]}
    assert results["buprenorphine"]["expected"] and results["buprenorphine"]["expected_by"] == (
        "medication"
    )
    assert not results["fentanyl"]["expected"]
    assert results["fentanyl"]["substance"] == "other_opiates"
    assert [s["id"] for s in http.get(base).json()] == [body["id"]]
    detail = http.get(f"/api/v1/drug-screens/{body['id']}")
    assert detail.status_code == 200 and detail.json()["version"] == 1

    marked = _send(
        http,
        "post",
        f"/api/v1/drug-screens/{body['id']}/expected",
        {"version": 1, "analytes": ["fentanyl"], "reason": "Given in hospital"},
    )
    assert marked.status_code == 200, marked.content
    assert marked.json()["version"] == 2
    stale = _send(
        http,
        "post",
        f"/api/v1/drug-screens/{body['id']}/expected",
        {"version": 1, "analytes": ["fentanyl"], "reason": "again"},
    )
    assert stale.status_code == 409 and stale["Content-Type"] == PROBLEM


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"specimen": "sweat"}, "specimen"),
        ({"collected_at": "2026-01-01T10:00:00"}, "collected_at"),  # no offset
        ({"results": []}, "results"),
        ({"results": [{"analyte": "glue", "result": "positive"}]}, "results.0.analyte"),
        ({"results": [{"analyte": "thc", "result": "maybe"}]}, "results.0.result"),
        (
            {"results": [{"analyte": "thc", "result": "negative", "expected": True}]},
            "results.0.expected",
        ),
        ({"collected_by": "00000000-0000-0000-0000-000000000000"}, "collected_by"),
    ],
)
def test_screen_bad_input_is_422_and_changes_nothing(
    theo: User, client_record: Client, login_as: Login, change: dict[str, Any], field: str
) -> None:
    body = {
        "collected_at": at(days_ago(1)).isoformat(),
        "specimen": "urine",
        "results": [{"analyte": "thc", "result": "negative"}],
        **change,
    }
    response = _send(
        login_as(theo), "post", f"/api/v1/clients/{client_record.public_id}/drug-screens", body
    )
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not DrugScreen.objects.exists()


def test_use_days_put_get_and_events(theo: User, client_record: Client, login_as: Login) -> None:
    http = login_as(theo)
    url = f"/api/v1/clients/{client_record.public_id}/use-days"
    put = _send(http, "put", url, _days("uaaaaaaau"))
    assert put.status_code == 200, put.content
    body = put.json()
    assert (body["created"], body["changed"], body["unchanged"]) == (9, 0, 0)
    [event] = body["return_to_use_events"]
    assert (event["source"], event["after_abstinent_days"], event["overdose_risk"]) == (
        "calendar",
        7,
        True,
    )
    listed = http.get(url, {"start": days_ago(9).isoformat(), "end": days_ago(1).isoformat()})
    assert [d["used"] for d in listed.json()] == [True] + [False] * 7 + [True]

    # Correct the last day: needs the version; without it (or stale) 409, nothing changes.
    last = listed.json()[-1]
    edit = {
        "start": last["date"],
        "end": last["date"],
        "source": "self_report",
        "days": [{"date": last["date"], "substance": "heroin", "used": False}],
    }
    assert _send(http, "put", url, edit).status_code == 409
    edit["days"][0]["version"] = last["version"]
    fixed = _send(http, "put", url, edit)
    assert fixed.status_code == 200 and fixed.json()["changed"] == 1
    assert fixed.json()["withdrawn_events"] == [event["id"]]

    events = http.get(f"/api/v1/clients/{client_record.public_id}/return-to-use").json()
    assert events[0]["withdrawn_at"] is not None

    summary = http.get(
        f"/api/v1/clients/{client_record.public_id}/abstinence",
        {"start": days_ago(9).isoformat(), "end": days_ago(1).isoformat()},
    )
    assert summary.status_code == 200
    figures = summary.json()["any_substance"]
    assert (figures["days_with_data"], figures["days_abstinent"], figures["current_streak"]) == (
        9,
        8,
        8,
    )
    assert figures["percent_days_abstinent"] == 88.9


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source": "telepathy"}, "source"),
        ({"end": TODAY.replace(year=TODAY.year + 1).isoformat()}, "end"),
        ({"days": [{"date": "not a date", "substance": "heroin", "used": True}]}, "days.0.date"),
        (
            {"days": [{"date": days_ago(1).isoformat(), "substance": "tea", "used": True}]},
            "days.0.substance",
        ),
        (
            {
                "days": [
                    {
                        "date": days_ago(1).isoformat(),
                        "substance": "heroin",
                        "used": False,
                        "amount": "2",
                    }
                ]
            },
            "days.0.amount",
        ),
    ],
)
def test_use_days_bad_input_is_422_and_changes_nothing(
    theo: User, client_record: Client, login_as: Login, change: dict[str, Any], field: str
) -> None:
    body = {**_days("aau"), **change}
    response = _send(
        login_as(theo), "put", f"/api/v1/clients/{client_record.public_id}/use-days", body
    )
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not UseDay.objects.exists()


def test_clinician_reported_return_to_use(
    theo: User, client_record: Client, record_days: RecordDays, login_as: Login
) -> None:
    record_days("aaaaaaaaaa", substance="other_opiates", end_ago=2)
    http = login_as(theo)
    url = f"/api/v1/clients/{client_record.public_id}/return-to-use"
    created = _send(
        http,
        "post",
        url,
        {"date": days_ago(1).isoformat(), "substance": "other_opiates", "note": "pills"},
    )
    assert created.status_code == 201, created.content
    assert (created.json()["after_abstinent_days"], created.json()["overdose_risk"]) == (10, True)
    bad = _send(http, "post", url, {"date": days_ago(1).isoformat(), "substance": "tea"})
    assert bad.status_code == 422 and ReturnToUseEvent.objects.count() == 1


def test_an_outsider_is_refused_every_endpoint(
    tess: User, client_record: Client, record_days: RecordDays, login_as: Login
) -> None:
    record_days("aaau")
    http = login_as(tess)
    c = client_record.public_id
    for method, url, body in [
        ("get", f"/api/v1/clients/{c}/drug-screens", None),
        (
            "post",
            f"/api/v1/clients/{c}/drug-screens",
            {
                "collected_at": at(days_ago(1)).isoformat(),
                "specimen": "urine",
                "results": [{"analyte": "thc", "result": "negative"}],
            },
        ),
        ("get", f"/api/v1/clients/{c}/use-days", None),
        ("put", f"/api/v1/clients/{c}/use-days", _days("u")),
        ("get", f"/api/v1/clients/{c}/abstinence", None),
        ("get", f"/api/v1/clients/{c}/return-to-use", None),
        (
            "post",
            f"/api/v1/clients/{c}/return-to-use",
            {"date": "2026-01-01", "substance": "heroin"},
        ),
    ]:
        response = _send(http, method, url, body) if body else getattr(http, method)(url)
        assert response.status_code == 403, (url, response.status_code)
        assert b"Testbrook" not in response.content
    assert UseDay.objects.count() == 4 and ReturnToUseEvent.objects.count() == 1
