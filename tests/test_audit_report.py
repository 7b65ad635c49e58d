"""ONC 170.315(d)(3): the administrators' audit report — filters, sorting, CSV export (audited)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from django.test import Client as HttpClient
from django.utils import timezone

from iptcare.access.policy import authorize
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.core.errors import Forbidden


def _seed(theo: User, tess: User, client_record: Client) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        authorize(theo, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    authorize(
        theo, Action.LIST, client_record.program, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT
    )
    with pytest.raises(Forbidden):
        authorize(tess, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)


def _rows(response: object) -> list[dict[str, str]]:
    content = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(content)))


def test_report_filters_by_user_client_action_and_time(
    alice: User,
    theo: User,
    tess: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    _seed(theo, tess, client_record)
    http = login_as(alice)
    page = http.get("/audit/", {"user": "theo@example.org"})
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 2
    by_client = http.get("/audit/", {"client": str(client_record.public_id)})
    assert by_client.context["page"].paginator.count == 2  # theo's view + tess's denied view
    by_action = http.get("/audit/", {"action": "list"})
    listed = list(by_action.context["page"])
    assert listed and all(e.action == "list" for e in listed)
    # theo's program list, and alice's own earlier views of this report (also audited)
    assert sorted({e.actor_email for e in listed}) == ["alice@example.org", "theo@example.org"]
    today = timezone.now().date().isoformat()
    recent = http.get("/audit/", {"user": "theo@example.org", "since": today, "until": today})
    assert recent.context["page"].paginator.count == 1


def test_report_sorts_by_any_column(
    alice: User,
    theo: User,
    tess: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    _seed(theo, tess, client_record)
    http = login_as(alice)

    def key(event: AuditEvent, column: str) -> object:
        # "chain" is the place in the trail: chain, then seq (ADR 0014).
        return (event.chain, event.seq) if column == "chain" else getattr(event, column)

    for column in ["actor_email", "outcome", "chain", "occurred_at", "action"]:
        asc = [key(e, column) for e in http.get("/audit/", {"sort": column}).context["page"]]
        desc = [key(e, column) for e in http.get("/audit/", {"sort": f"-{column}"}).context["page"]]
        assert asc == sorted(asc), column  # type: ignore[type-var]
        assert desc == sorted(desc, reverse=True), column  # type: ignore[type-var]
    # A link from before the chains sorted by "seq": the same order, chain then seq.
    for old, new in (("seq", "chain"), ("-seq", "-chain")):
        legacy = http.get("/audit/", {"sort": old})
        assert legacy.status_code == 200
        shown = [e.pk for e in legacy.context["page"]]
        # (Each view of the report is itself audited: the second has one event more.)
        now = [e.pk for e in http.get("/audit/", {"sort": new}).context["page"]]
        assert shown == [pk for pk in now if pk in shown] and len(shown) > 5
    # An order the report does not offer (a hand-edited address): the default, newest first.
    for bogus in ("hash", "-reason", "chain;drop", ""):
        response = http.get("/audit/", {"sort": bogus})
        assert response.status_code == 200, bogus
        times = [e.occurred_at for e in response.context["page"]]
        assert times == sorted(times, reverse=True) and len(times) > 5
    page = http.get("/audit/", {"sort": "chain"})
    assert b"chain:seq" in page.content
    first = page.context["page"][0]
    assert f"<td>{first.chain}:{first.seq}</td>".encode() in page.content


def test_report_refuses_bad_dates_with_a_field_error(
    alice: User, login_as: Callable[[User], HttpClient]
) -> None:
    response = login_as(alice).get("/audit/", {"since": "2026-02-10", "until": "2026-02-01"})
    assert response.status_code == 400
    assert b"The end date is before the start date" in response.content
    bad = login_as(alice).get("/audit/", {"since": "yesterday"})
    assert bad.status_code == 400 and b"Enter a valid date" in bad.content


def test_csv_export_has_the_filtered_rows_and_is_itself_audited(
    alice: User,
    theo: User,
    tess: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    _seed(theo, tess, client_record)
    response = login_as(alice).get("/audit/export.csv", {"client": str(client_record.public_id)})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _rows(response)
    assert {r["actor_email"] for r in rows} == {"theo@example.org", "tess@example.org"}
    assert {r["outcome"] for r in rows} == {"success", "denied"}
    export = AuditEvent.objects.get(action=Action.EXPORT)
    assert export.actor_id == alice.public_id and export.data_category == "audit_trail"
    assert export.detail["filters"]["client"] == str(client_record.public_id)


def test_csv_export_neutralises_formulas(
    alice: User, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(alice)
    http.get("/audit/", HTTP_USER_AGENT='=HYPERLINK("http://evil.example")')
    rows = _rows(http.get("/audit/export.csv"))
    assert all(not r["user_agent"].startswith("=") for r in rows)
    assert any(r["user_agent"].startswith("'=HYPERLINK") for r in rows)


def test_report_shows_only_the_admins_organisation(
    alice: User,
    oscar: User,
    theo: User,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    authorize(theo, Action.VIEW, client_record, DataCategory.DEMOGRAPHICS, Purpose.TREATMENT)
    page = login_as(oscar).get("/audit/")
    assert page.status_code == 200
    assert all(e.actor_email != "theo@example.org" for e in page.context["page"])


def test_non_admin_is_refused_and_audited(
    theo: User, login_as: Callable[[User], HttpClient]
) -> None:
    assert login_as(theo).get("/audit/").status_code == 403
    assert login_as(theo).get("/audit/export.csv").status_code == 403
    assert AuditEvent.objects.filter(actor_id=theo.public_id, outcome="denied").count() == 2
