"""Recovery pages: the page renders for theo (no inline script or style), its forms record
screens, days and returns to use, and refusals re-render with field errors, changing nothing."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.recovery.models import DrugScreen, ReturnToUseEvent, UseDay
from tests.recovery.conftest import TODAY, MakeScreen, RecordDays, days_ago

Login = Callable[[User], HttpClient]


def _url(client: Client, tail: str = "") -> str:
    return f"/clients/{client.public_id}/recovery/{tail}"


def _no_inline_code(html: str) -> None:
    assert "<script" not in html
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_recovery_page_shows_summary_screens_calendar_and_events(
    theo: User,
    client_record: Client,
    record_days: RecordDays,
    make_screen: MakeScreen,
    login_as: Login,
) -> None:
    record_days("uaaaaaaau", end_ago=1)
    make_screen(days_ago(1), fentanyl="positive", cocaine="negative")
    response = login_as(theo).get(_url(client_record), {"substance": "heroin"})
    assert response.status_code == 200
    html = response.content.decode()
    _no_inline_code(html)
    assert 'data-testid="abstinence-summary"' in html and "Heroin" in html
    assert "77.8 %" in html  # 7 abstinent of 9 days with data
    assert "Yes: offer naloxone" in html
    assert 'data-testid="tlfb-grid"' in html
    assert "Fentanyl" in html
    assert f"/screens/{DrugScreen.objects.get().public_id}/" in html


def test_the_chart_links_to_the_recovery_page(
    theo: User, client_record: Client, login_as: Login
) -> None:
    html = login_as(theo).get(f"/clients/{client_record.public_id}/").content.decode()
    assert _url(client_record) in html


def test_add_a_screen_from_the_page(theo: User, client_record: Client, login_as: Login) -> None:
    http = login_as(theo)
    response = http.post(
        _url(client_record, "screens/"),
        {
            "collected_at": f"{days_ago(1):%Y-%m-%d}T09:30",
            "specimen": "urine",
            "result_opiates": "negative",
            "result_benzodiazepines": "positive_expected",
            "expected_reason": "Diazepam taper",
            "result_thc": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    screen = DrugScreen.objects.get()
    assert sorted(screen.results.values_list("analyte", "result", "expected")) == [
        ("benzodiazepines", "positive", True),
        ("opiates", "negative", False),
    ]


def test_a_refused_screen_re_renders_with_errors(
    theo: User, client_record: Client, login_as: Login
) -> None:
    response = login_as(theo).post(
        _url(client_record, "screens/"),
        {"collected_at": f"{days_ago(1):%Y-%m-%d}T09:30", "specimen": "urine"},
    )
    assert response.status_code == 400
    assert "Give the result of at least one substance." in response.content.decode()
    assert not DrugScreen.objects.exists()


def test_record_days_from_the_month_form(
    theo: User, client_record: Client, login_as: Login
) -> None:
    http = login_as(theo)
    month = TODAY.replace(day=1)
    data = {"substance": "alcohol", "month": f"{month:%Y-%m}", "source": "clinician_interview"}
    data[f"day_{month.isoformat()}"] = "yes"
    data[f"amount_{month.isoformat()}"] = "3 drinks"
    response = http.post(_url(client_record, "days/"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    day = UseDay.objects.get()
    assert (day.date, day.substance, day.used, day.amount, day.version) == (
        month,
        "alcohol",
        True,
        "3 drinks",
        1,
    )
    # The page's form carries the version; a stale one is a 409 that changes nothing.
    page = http.get(_url(client_record), {"substance": "alcohol"}).content.decode()
    assert f'name="version_{month.isoformat()}" value="1"' in page
    data[f"day_{month.isoformat()}"] = "no"
    data[f"amount_{month.isoformat()}"] = ""
    data[f"version_{month.isoformat()}"] = "7"
    stale = http.post(_url(client_record, "days/"), data)
    assert stale.status_code == 409
    day.refresh_from_db()
    assert (day.used, day.version) == (True, 1)


def test_an_amount_on_a_day_without_use_is_refused(
    theo: User, client_record: Client, login_as: Login
) -> None:
    month = TODAY.replace(day=1)
    response = login_as(theo).post(
        _url(client_record, "days/"),
        {
            "substance": "alcohol",
            "month": f"{month:%Y-%m}",
            "source": "self_report",
            f"day_{month.isoformat()}": "no",
            f"amount_{month.isoformat()}": "3 drinks",
        },
    )
    assert response.status_code == 400
    assert "An amount is only recorded for a day of use." in response.content.decode()
    assert not UseDay.objects.exists()


def test_report_a_return_to_use_from_the_page(
    theo: User, client_record: Client, record_days: RecordDays, login_as: Login
) -> None:
    record_days("aaaaaaa", end_ago=2)
    response = login_as(theo).post(
        _url(client_record, "return-to-use/"),
        {"date": days_ago(1).isoformat(), "substance": "heroin", "note": "told me today"},
    )
    assert response.status_code == 302
    event = ReturnToUseEvent.objects.get()
    assert (event.after_abstinent_days, event.overdose_risk) == (7, True)


def test_screen_page_marks_a_result_expected(
    theo: User, make_screen: MakeScreen, login_as: Login
) -> None:
    screen = make_screen(days_ago(1), fentanyl="positive", cocaine="negative")
    http = login_as(theo)
    page = http.get(f"/screens/{screen.public_id}/")
    assert page.status_code == 200
    _no_inline_code(page.content.decode())
    response = http.post(
        f"/screens/{screen.public_id}/",
        {"analytes": ["fentanyl"], "reason": "Procedure sedation", "version": "1"},
    )
    assert response.status_code == 302
    assert screen.results.get(analyte="fentanyl").expected
    stale = http.post(
        f"/screens/{screen.public_id}/",
        {"analytes": ["fentanyl"], "reason": "again", "version": "1"},
    )
    # Nothing unexpected is left to mark: the form is gone, the page is refused as input.
    assert stale.status_code == 400


def test_a_bad_month_is_a_400_with_a_message(
    theo: User, client_record: Client, login_as: Login
) -> None:
    response = login_as(theo).get(_url(client_record), {"month": "2026-13"})
    assert response.status_code == 400
    assert "Give the month as YYYY-MM." in response.content.decode()
