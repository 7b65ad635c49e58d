"""Pages and API routes: the happy path for theo, refusal for outsiders on every new route, and
query-count guards on lists."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from iptcare.accounts.models import User
from iptcare.clients import services
from iptcare.clients.models import Client, Diagnosis, Episode, SudAssessment
from iptcare.clients.selectors import client_chart_clinical
from iptcare.core.models import Organisation, Program
from tests.clients.conftest import REFERRED_ON, TODAY, admit

PROBLEM = "application/problem+json"


def post_json(http: HttpClient, url: str, body: dict[str, Any], method: str = "post") -> Any:
    return getattr(http, method)(
        url, data=json.dumps(body, default=str), content_type="application/json"
    )


# --- pages ---------------------------------------------------------------------------------------


def test_search_page(
    login_as: Callable[[User], HttpClient], theo: User, client_record: Client, river_client: Client
) -> None:
    http = login_as(theo)
    page = http.get("/clients/?q=e")
    assert page.status_code == 200
    assert "Testbrook" in page.content.decode() and "Rivermoor" not in page.content.decode()


def test_create_page_warns_of_duplicates_then_creates_anyway(
    login_as: Callable[[User], HttpClient], theo: User, northside: Program, client_record: Client
) -> None:
    http = login_as(theo)
    assert http.get("/clients/new/").status_code == 200
    form = {
        "program": northside.pk,
        "legal_given_name": "Wren",
        "legal_family_name": "TESTBROOK",
        "date_of_birth": "1990-05-17",
    }
    warned = http.post("/clients/new/", form)
    assert warned.status_code == 409
    text = warned.content.decode()
    assert "Possible duplicate" in text and "T-0001" in text and 'name="confirm_duplicate"' in text
    assert Client.objects.count() == 1
    created = http.post("/clients/new/", form | {"confirm_shown": "1", "confirm_duplicate": "on"})
    assert created.status_code == 302
    assert Client.objects.filter(record_number="C-000001").exists()


def test_create_page_bad_input_shows_field_errors(
    login_as: Callable[[User], HttpClient], theo: User, northside: Program
) -> None:
    page = login_as(theo).post(
        "/clients/new/",
        {"program": northside.pk, "legal_given_name": "", "date_of_birth": "17/05/1990"},
    )
    assert page.status_code == 400
    assert page.content.decode().count('class="field-error"') >= 3
    assert not Client.objects.exists()


def test_edit_page_saves_and_refuses_stale_version(
    login_as: Callable[[User], HttpClient], theo: User, client_record: Client
) -> None:
    http = login_as(theo)
    url = f"/clients/{client_record.public_id}/edit/"
    assert http.get(url).status_code == 200
    form = {
        "legal_given_name": "Wren",
        "legal_family_name": "Testbrook",
        "date_of_birth": "1990-05-17",
        "record_number": "T-0001",
        "city": "Springfield",
        "version": 1,
    }
    assert http.post(url, form).status_code == 302
    stale = http.post(url, form | {"city": "Shelbyville"})
    assert stale.status_code == 409 and "Someone else changed" in stale.content.decode()
    client_record.refresh_from_db()
    assert (client_record.city, client_record.version) == ("Springfield", 2)


def test_clinical_workflow_through_the_pages(
    login_as: Callable[[User], HttpClient], theo: User, northside: Program, client_record: Client
) -> None:
    http = login_as(theo)
    cid = client_record.public_id
    r = http.post(
        f"/clients/{cid}/episodes/new/",
        {"program": northside.pk, "referral_date": REFERRED_ON, "referral_source": "individual"},
    )
    assert r.status_code == 302, r.content.decode()
    episode = Episode.objects.get()
    eid = episode.public_id
    assert http.get(f"/episodes/{eid}/admit/").status_code == 200
    r = http.post(
        f"/episodes/{eid}/admit/",
        {
            "admission_date": REFERRED_ON + timedelta(days=1),
            "level_of_care": "2.1",
            "substance_1": "heroin",
            "route_1": "injection",
            "frequency_1": "daily",
            "version": 1,
        },
    )
    assert r.status_code == 302, r.content.decode()
    r = http.post(
        f"/episodes/{eid}/sud-assessments/new/",
        {"substance_class": "opioid", "larger_amounts": "on", "craving": "on", "cut_down": "on"},
    )
    assert r.status_code == 302
    result = http.get(r["Location"])
    assert "F11.10" in result.content.decode() and "Mild" in result.content.decode()
    assert http.post(r["Location"], {"code": "F11.10"}).status_code == 302
    assert Diagnosis.objects.get().code == "F11.10"
    r = http.post(
        f"/clients/{cid}/diagnoses/new/",
        {"code": "F41.1", "description": "Generalized anxiety disorder", "episode": eid},
    )
    assert r.status_code == 302
    bad = http.post(f"/clients/{cid}/diagnoses/new/", {"code": "41.1", "description": "x"})
    assert bad.status_code == 400 and Diagnosis.objects.count() == 2
    asam = {f"d{i}_rating": i % 5 for i in range(1, 7)} | {"level_of_care": "2.1"}
    assert http.post(f"/episodes/{eid}/asam/new/", asam).status_code == 302
    summary = http.get(f"/clients/{cid}/").content.decode()
    assert "F41.1" in summary and "Intensive outpatient" in summary and "Heroin" in summary
    dx = Diagnosis.objects.get(code="F41.1")
    r = http.post(f"/diagnoses/{dx.public_id}/entered-in-error/", {"reason": "dup", "version": 1})
    assert r.status_code == 302
    invalid = http.post(
        f"/episodes/{eid}/discharge/",
        {"discharge_date": REFERRED_ON, "discharge_reason": "completed", "version": 2},
    )
    assert invalid.status_code == 409 and "before the admission date" in invalid.content.decode()
    r = http.post(
        f"/episodes/{eid}/discharge/",
        {"discharge_date": TODAY, "discharge_reason": "completed", "version": 2},
    )
    assert r.status_code == 302
    assert Episode.objects.get().status == "discharged"


# --- outsiders: every new page and API route -------------------------------------------------


@pytest.fixture
def record(theo: User, client_record: Client) -> dict[str, str]:
    episode = services.episode_refer(
        actor=theo, client=client_record, referral_date=REFERRED_ON, referral_source="individual"
    )
    episode = admit(theo, episode)
    assessment = services.sud_assessment_create(
        actor=theo,
        episode=episode,
        substance_class="alcohol",
        answers={"craving": True, "tolerance": True},
    )
    diagnosis = services.diagnosis_add(
        actor=theo, client=client_record, code="F41.1", description="GAD"
    )
    return {
        "c": str(client_record.public_id),
        "e": str(episode.public_id),
        "a": str(assessment.public_id),
        "d": str(diagnosis.public_id),
    }


PAGES = [
    "/clients/",
    "/clients/?q=wren",
    "/clients/new/",
    "/clients/{c}/",
    "/clients/{c}/edit/",
    "/clients/{c}/episodes/new/",
    "/clients/{c}/diagnoses/new/",
    "/episodes/{e}/admit/",
    "/episodes/{e}/discharge/",
    "/episodes/{e}/cancel/",
    "/episodes/{e}/sud-assessments/new/",
    "/episodes/{e}/asam/new/",
    "/sud-assessments/{a}/",
    "/diagnoses/{d}/entered-in-error/",
]
OWN_PAGES = {"/clients/", "/clients/?q=wren", "/clients/new/"}
API = [
    ("get", "/api/v1/clients?q=wren"),
    ("post", "/api/v1/clients"),
    ("get", "/api/v1/clients/{c}"),
    ("put", "/api/v1/clients/{c}"),
    ("get", "/api/v1/clients/{c}/episodes"),
    ("post", "/api/v1/clients/{c}/episodes"),
    ("post", "/api/v1/episodes/{e}/admit"),
    ("post", "/api/v1/episodes/{e}/discharge"),
    ("post", "/api/v1/episodes/{e}/cancel"),
    ("get", "/api/v1/clients/{c}/diagnoses"),
    ("post", "/api/v1/clients/{c}/diagnoses"),
    ("post", "/api/v1/sud-assessments/{a}/confirm"),
    ("post", "/api/v1/diagnoses/{d}/entered-in-error"),
    ("get", "/api/v1/episodes/{e}/sud-assessments"),
    ("post", "/api/v1/episodes/{e}/sud-assessments"),
    ("get", "/api/v1/episodes/{e}/asam-assessments"),
    ("post", "/api/v1/episodes/{e}/asam-assessments"),
]
# Valid bodies, so that a refusal is the access policy's and not input validation's.
BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/clients": {
        "program": "{p}",
        "legal_given_name": "Nova",
        "legal_family_name": "Quill",
        "date_of_birth": "1991-01-01",
    },
    "/api/v1/clients/{c}": {
        "legal_given_name": "Hacked",
        "legal_family_name": "Hacked",
        "date_of_birth": "1991-01-01",
        "version": 1,
    },
    "/api/v1/clients/{c}/episodes": {"referral_date": str(TODAY), "referral_source": "school"},
    "/api/v1/episodes/{e}/admit": {
        "version": 2,
        "admission_date": str(TODAY),
        "level_of_care": "1",
    },
    "/api/v1/episodes/{e}/discharge": {
        "version": 2,
        "discharge_date": str(TODAY),
        "discharge_reason": "completed",
    },
    "/api/v1/episodes/{e}/cancel": {"version": 2},
    "/api/v1/clients/{c}/diagnoses": {"code": "F32.1", "description": "x"},
    "/api/v1/sud-assessments/{a}/confirm": {},
    "/api/v1/diagnoses/{d}/entered-in-error": {"version": 1, "reason": "x"},
    "/api/v1/episodes/{e}/sud-assessments": {"substance_class": "alcohol", "criteria": {}},
    "/api/v1/episodes/{e}/asam-assessments": {
        **{f"d{i}": {"rating": 1} for i in range(1, 7)},
        "level_of_care": "1",
    },
}


def _state() -> tuple[Any, ...]:
    return (
        Client.objects.count(),
        list(Client.objects.values_list("version", "legal_given_name")),
        list(Episode.objects.values_list("status", "version")),
        Diagnosis.objects.filter(entered_in_error=False).count(),
        Diagnosis.objects.count(),
        SudAssessment.objects.count(),
    )


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_are_refused_every_page(
    request: pytest.FixtureRequest,
    login_as: Callable[[User], HttpClient],
    record: dict[str, str],
    persona: str,
) -> None:
    http = login_as(request.getfixturevalue(persona))
    before = _state()
    for template in PAGES:
        url = template.format(**record)
        for method in ("get", "post"):
            response = getattr(http, method)(url)
            text = response.content.decode()
            assert "Testbrook" not in text and "T-0001" not in text, (persona, method, url)
            if persona != "remy" and url in OWN_PAGES:
                continue  # search and create exist for them, with their own programs only
            # The chart is read-only: a POST is refused before anything is looked up (405).
            refused = (403, 404, 405) if method == "post" else (403, 404)
            assert response.status_code in refused, (persona, method, url, response.status_code)
    assert _state() == before


@pytest.mark.parametrize("persona", ["tess", "remy", "oscar"])
def test_outsiders_are_refused_every_api_route(
    request: pytest.FixtureRequest,
    login_as: Callable[[User], HttpClient],
    record: dict[str, str],
    northside: Program,
    persona: str,
) -> None:
    http = login_as(request.getfixturevalue(persona))
    values = record | {"p": str(northside.public_id)}
    before = _state()
    for method, template in API:
        url = template.format(**values)
        body = json.loads(
            json.dumps(BODIES.get(template.split("?")[0], {})).replace("{p}", values["p"])
        )
        response = post_json(http, url, body, method) if method != "get" else http.get(url)
        text = response.content.decode()
        assert "Testbrook" not in text and "T-0001" not in text, (persona, url)
        if method == "get" and "?q=" in url and persona in ("tess", "oscar"):
            assert response.json() == []  # searches only what they may see
            continue
        if template == "/api/v1/clients" and method == "post" and persona != "remy":
            # tess/oscar: refused (403) or program unknown to their organisation (422)
            assert response.status_code in (403, 422), (persona, url, response.status_code)
            continue
        assert response.status_code in (403, 404), (persona, method, url, response.status_code)
        assert response["Content-Type"] == PROBLEM
    assert _state() == before


# --- the API, happy path ---------------------------------------------------------------------


def test_api_clients_and_episodes(
    login_as: Callable[[User], HttpClient], theo: User, northside: Program, client_record: Client
) -> None:
    http = login_as(theo)
    assert [c["record_number"] for c in http.get("/api/v1/clients?q=wren").json()] == ["T-0001"]
    body = {
        "program": str(northside.public_id),
        "legal_given_name": "Wren",
        "legal_family_name": "Testbrook",
        "date_of_birth": "1990-05-17",
    }
    dup = post_json(http, "/api/v1/clients", body)
    assert dup.status_code == 409 and dup["Content-Type"] == PROBLEM
    assert dup.json()["matches"][0]["record_number"] == "T-0001"
    created = post_json(http, "/api/v1/clients", body | {"confirm_duplicate": True})
    assert created.status_code == 201 and created.json()["record_number"] == "C-000001"
    cid = created.json()["id"]
    bad = post_json(http, "/api/v1/clients", body | {"email": "nope", "confirm_duplicate": True})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
    upd = body | {"version": 1, "city": "Ogdenville"}
    assert post_json(http, f"/api/v1/clients/{cid}", upd, "put").json()["version"] == 2
    stale = post_json(http, f"/api/v1/clients/{cid}", upd, "put")
    assert stale.status_code == 409 and stale["Content-Type"] == PROBLEM

    ref = post_json(
        http,
        f"/api/v1/clients/{cid}/episodes",
        {"referral_date": str(REFERRED_ON), "referral_source": "criminal_justice"},
    )
    assert ref.status_code == 201 and ref.json()["status"] == "referred"
    eid = ref.json()["id"]
    again = post_json(
        http,
        f"/api/v1/clients/{cid}/episodes",
        {"referral_date": str(REFERRED_ON), "referral_source": "school"},
    )
    assert again.status_code == 409
    never = post_json(
        http,
        f"/api/v1/episodes/{eid}/discharge",
        {"version": 1, "discharge_date": str(TODAY), "discharge_reason": "completed"},
    )
    assert never.status_code == 409 and never.json()["title"] == "Invalid transition"
    adm = post_json(
        http,
        f"/api/v1/episodes/{eid}/admit",
        {
            "version": 1,
            "admission_date": str(REFERRED_ON),
            "level_of_care": "3.7",
            "substances": [
                {"rank": 1, "substance": "alcohol", "route": "oral", "frequency": "daily"}
            ],
        },
    )
    assert adm.status_code == 200 and adm.json()["substances"][0]["substance"] == "alcohol"
    sud = post_json(
        http,
        f"/api/v1/episodes/{eid}/sud-assessments",
        {
            "substance_class": "alcohol",
            "criteria": {
                n: True
                for n in (
                    "craving",
                    "tolerance",
                    "withdrawal",
                    "cut_down",
                    "hazardous_use",
                    "time_spent",
                )
            },
        },
    )
    assert sud.status_code == 201 and sud.json()["severity"] == "severe"
    assert sud.json()["proposed_code"] == "F10.20"
    conf = post_json(http, f"/api/v1/sud-assessments/{sud.json()['id']}/confirm", {})
    assert conf.status_code == 201 and conf.json()["code"] == "F10.20"
    co = post_json(
        http, f"/api/v1/clients/{cid}/diagnoses", {"code": "F32.1", "description": "MDD"}
    )
    assert co.status_code == 201
    err = post_json(
        http, f"/api/v1/diagnoses/{co.json()['id']}/entered-in-error", {"version": 1, "reason": "x"}
    )
    assert err.json()["entered_in_error"] is True
    dx = http.get(f"/api/v1/clients/{cid}/diagnoses").json()
    assert sorted(d["code"] for d in dx) == ["F10.20", "F32.1"]
    asam = post_json(
        http,
        f"/api/v1/episodes/{eid}/asam-assessments",
        {**{f"d{i}": {"rating": 2} for i in range(1, 7)}, "level_of_care": "3.7"},
    )
    assert asam.status_code == 201
    assert len(http.get(f"/api/v1/episodes/{eid}/asam-assessments").json()) == 1
    assert len(http.get(f"/api/v1/episodes/{eid}/sud-assessments").json()) == 1
    eps = http.get(f"/api/v1/clients/{cid}/episodes").json()
    assert [e["status"] for e in eps] == ["admitted"]
    dis = post_json(
        http,
        f"/api/v1/episodes/{eid}/discharge",
        {"version": 2, "discharge_date": str(TODAY)},
    )
    assert dis.status_code == 409 and "discharge_reason" in json.dumps(dis.json()["errors"])


# --- query counts ------------------------------------------------------------------------------


def _many_clients(org: Organisation, program: Program, n: int, start: int = 0) -> None:
    Client.objects.bulk_create(
        [
            Client(
                organisation=org,
                program=program,
                record_number=f"Q-{start + i:04d}",
                legal_given_name="Quinn",
                legal_family_name=f"Numbered{start + i}",
                date_of_birth=date(1980, 1, 1),
            )
            for i in range(n)
        ]
    )


def _count(fn: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_search_page_and_list_api_queries_do_not_grow_with_rows(
    login_as: Callable[[User], HttpClient], theo: User, org: Organisation, northside: Program
) -> None:
    http = login_as(theo)
    _many_clients(org, northside, 2)
    few_page = _count(lambda: http.get("/clients/?q=quinn"))
    few_api = _count(lambda: http.get("/api/v1/clients?q=quinn"))
    _many_clients(org, northside, 30, start=2)
    assert _count(lambda: http.get("/clients/?q=quinn")) == few_page
    assert _count(lambda: http.get("/api/v1/clients?q=quinn")) == few_api
    assert len(http.get("/api/v1/clients?q=quinn").json()) == 32


def test_chart_selector_queries_do_not_grow_with_rows(
    theo: User, client_record: Client, riverside: Program, make_user: Callable[..., User]
) -> None:
    def grow() -> None:
        e = services.episode_refer(
            actor=theo, client=client_record, referral_date=REFERRED_ON, referral_source="school"
        )
        e = admit(theo, e, substances=[services.SubstanceIn(1, "alcohol", "oral", "daily")])
        a = services.sud_assessment_create(
            actor=theo,
            episode=e,
            substance_class="alcohol",
            answers={"craving": True, "cut_down": True},
        )
        services.diagnosis_confirm(actor=theo, assessment=a)
        services.asam_assessment_create(
            actor=theo, episode=e, ratings={f"d{i}": 1 for i in range(1, 7)}, level_of_care="1"
        )
        services.episode_discharge(
            actor=theo, episode=e, version=e.version, discharge_date=TODAY, discharge_reason="other"
        )

    grow()
    client = Client.objects.select_related("organisation", "program").get(pk=client_record.pk)
    assert theo.role_set and theo.program_ids  # warm the per-request privilege cache
    one = _count(lambda: client_chart_clinical(actor=theo, client=client))
    for _ in range(4):
        grow()
    chart = client_chart_clinical(actor=theo, client=client)
    assert len(chart.episodes) == 5 and len(chart.diagnoses) == 5 and chart.latest_asam
    assert (
        _count(
            lambda: [
                list(e.substance_list)  # type: ignore[attr-defined]  # the prefetch's
                for e in client_chart_clinical(actor=theo, client=client).episodes
            ]
        )
        == one
    )


# --- the program's client list is paged --------------------------------------------------------


def test_program_client_page_is_paged_by_name(
    login_as: Callable[[User], HttpClient], theo: User, org: Organisation, northside: Program
) -> None:
    _many_clients(org, northside, 120)  # Numbered0 ... Numbered119, in name order as text
    http = login_as(theo)
    url = f"/programs/{northside.public_id}/clients/"
    names = sorted(f"Numbered{i}" for i in range(120))

    def shown(page: str) -> list[str]:
        response = http.get(url + page)
        assert response.status_code == 200
        return [c.legal_family_name for c in response.context["page"]]

    first, second, last = shown(""), shown("?page=2"), shown("?page=3")
    assert first == names[:50] and second == names[50:100] and last == names[100:]
    html = http.get(url + "?page=2").content.decode()
    assert "Page 2 of 3 · 120 clients" in html
    assert 'href="?page=1" rel="prev"' in html and 'href="?page=3" rel="next"' in html
    # Out of range or not a number: the nearest real page, never an error.
    assert shown("?page=99") == last and shown("?page=abc") == first


def test_program_client_api_pages_with_limit_and_offset(
    login_as: Callable[[User], HttpClient], theo: User, org: Organisation, northside: Program
) -> None:
    _many_clients(org, northside, 510)
    http = login_as(theo)
    url = f"/api/v1/programs/{northside.public_id}/clients"
    names = sorted(f"Numbered{i}" for i in range(510))

    def got(query: str) -> list[str]:
        response = http.get(url + query)
        assert response.status_code == 200
        return [c["legal_family_name"] for c in response.json()]

    assert got("") == names[:100]  # the default page
    assert got("?limit=100&offset=100") == names[100:200]
    assert got("?limit=20&offset=500") == names[500:]
    assert got("?limit=100000") == names[:500]  # at most 500 a page
    assert got("?limit=0") == names[:1] and got("?offset=-5&limit=2") == names[:2]
    assert http.get(url + "?limit=many").status_code == 422
