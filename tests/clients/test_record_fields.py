"""Every field of the clinical record, end to end: client identity and contact fields, the TEDS
admission items, every discharge reason and the ASAM notes. Each value is written through the
public interfaces (services, /api/v1/, pages), read back (API, stored row, pages) and compared."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import models
from django.test import Client as HttpClient
from django.utils.html import escape

from iptcare.accounts.models import User
from iptcare.clients import services
from iptcare.clients.choices import (
    ASAM_DIMENSIONS,
    Arrests,
    DischargeReason,
    Employment,
    EpisodeStatus,
    Frequency,
    GenderIdentity,
    LevelOfCare,
    LivingArrangement,
    PriorTreatment,
    ReferralSource,
    Route,
    Sex,
    TedsSubstance,
)
from iptcare.clients.errors import InvalidTransition
from iptcare.clients.models import (
    AsamAssessment,
    Client,
    Episode,
    EpisodeSubstance,
    RecordRevision,
)
from iptcare.core.errors import InvalidInput
from iptcare.core.models import Program
from tests.clients.conftest import REFERRED_ON, TODAY, admit, discharge

Login = Callable[[User], HttpClient]
PROBLEM = "application/problem+json"
ADMITTED_ON = REFERRED_ON + timedelta(days=2)


def send(http: HttpClient, method: str, url: str, body: dict[str, Any]) -> Any:
    return getattr(http, method)(
        url, data=json.dumps(body, default=str), content_type="application/json"
    )


def error_fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


EPISODES_CARD = "<h2>Episodes of care</h2>"
ASAM_CARD = "<h2>Latest ASAM assessment"


def section(html: str, heading: str) -> str:
    """The chart's card that starts with ``heading``, up to the end of that card."""
    start = html.index(heading)
    end = html.index("</section>", start)
    return html[start:end]


# =================================================================================================
# 1. Client record fields
# =================================================================================================

# Every field of services.CLIENT_FIELDS, with a value that is not the default.
FULL: dict[str, str] = {
    "record_number": "NS-2026-0042",
    "legal_given_name": "Marisol",
    "legal_family_name": "Okonkwo-Lindqvist",
    "preferred_name": "Marí",
    "pronouns": "they/them",
    "date_of_birth": "1988-11-23",
    "sex_assigned_at_birth": Sex.INTERSEX,
    "gender_identity": GenderIdentity.NON_BINARY,
    "preferred_language": "Portuguese",
    "email": "mari.okonkwo@example.org",
    "phone": "+1 (555) 010-4477",
    "address_line1": "12 Imaginary Lane",
    "address_line2": "Apartment 3B",
    "city": "São Ficção",
    "state": "Oregon",
    "postal_code": "97000-1234",
    "emergency_contact_name": "Jordan Okonkwo",
    "emergency_contact_relationship": "Sibling",
    "emergency_contact_phone": "555.010.9911",
}

# Each case sets every field; together they use every sex and every gender identity code.
SEX_GENDER = [
    (Sex.values[i % len(Sex.values)], GenderIdentity.values[i])
    for i in range(len(GenderIdentity.values))
]


def test_full_covers_every_client_field() -> None:
    assert set(FULL) == set(services.CLIENT_FIELDS)
    assert {s for s, _ in SEX_GENDER} == set(Sex.values)
    assert {g for _, g in SEX_GENDER} == set(GenderIdentity.values)


def stored_fields(client: Client) -> dict[str, str]:
    row = Client.objects.get(pk=client.pk)
    return {
        k: row.date_of_birth.isoformat() if k == "date_of_birth" else getattr(row, k)
        for k in services.CLIENT_FIELDS
    }


@pytest.mark.parametrize(("sex", "gender"), SEX_GENDER)
def test_api_create_round_trips_every_field(
    login_as: Login, theo: User, northside: Program, sex: str, gender: str
) -> None:
    http = login_as(theo)
    fields = FULL | {"sex_assigned_at_birth": sex, "gender_identity": gender}
    created = send(http, "post", "/api/v1/clients", fields | {"program": str(northside.public_id)})
    assert created.status_code == 201, created.content
    body = created.json()
    for key, value in fields.items():
        assert body[key] == value, key
    assert body["display_name"] == "Marí Okonkwo-Lindqvist"
    assert (body["version"], body["program"]) == (1, str(northside.public_id))

    client = Client.objects.get(public_id=body["id"])
    assert stored_fields(client) == fields
    assert client.program == northside and client.organisation == northside.organisation

    fetched = http.get(f"/api/v1/clients/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_registration_page_stores_every_field_and_the_pages_show_them(
    login_as: Login, theo: User, northside: Program
) -> None:
    http = login_as(theo)
    response = http.post("/clients/new/", FULL | {"program": northside.pk})
    assert response.status_code == 302, response.content.decode()
    client = Client.objects.get()
    assert stored_fields(client) == FULL
    assert response["Location"] == f"/clients/{client.public_id}/"

    # The edit form is filled with every stored value.
    edit = http.get(f"/clients/{client.public_id}/edit/").content.decode()
    for key, value in FULL.items():
        assert f'value="{escape(value)}"' in edit or f'value="{value}" selected' in edit, key
    # The chart shows the name in use, the pronouns, sex, gender identity, language, address
    # and the contact details.
    chart = http.get(f"/clients/{client.public_id}/").content.decode()
    for value in (
        "Marí Okonkwo-Lindqvist",
        "Marisol Okonkwo-Lindqvist",
        Sex(FULL["sex_assigned_at_birth"]).label,
        GenderIdentity(FULL["gender_identity"]).label,
        FULL["preferred_language"],
        "12 Imaginary Lane, Apartment 3B, São Ficção, Oregon 97000-1234",
        FULL["pronouns"],
        FULL["record_number"],
        FULL["phone"],
        FULL["email"],
        FULL["emergency_contact_name"],
        FULL["emergency_contact_relationship"],
        FULL["emergency_contact_phone"],
    ):
        assert escape(value) in chart, value


def test_api_update_changes_one_field_and_keeps_the_rest(
    login_as: Login, theo: User, northside: Program
) -> None:
    http = login_as(theo)
    created = send(http, "post", "/api/v1/clients", FULL | {"program": str(northside.public_id)})
    cid = created.json()["id"]
    client = Client.objects.get(public_id=cid)

    changed = FULL | {"phone": "+44 20 7946 0000", "version": 1}
    updated = send(http, "put", f"/api/v1/clients/{cid}", changed)
    assert updated.status_code == 200, updated.content
    assert updated.json()["version"] == 2 and updated.json()["phone"] == "+44 20 7946 0000"
    assert stored_fields(client) == FULL | {"phone": "+44 20 7946 0000"}
    assert http.get(f"/api/v1/clients/{cid}").json() == updated.json()
    # The history keeps the row as it was.
    revision = RecordRevision.objects.get(resource_id=client.public_id)
    assert (revision.version, revision.snapshot["phone"]) == (1, FULL["phone"])

    stale = send(http, "put", f"/api/v1/clients/{cid}", changed | {"city": "Shelbyville"})
    assert stale.status_code == 409 and stale["Content-Type"] == PROBLEM
    assert Client.objects.get(pk=client.pk).city == FULL["city"]


def test_service_update_of_one_field(theo: User, northside: Program) -> None:
    client = services.client_create(actor=theo, program=northside, data=FULL)
    updated = services.client_update(
        actor=theo, client=client, version=1, data={"preferred_language": "Tagalog"}
    )
    assert updated.version == 2
    assert stored_fields(client) == FULL | {"preferred_language": "Tagalog"}


# Every text field at the model's max_length (validators respected), and one character more.
EMAIL_254 = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".org"
AT_MAX: dict[str, str] = {
    "record_number": "R" * 30,
    "legal_given_name": "G" * 100,
    "legal_family_name": "F" * 100,
    "preferred_name": "P" * 100,
    "pronouns": "x" * 40,
    "preferred_language": "L" * 60,
    "email": EMAIL_254,
    "phone": "+" + "1" * 24,
    "address_line1": "A" * 200,
    "address_line2": "B" * 200,
    "city": "C" * 100,
    "state": "S" * 60,
    "postal_code": "9" * 12,
    "emergency_contact_name": "E" * 200,
    "emergency_contact_relationship": "R" * 60,
    "emergency_contact_phone": "2" * 25,
}
OVER_MAX = {k: v[:-4] + v[-5] + v[-4:] if k == "email" else v + v[-1] for k, v in AT_MAX.items()}


def test_at_max_covers_every_text_field() -> None:
    text = set(services.CLIENT_FIELDS) - {
        "date_of_birth",
        "sex_assigned_at_birth",
        "gender_identity",
    }
    assert set(AT_MAX) == text
    for key, value in AT_MAX.items():
        model_field = Client._meta.get_field(key)
        assert isinstance(model_field, models.CharField), key
        assert len(value) == model_field.max_length, key
        assert len(OVER_MAX[key]) == len(value) + 1, key


def test_every_text_field_at_its_max_length_round_trips(
    login_as: Login, theo: User, northside: Program
) -> None:
    http = login_as(theo)
    fields = FULL | AT_MAX
    created = send(http, "post", "/api/v1/clients", fields | {"program": str(northside.public_id)})
    assert created.status_code == 201, created.content
    assert {k: created.json()[k] for k in fields} == fields
    assert stored_fields(Client.objects.get(public_id=created.json()["id"])) == fields
    assert http.get(f"/api/v1/clients/{created.json()['id']}").json() == created.json()


@pytest.mark.parametrize("field", list(OVER_MAX))
def test_a_value_over_the_max_length_is_a_field_error(
    login_as: Login, theo: User, northside: Program, field: str
) -> None:
    body = FULL | {field: OVER_MAX[field], "program": str(northside.public_id)}
    response = send(login_as(theo), "post", "/api/v1/clients", body)
    assert response.status_code == 422 and error_fields(response) == {field}
    with pytest.raises(InvalidInput) as exc:
        services.client_create(actor=theo, program=northside, data=FULL | {field: OVER_MAX[field]})
    assert set(exc.value.field_errors) == {field}
    assert not Client.objects.exists()


BAD_VALUES: list[tuple[str, Any]] = [
    ("email", "not-an-email"),
    ("email", "two@@example.org"),
    ("date_of_birth", str(TODAY + timedelta(days=1))),
    ("date_of_birth", "1899-12-31"),
    ("date_of_birth", "23/11/1988"),
    ("sex_assigned_at_birth", "m"),
    ("gender_identity", "woman-ish"),
    ("phone", "call me maybe"),
    ("emergency_contact_phone", "12"),
    ("postal_code", "9" * 13),
    ("legal_given_name", "   "),
    ("legal_family_name", ""),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_api_create_with_a_bad_value_is_a_field_error_and_creates_nothing(
    login_as: Login, theo: User, northside: Program, field: str, value: Any
) -> None:
    body = FULL | {field: value, "program": str(northside.public_id)}
    response = send(login_as(theo), "post", "/api/v1/clients", body)
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    assert error_fields(response) == {field}
    assert not Client.objects.exists()


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_api_update_with_a_bad_value_is_a_field_error_and_changes_nothing(
    login_as: Login, theo: User, northside: Program, field: str, value: Any
) -> None:
    client = services.client_create(actor=theo, program=northside, data=FULL)
    body = FULL | {field: value, "version": 1}
    response = send(login_as(theo), "put", f"/api/v1/clients/{client.public_id}", body)
    assert response.status_code == 422, response.content
    assert error_fields(response) == {field}
    assert stored_fields(client) == FULL
    assert Client.objects.get(pk=client.pk).version == 1
    assert not RecordRevision.objects.exists()


@pytest.mark.parametrize(("field", "value"), [b for b in BAD_VALUES if b[1] != "23/11/1988"])
def test_service_bad_value_is_a_field_error_on_create_and_update(
    theo: User, northside: Program, field: str, value: Any
) -> None:
    if field == "date_of_birth":
        value = date.fromisoformat(value)
    with pytest.raises(InvalidInput) as exc:
        services.client_create(actor=theo, program=northside, data=FULL | {field: value})
    assert set(exc.value.field_errors) == {field}
    assert not Client.objects.exists()
    client = services.client_create(actor=theo, program=northside, data=FULL)
    with pytest.raises(InvalidInput) as exc:
        services.client_update(actor=theo, client=client, version=1, data={field: value})
    assert set(exc.value.field_errors) == {field}
    assert stored_fields(client) == FULL and Client.objects.get(pk=client.pk).version == 1


def test_registration_page_bad_values_show_field_errors_and_create_nothing(
    login_as: Login, theo: User, northside: Program
) -> None:
    bad = {
        "email": "not-an-email",
        "date_of_birth": str(TODAY + timedelta(days=1)),
        "sex_assigned_at_birth": "m",
        "phone": "call me maybe",
    }
    page = login_as(theo).post("/clients/new/", FULL | bad | {"program": northside.pk})
    assert page.status_code == 400
    form = page.context["form"]
    assert set(bad) <= set(form.errors)
    assert not Client.objects.exists()


# =================================================================================================
# 2. TEDS admission items
# =================================================================================================


def _nth(values: list[Any], i: int) -> Any:
    return values[i % len(values)]


def teds_case(i: int) -> dict[str, Any]:
    """Case ``i`` of nine: together they use every value of every TEDS vocabulary."""
    subs = TedsSubstance.values
    return {
        "referral_source": _nth(ReferralSource.values, i),
        "level_of_care": LevelOfCare.values[i],
        "substances": [
            {
                "rank": rank,
                "substance": subs[(3 * i + rank - 1) % len(subs)],
                "route": _nth(Route.values, 3 * i + rank - 1),
                "frequency": _nth(Frequency.values, 3 * i + rank),
                "age_of_first_use": 9 + i + rank,
            }
            for rank in (1, 2, 3)
        ],
        "prior_treatment_episodes": _nth(PriorTreatment.values, i),
        "employment_status": _nth(Employment.values, i),
        "living_arrangement": _nth(LivingArrangement.values, i),
        "arrests_past_30_days": _nth(Arrests.values, i),
    }


TEDS_CASES = [teds_case(i) for i in range(len(LevelOfCare.values))]


def test_teds_cases_cover_every_code() -> None:
    used: dict[str, set[Any]] = {}
    for case in TEDS_CASES:
        for key, value in case.items():
            if key == "substances":
                for s in value:
                    for part in ("substance", "route", "frequency"):
                        used.setdefault(part, set()).add(s[part])
            else:
                used.setdefault(key, set()).add(value)
    assert used == {
        "referral_source": set(ReferralSource.values),
        "level_of_care": set(LevelOfCare.values),
        "substance": set(TedsSubstance.values),
        "route": set(Route.values),
        "frequency": set(Frequency.values),
        "prior_treatment_episodes": set(PriorTreatment.values),
        "employment_status": set(Employment.values),
        "living_arrangement": set(LivingArrangement.values),
        "arrests_past_30_days": set(Arrests.values),
    }


ADMISSION_ITEMS = (
    "level_of_care",
    "prior_treatment_episodes",
    "employment_status",
    "living_arrangement",
    "arrests_past_30_days",
)


@pytest.mark.parametrize("case", TEDS_CASES, ids=[c["level_of_care"] for c in TEDS_CASES])
def test_api_admission_stores_and_returns_every_teds_item(
    login_as: Login, theo: User, client_record: Client, case: dict[str, Any]
) -> None:
    http = login_as(theo)
    cid = client_record.public_id
    referred = send(
        http,
        "post",
        f"/api/v1/clients/{cid}/episodes",
        {"referral_date": REFERRED_ON, "referral_source": case["referral_source"]},
    )
    assert referred.status_code == 201, referred.content
    eid = referred.json()["id"]
    body = {k: case[k] for k in (*ADMISSION_ITEMS, "substances")}
    admitted = send(
        http,
        "post",
        f"/api/v1/episodes/{eid}/admit",
        body | {"version": 1, "admission_date": ADMITTED_ON},
    )
    assert admitted.status_code == 200, admitted.content
    out = admitted.json()
    listed = http.get(f"/api/v1/clients/{cid}/episodes").json()
    assert [e["id"] for e in listed] == [eid]
    for returned in (out, listed[0]):
        assert returned["status"] == "admitted"
        assert returned["referral_source"] == case["referral_source"]
        assert returned["admission_date"] == str(ADMITTED_ON)
        for key in ADMISSION_ITEMS:
            assert returned[key] == case[key], key
        assert returned["substances"] == case["substances"]

    episode = Episode.objects.get(public_id=eid)
    assert episode.referral_source == case["referral_source"]
    assert {k: getattr(episode, k) for k in ADMISSION_ITEMS} == {
        k: case[k] for k in ADMISSION_ITEMS
    }
    stored = list(
        EpisodeSubstance.objects.filter(episode=episode)
        .order_by("rank")
        .values("rank", "substance", "route", "frequency", "age_of_first_use")
    )
    assert stored == case["substances"]


@pytest.mark.parametrize("case", TEDS_CASES[:3], ids=[c["level_of_care"] for c in TEDS_CASES[:3]])
def test_admission_page_stores_every_teds_item_and_the_chart_shows_them(
    login_as: Login, theo: User, client_record: Client, case: dict[str, Any]
) -> None:
    episode = services.episode_refer(
        actor=theo,
        client=client_record,
        referral_date=REFERRED_ON,
        referral_source=case["referral_source"],
    )
    form: dict[str, Any] = {k: case[k] for k in ADMISSION_ITEMS}
    for s in case["substances"]:
        r = s["rank"]
        form |= {
            f"substance_{r}": s["substance"],
            f"route_{r}": s["route"],
            f"frequency_{r}": s["frequency"],
            f"age_{r}": s["age_of_first_use"],
        }
    http = login_as(theo)
    response = http.post(
        f"/episodes/{episode.public_id}/admit/",
        form | {"admission_date": ADMITTED_ON, "version": 1},
    )
    assert response.status_code == 302, response.content.decode()
    episode.refresh_from_db()
    assert episode.status == EpisodeStatus.ADMITTED
    assert {k: getattr(episode, k) for k in ADMISSION_ITEMS} == {
        k: case[k] for k in ADMISSION_ITEMS
    }
    assert (
        list(
            EpisodeSubstance.objects.filter(episode=episode)
            .order_by("rank")
            .values("rank", "substance", "route", "frequency", "age_of_first_use")
        )
        == case["substances"]
    )

    chart = section(
        http.get(f"/clients/{client_record.public_id}/").content.decode(), EPISODES_CARD
    )
    assert escape(ReferralSource(case["referral_source"]).label) in chart
    assert escape(LevelOfCare(case["level_of_care"]).label) in chart
    for s in case["substances"]:
        shown = (
            f"{s['rank']}. {TedsSubstance(s['substance']).label} "
            f"({Route(s['route']).label}, {Frequency(s['frequency']).label})"
        )
        assert escape(shown) in chart, shown


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"level_of_care": "9.9"}, "level_of_care"),
        ({"prior_treatment_episodes": 6}, "prior_treatment_episodes"),
        ({"arrests_past_30_days": 3}, "arrests_past_30_days"),
        ({"employment_status": "retired"}, "employment_status"),
        ({"living_arrangement": "castle"}, "living_arrangement"),
    ],
)
def test_api_admission_with_an_unknown_code_changes_nothing(
    login_as: Login, theo: User, referred: Episode, change: dict[str, Any], field: str
) -> None:
    body = {k: TEDS_CASES[0][k] for k in (*ADMISSION_ITEMS, "substances")} | change
    response = send(
        login_as(theo),
        "post",
        f"/api/v1/episodes/{referred.public_id}/admit",
        body | {"version": 1, "admission_date": ADMITTED_ON},
    )
    assert response.status_code == 422
    assert field in error_fields(response)
    stored = Episode.objects.get(pk=referred.pk)
    assert (stored.status, stored.version, stored.level_of_care) == ("referred", 1, "")
    assert not EpisodeSubstance.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prior_treatment_episodes": 6}, "prior_treatment_episodes"),
        ({"arrests_past_30_days": 3}, "arrests_past_30_days"),
        ({"employment_status": "retired"}, "employment_status"),
        ({"living_arrangement": "castle"}, "living_arrangement"),
        ({"substances": [services.SubstanceIn(1, "alcohol", "snorted", "daily")]}, "route"),
        ({"substances": [services.SubstanceIn(1, "alcohol", "oral", "hourly")]}, "frequency"),
        ({"substances": [services.SubstanceIn(1, "coffee", "oral", "daily")]}, "substance"),
    ],
)
def test_service_admission_with_an_unknown_code_changes_nothing(
    theo: User, referred: Episode, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        admit(theo, referred, **change)
    assert any(k == field or k.endswith(f".{field}") for k in exc.value.field_errors)
    stored = Episode.objects.get(pk=referred.pk)
    assert (stored.status, stored.version) == ("referred", 1)
    assert not EpisodeSubstance.objects.exists()
    assert not RecordRevision.objects.exists()


# =================================================================================================
# 3. Every discharge reason
# =================================================================================================

REASONS = [
    "completed",
    "left_against_advice",
    "terminated",
    "transferred",
    "incarcerated",
    "died",
    "other",
]


def test_the_discharge_reasons_are_the_teds_ones() -> None:
    assert DischargeReason.values == REASONS


def episodes_card(http: HttpClient, client: Client) -> str:
    return section(http.get(f"/clients/{client.public_id}/").content.decode(), EPISODES_CARD)


def assert_reason_shown(card: str, reason: str) -> None:
    assert f"({escape(DischargeReason(reason).label)})" in card
    for other in REASONS:
        if other != reason:
            assert f"({escape(DischargeReason(other).label)})" not in card, other


@pytest.mark.parametrize("reason", REASONS)
def test_service_discharge_with_every_reason(
    login_as: Login, theo: User, admitted: Episode, reason: str
) -> None:
    note = f"Discharge note for {reason}."
    done = discharge(theo, admitted, discharge_reason=reason, discharge_note=note)
    assert (done.status, done.discharge_reason, done.version) == ("discharged", reason, 3)
    stored = Episode.objects.get(pk=admitted.pk)
    assert (
        stored.status,
        stored.discharge_date,
        stored.discharge_reason,
        stored.discharge_note,
    ) == (
        "discharged",
        TODAY,
        reason,
        note,
    )
    http = login_as(theo)
    listed = http.get(f"/api/v1/clients/{admitted.client.public_id}/episodes").json()
    assert [(e["discharge_reason"], e["discharge_note"]) for e in listed] == [(reason, note)]
    assert_reason_shown(episodes_card(http, admitted.client), reason)


@pytest.mark.parametrize("reason", REASONS)
def test_api_discharge_with_every_reason(
    login_as: Login, theo: User, admitted: Episode, reason: str
) -> None:
    http = login_as(theo)
    response = send(
        http,
        "post",
        f"/api/v1/episodes/{admitted.public_id}/discharge",
        {
            "version": 2,
            "discharge_date": TODAY,
            "discharge_reason": reason,
            "discharge_note": "Seen off.",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["discharge_reason"], body["discharge_date"]) == (
        "discharged",
        reason,
        str(TODAY),
    )
    assert body["discharge_note"] == "Seen off." and body["version"] == 3
    stored = Episode.objects.get(pk=admitted.pk)
    assert (stored.discharge_reason, stored.discharge_note) == (reason, "Seen off.")
    assert_reason_shown(episodes_card(http, admitted.client), reason)


def test_discharge_page_with_a_reason_shows_its_label(
    login_as: Login, theo: User, admitted: Episode
) -> None:
    http = login_as(theo)
    response = http.post(
        f"/episodes/{admitted.public_id}/discharge/",
        {"discharge_date": TODAY, "discharge_reason": "left_against_advice", "version": 2},
    )
    assert response.status_code == 302, response.content.decode()
    assert Episode.objects.get(pk=admitted.pk).discharge_reason == "left_against_advice"
    assert_reason_shown(episodes_card(http, admitted.client), "left_against_advice")


def test_an_unknown_discharge_reason_changes_nothing(
    login_as: Login, theo: User, admitted: Episode
) -> None:
    with pytest.raises((InvalidInput, InvalidTransition)) as exc:
        discharge(theo, admitted, discharge_reason="abducted")
    assert "discharge_reason" in exc.value.field_errors
    response = send(
        login_as(theo),
        "post",
        f"/api/v1/episodes/{admitted.public_id}/discharge",
        {"version": 2, "discharge_date": TODAY, "discharge_reason": "abducted"},
    )
    assert response.status_code == 422 and "discharge_reason" in error_fields(response)
    stored = Episode.objects.get(pk=admitted.pk)
    assert (stored.status, stored.version, stored.discharge_reason) == ("admitted", 2, "")
    assert not RecordRevision.objects.filter(version=2).exists()


# =================================================================================================
# 4. ASAM: ratings, dimension notes and the clinician's level of care
# =================================================================================================

DIMENSION_NOTES = {
    "d1": "Last drink two days ago, mild tremor",
    "d2": "Hypertension, treated",
    "d3": "Low mood most days, no plan to self-harm",
    "d4": "Wants to cut down, not to stop",
    "d5": "Three relapses this year",
    "d6": "Shares a flat with a heavy drinker",
}


@pytest.mark.parametrize(
    ("ratings", "level"),
    [
        ({"d1": 0, "d2": 1, "d3": 2, "d4": 3, "d5": 4, "d6": 2}, LevelOfCare.L2_1),
        ({p: 4 for p, _ in ASAM_DIMENSIONS}, LevelOfCare.L0_5),  # not what the ratings suggest
        ({p: 0 for p, _ in ASAM_DIMENSIONS}, LevelOfCare.L4),
    ],
)
def test_asam_stores_and_shows_ratings_notes_and_the_clinicians_level(
    login_as: Login, theo: User, admitted: Episode, ratings: dict[str, int], level: str
) -> None:
    a = services.asam_assessment_create(
        actor=theo,
        episode=admitted,
        ratings=ratings,
        dimension_notes=DIMENSION_NOTES,
        level_of_care=level,
        notes="Overall: outpatient is enough for now",
    )
    stored = AsamAssessment.objects.get(pk=a.pk)
    for prefix, _ in ASAM_DIMENSIONS:
        assert getattr(stored, f"{prefix}_rating") == ratings[prefix]
        assert getattr(stored, f"{prefix}_notes") == DIMENSION_NOTES[prefix]
    assert stored.level_of_care == level and stored.notes == "Overall: outpatient is enough for now"
    assert stored.dimensions == [
        (label, ratings[p], DIMENSION_NOTES[p]) for p, label in ASAM_DIMENSIONS
    ]

    http = login_as(theo)
    listed = http.get(f"/api/v1/episodes/{admitted.public_id}/asam-assessments").json()
    assert [(x["ratings"], x["level_of_care"]) for x in listed] == [(ratings, level)]
    assert listed[0]["dimension_notes"] == {p: DIMENSION_NOTES[p] for p, _ in ASAM_DIMENSIONS}
    assert listed[0]["notes"] == "Overall: outpatient is enough for now"

    card = section(http.get(f"/clients/{admitted.client.public_id}/").content.decode(), ASAM_CARD)
    for prefix, label in ASAM_DIMENSIONS:
        shown = f"<dt>{escape(label)}</dt><dd>{ratings[prefix]} — {escape(DIMENSION_NOTES[prefix])}"
        assert shown in card, prefix
    assert f"<dd>{escape(LevelOfCare(level).label)}</dd>" in card
    assert "Overall: outpatient is enough for now" in card  # the overall notes too


def test_asam_page_and_api_store_the_dimension_notes(
    login_as: Login, theo: User, admitted: Episode
) -> None:
    http = login_as(theo)
    form: dict[str, Any] = {"level_of_care": "3.1", "notes": "Page notes"}
    for i, (prefix, _) in enumerate(ASAM_DIMENSIONS):
        form |= {f"{prefix}_rating": i % 5, f"{prefix}_notes": DIMENSION_NOTES[prefix]}
    assert http.post(f"/episodes/{admitted.public_id}/asam/new/", form).status_code == 302
    from_page = AsamAssessment.objects.get()
    assert [n for _, _, n in from_page.dimensions] == list(DIMENSION_NOTES.values())
    assert (from_page.level_of_care, from_page.notes) == ("3.1", "Page notes")

    body: dict[str, Any] = {
        p: {"rating": 3, "notes": f"API {DIMENSION_NOTES[p]}"} for p, _ in ASAM_DIMENSIONS
    }
    created = send(
        http,
        "post",
        f"/api/v1/episodes/{admitted.public_id}/asam-assessments",
        body | {"level_of_care": "1", "notes": "API notes"},
    )
    assert created.status_code == 201, created.content
    assert created.json()["ratings"] == {p: 3 for p, _ in ASAM_DIMENSIONS}
    assert created.json()["dimension_notes"]["d3"] == f"API {DIMENSION_NOTES['d3']}"
    assert created.json()["notes"] == "API notes"
    from_api = AsamAssessment.objects.get(public_id=created.json()["id"])
    assert [n for _, _, n in from_api.dimensions] == [f"API {n}" for n in DIMENSION_NOTES.values()]
    assert (from_api.level_of_care, from_api.notes) == ("1", "API notes")
    # The chart shows the latest assessment's notes, not the earlier one's.
    card = section(http.get(f"/clients/{admitted.client.public_id}/").content.decode(), ASAM_CARD)
    assert escape(f"API {DIMENSION_NOTES['d3']}") in card
    assert f"— {escape(DIMENSION_NOTES['d3'])}" not in card


def test_asam_notes_for_an_unknown_dimension_are_refused(theo: User, admitted: Episode) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.asam_assessment_create(
            actor=theo,
            episode=admitted,
            ratings={p: 1 for p, _ in ASAM_DIMENSIONS},
            dimension_notes={"d7": "no such dimension"},
            level_of_care="1",
        )
    assert "d7" in exc.value.field_errors
    assert not AsamAssessment.objects.exists()


def test_an_update_that_leaves_fields_out_keeps_them(
    theo: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    """PUT with only the names, the date of birth and one change: nothing else is erased; an
    empty string sent on purpose clears that field."""
    http = login_as(theo)
    created = http.post(
        "/api/v1/clients",
        {
            "program": str(northside.public_id),
            "legal_given_name": "Ada",
            "legal_family_name": "Keepfield",
            "date_of_birth": "1985-03-04",
            "email": "ada.keepfield@example.org",
            "phone": "555-0100",
            "city": "Springfield",
        },
        content_type="application/json",
    ).json()
    url = f"/api/v1/clients/{created['id']}"
    names = {"legal_given_name": "Ada", "legal_family_name": "Keepfield"}
    body = {**names, "date_of_birth": "1985-03-04", "version": 1, "phone": "555-0199"}
    updated = http.put(url, body, content_type="application/json")
    assert updated.status_code == 200
    row = Client.objects.get(public_id=created["id"])
    assert (row.phone, row.email, row.city, row.version) == (
        "555-0199",
        "ada.keepfield@example.org",
        "Springfield",
        2,
    )
    cleared = {**body, "version": 2, "city": ""}
    assert http.put(url, cleared, content_type="application/json").status_code == 200
    row.refresh_from_db()
    assert (row.city, row.email) == ("", "ada.keepfield@example.org")
