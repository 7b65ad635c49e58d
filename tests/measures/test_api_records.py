"""The records API of measurement-based care: a client's administrations (and their FHIR
Bundle), single-use links, and the alert inbox and life cycle — success, bad input (field-level
422, nothing changed), outsiders refused, 409 on a stale alert, query-count guard."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import User
from iptcare.accounts.services import token_create
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Organisation, Program
from iptcare.measures import services
from iptcare.measures.models import Administration, Alert, MeasureLink
from tests.test_caseload_chart import _episode

PHQ9_ITEM9 = {str(n): "0" for n in range(1, 9)} | {"9": "1"}  # total 1, safety flag
GAD7 = {str(n): "2" for n in range(1, 8)}  # total 14
OUTSIDERS = ["tess", "remy", "oscar"]  # another program's therapist, a researcher, another org


class Api:
    """The test client with a personal API token (the way scripts call the API)."""

    def __init__(self, user: User) -> None:
        token = token_create(user=user, name="test script", days=1).plaintext
        self.http = HttpClient(headers={"Authorization": f"Bearer {token}"})

    def get(self, path: str) -> Any:
        return self.http.get(path)

    def post(self, path: str, body: object) -> Any:
        return self.http.post(path, data=json.dumps(body), content_type="application/json")


def _fields(response: Any) -> set[str]:
    assert response["Content-Type"] == "application/problem+json"
    return {e["field"] for e in response.json().get("errors", [])}


@pytest.fixture
def episode(client_record: Client, theo: User) -> Episode:
    return _episode(client_record, theo)


@pytest.fixture
def sam(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    return make_user(
        "sam@example.org",
        organisation=org,
        roles=(Role.CLINICAL_SUPERVISOR,),
        programs=(northside,),
    )


@pytest.fixture
def safety_alert(theo: User, client_record: Client, episode: Episode) -> Alert:
    services.administer(
        actor=theo, client=client_record, instrument_code="phq-9", answers=PHQ9_ITEM9
    )
    return Alert.objects.get()


def _state() -> tuple[int, ...]:
    return (
        Administration.objects.count(),
        MeasureLink.objects.count(),
        Alert.objects.exclude(status="open").count(),
        sum(a.version for a in Alert.objects.all()),
    )


# --- administrations ----------------------------------------------------------------------------


def test_create_in_session_scores_stores_and_raises_the_safety_alert(
    theo: User, client_record: Client, episode: Episode
) -> None:
    url = f"/api/v1/clients/{client_record.public_id}/administrations"
    response = Api(theo).post(url, {"instrument": "phq-9", "answers": PHQ9_ITEM9})
    assert response.status_code == 201
    body = response.json()
    assert body["total"] == 1 and body["band"]["code"] == "minimal" and body["complete"]
    assert body["mode"] == "in_session" and body["administered_by"] == str(theo.public_id)
    assert [f["code"] for f in body["flags"]] == ["item-9-self-harm"]
    stored = Administration.objects.get()
    assert str(stored.public_id) == body["id"] and stored.client == client_record
    (alert,) = Alert.objects.all()
    assert alert.kind == "safety" and alert.source_id == body["id"]
    assert AuditEvent.objects.filter(
        client_id=client_record.public_id, action="create", outcome="success"
    ).exists()


def test_create_in_kiosk_mode(theo: User, client_record: Client) -> None:
    url = f"/api/v1/clients/{client_record.public_id}/administrations"
    response = Api(theo).post(url, {"instrument": "gad-7", "answers": GAD7, "mode": "kiosk"})
    assert response.status_code == 201
    assert response.json()["mode"] == "kiosk" and response.json()["total"] == 14
    assert Administration.objects.get().mode == "kiosk"


def test_create_with_bad_answers_names_each_item_and_stores_nothing(
    theo: User, client_record: Client
) -> None:
    url = f"/api/v1/clients/{client_record.public_id}/administrations"
    answers = {"1": "9", "2": "0", "99": "0"}
    response = Api(theo).post(url, {"instrument": "phq-9", "answers": answers})
    assert response.status_code == 422
    assert _fields(response) == {"answers.1", "answers.answers"}  # "99" is no item: under answers
    assert Administration.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"instrument": "nope", "answers": {}}, {"instrument"}),
        ({"instrument": "phq-9", "answers": {}, "mode": "link"}, {"mode"}),
        ({"instrument": "phq-9"}, {"answers"}),
    ],
)
def test_create_refuses_bad_fields(
    theo: User, client_record: Client, body: dict[str, Any], fields: set[str]
) -> None:
    url = f"/api/v1/clients/{client_record.public_id}/administrations"
    response = Api(theo).post(url, body)
    assert response.status_code == 422 and _fields(response) == fields
    assert Administration.objects.count() == 0


def test_list_filters_by_instrument_oldest_first(theo: User, client_record: Client) -> None:
    for answers in (PHQ9_ITEM9, {str(n): "1" for n in range(1, 10)}):
        services.administer(
            actor=theo, client=client_record, instrument_code="phq-9", answers=answers
        )
    services.administer(actor=theo, client=client_record, instrument_code="gad-7", answers=GAD7)
    api = Api(theo)
    url = f"/api/v1/clients/{client_record.public_id}/administrations"
    everything = api.get(url)
    assert everything.status_code == 200 and len(everything.json()) == 3
    phq9 = api.get(url + "?instrument=phq-9").json()
    assert [a["total"] for a in phq9] == [1, 9]
    assert all(a["client"] == str(client_record.public_id) for a in phq9)
    unknown = api.get(url + "?instrument=nope")
    assert unknown.status_code == 422 and _fields(unknown) == {"instrument"}


def test_list_query_count_does_not_grow_with_the_administrations(
    theo: User, client_record: Client
) -> None:
    api = Api(theo)
    url = f"/api/v1/clients/{client_record.public_id}/administrations"

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(url)
        assert response.status_code == 200
        return len(ctx), len(response.json())

    services.administer(actor=theo, client=client_record, instrument_code="gad-7", answers=GAD7)
    count()  # the token's first use of the day records last_used_at; measure the steady state
    one, rows = count()
    assert rows == 1
    for _ in range(6):
        services.administer(actor=theo, client=client_record, instrument_code="gad-7", answers=GAD7)
    many, rows = count()
    assert rows == 7 and many == one


def test_detail_and_fhir_bundle(theo: User, client_record: Client, episode: Episode) -> None:
    a = services.administer(
        actor=theo, client=client_record, instrument_code="phq-9", answers=PHQ9_ITEM9
    )
    api = Api(theo)
    detail = api.get(f"/api/v1/administrations/{a.public_id}")
    assert detail.status_code == 200
    assert detail.json()["id"] == str(a.public_id) and detail.json()["answers"] == PHQ9_ITEM9

    response = api.get(f"/api/v1/administrations/{a.public_id}/fhir")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "collection" and bundle.entry is not None
    kinds = [e.resource.get_resource_type() for e in bundle.entry if e.resource is not None]
    assert kinds == ["QuestionnaireResponse", "Observation"]
    qr = QuestionnaireResponse.model_validate(response.json()["entry"][0]["resource"])
    total = Observation.model_validate(response.json()["entry"][1]["resource"])
    assert qr.id == str(a.public_id) and qr.status == "completed"
    assert total.derivedFrom is not None and total.valueQuantity is not None
    assert total.derivedFrom[0].reference == f"QuestionnaireResponse/{a.public_id}"
    assert total.valueQuantity.value == 1
    views = AuditEvent.objects.filter(resource_id=str(a.public_id), action="view")
    assert views.count() == 2


def test_unknown_administration_is_404(theo: User) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert Api(theo).get(f"/api/v1/administrations/{missing}").status_code == 404
    assert Api(theo).get(f"/api/v1/administrations/{missing}/fhir").status_code == 404


# --- links --------------------------------------------------------------------------------------


def test_link_is_issued_once_and_works(
    theo: User, client_record: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    url = f"/api/v1/clients/{client_record.public_id}/measure-links"
    body = {"instrument": "gad-7", "hours": 24, "email": "wren@example.org"}
    # The email waits for the commit; tests/test_email_after_commit.py has its email_status.
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(theo).post(url, body)
    assert response.status_code == 201
    out = response.json()
    assert out["instrument"] == "gad-7" and out["sent_to"] == "wren@example.org"
    assert out["url"].startswith("http://testserver/m/")
    secret = out["url"].rsplit("/m/", 1)[1].strip("/")
    link = MeasureLink.objects.get()
    assert str(link.public_id) == out["id"] and secret not in link.secret_hash
    (message,) = mail.outbox
    assert out["url"] in message.body and "GAD" not in message.body
    assert HttpClient().get(f"/m/{secret}/").status_code == 200


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"instrument": "nope", "hours": 0}, {"instrument", "hours"}),
        ({"instrument": "phq-9", "hours": 24 * 15}, {"hours"}),
        ({"instrument": "phq-9", "email": "not an email"}, {"email"}),
        ({"hours": 2}, {"instrument"}),
    ],
)
def test_link_refuses_bad_fields(
    theo: User, client_record: Client, body: dict[str, Any], fields: set[str]
) -> None:
    url = f"/api/v1/clients/{client_record.public_id}/measure-links"
    response = Api(theo).post(url, body)
    assert response.status_code == 422 and _fields(response) == fields
    assert not MeasureLink.objects.exists() and not mail.outbox


# --- alerts -------------------------------------------------------------------------------------


def test_inbox_for_clinician_and_supervisor(theo: User, sam: User, safety_alert: Alert) -> None:
    mine = Api(theo).get("/api/v1/alerts")
    assert mine.status_code == 200
    assert [a["id"] for a in mine.json()["mine"]] == [str(safety_alert.public_id)]
    assert mine.json()["mine"][0]["immediate"] is True
    supervised = Api(sam).get("/api/v1/alerts").json()
    assert supervised["mine"] == []
    assert [a["id"] for a in supervised["supervision"]] == [str(safety_alert.public_id)]


def test_alert_detail_acknowledge_then_resolve(theo: User, safety_alert: Alert) -> None:
    api = Api(theo)
    base = f"/api/v1/alerts/{safety_alert.public_id}"
    detail = api.get(base)
    assert detail.status_code == 200 and detail.json()["status"] == "open"
    version = detail.json()["version"]

    early = api.post(base + "/resolve", {"version": version, "note": "fine"})
    assert early.status_code == 422  # a safety alert is acknowledged with an action first
    acked = api.post(base + "/acknowledge", {"version": version, "note": "Called; plan reviewed."})
    assert acked.status_code == 200
    body = acked.json()
    assert body["status"] == "acknowledged" and body["version"] == version + 1
    assert body["acknowledged_by"] == str(theo.public_id)
    assert body["action_note"] == "Called; plan reviewed."

    resolved = api.post(base + "/resolve", {"version": version + 1, "note": "Seen; risk low."})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_by"] == str(theo.public_id)
    safety_alert.refresh_from_db()
    assert safety_alert.status == "resolved" and safety_alert.resolution_note == "Seen; risk low."


def test_stale_version_is_409_and_changes_nothing(theo: User, safety_alert: Alert) -> None:
    api = Api(theo)
    base = f"/api/v1/alerts/{safety_alert.public_id}"
    first = api.post(base + "/acknowledge", {"version": safety_alert.version, "note": "Called."})
    assert first.status_code == 200
    stale = api.post(base + "/resolve", {"version": safety_alert.version, "note": "Old tab."})
    assert stale.status_code == 409
    assert stale["Content-Type"] == "application/problem+json"
    safety_alert.refresh_from_db()
    assert safety_alert.status == "acknowledged" and safety_alert.resolution_note == ""


@pytest.mark.parametrize("step", ["acknowledge", "resolve"])
@pytest.mark.parametrize("note", [None, "   "])
def test_missing_note_is_422_on_note(
    theo: User, safety_alert: Alert, step: str, note: str | None
) -> None:
    body: dict[str, Any] = {"version": safety_alert.version}
    if note is not None:
        body["note"] = note
    before = _state()
    response = Api(theo).post(f"/api/v1/alerts/{safety_alert.public_id}/{step}", body)
    assert response.status_code == 422 and _fields(response) == {"note"}
    assert _state() == before


def test_bad_version_is_422(theo: User, safety_alert: Alert) -> None:
    url = f"/api/v1/alerts/{safety_alert.public_id}/acknowledge"
    response = Api(theo).post(url, {"version": "two", "note": "Called."})
    assert response.status_code == 422 and _fields(response) == {"version"}


# --- outsiders ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_outsiders_are_refused_everywhere(
    request: pytest.FixtureRequest,
    theo: User,
    client_record: Client,
    safety_alert: Alert,
    persona: str,
) -> None:
    outsider: User = request.getfixturevalue(persona)
    a = Administration.objects.get()
    api = Api(outsider)
    client = f"/api/v1/clients/{client_record.public_id}"
    alert = f"/api/v1/alerts/{safety_alert.public_id}"
    version = safety_alert.version
    before = _state()
    denied_before = AuditEvent.objects.filter(outcome="denied").count()
    responses = {
        "list": api.get(f"{client}/administrations"),
        "create": api.post(
            f"{client}/administrations", {"instrument": "phq-9", "answers": PHQ9_ITEM9}
        ),
        "detail": api.get(f"/api/v1/administrations/{a.public_id}"),
        "fhir": api.get(f"/api/v1/administrations/{a.public_id}/fhir"),
        "link": api.post(f"{client}/measure-links", {"instrument": "phq-9"}),
        "alert": api.get(alert),
        "acknowledge": api.post(f"{alert}/acknowledge", {"version": version, "note": "x"}),
        "resolve": api.post(f"{alert}/resolve", {"version": version, "note": "x"}),
    }
    for name, response in responses.items():
        assert response.status_code in {403, 404}, (name, response.status_code)
        assert response["Content-Type"] == "application/problem+json", name
        assert set(response.json()) <= {"type", "title", "status", "detail", "instance"}, name
        assert "Testbrook" not in response.content.decode(), name
    assert _state() == before
    # Every refusal is itself an audited access decision.
    assert AuditEvent.objects.filter(outcome="denied").count() >= denied_before + len(responses)
    inbox = api.get("/api/v1/alerts")
    assert inbox.status_code == 200
    assert inbox.json() == {
        "mine": [],
        "supervision": [],
        "mine_truncated": False,
        "supervision_truncated": False,
    }


def test_anonymous_is_401(client_record: Client) -> None:
    url = f"/api/v1/clients/{client_record.public_id}/administrations"
    assert HttpClient().get(url).status_code == 401
    assert HttpClient().get("/api/v1/alerts").status_code == 401
