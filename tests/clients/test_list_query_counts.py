"""Query-count guards for lists that had none: a program's clients (page and API), a client's
episodes, diagnoses and appointments (API) and the client's appointments page.

Each test counts the queries of one request with one or two rows, grows the rows (with their
related rows: substances, clinicians, confirmers, group sessions), checks the new rows are in
the response, and requires exactly the same count again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import User
from iptcare.clients import services
from iptcare.clients.models import Client, Diagnosis, Episode
from iptcare.core.models import Organisation, Program
from iptcare.scheduling import services as scheduling
from iptcare.scheduling.models import Appointment, AppointmentKind, AppointmentStatus, Modality
from tests.clients.conftest import TODAY, admit, discharge

Login = Callable[[User], HttpClient]
SUD_ANSWERS = {"craving": True, "tolerance": True, "cut_down": True}
SUBSTANCES = [  # (substance, route, frequency) for ranks 1-3
    ("alcohol", "oral", "daily"),
    ("heroin", "injection", "3-6_week"),
    ("marijuana", "smoking", "1-2_week"),
]


def _get(http: HttpClient, url: str) -> tuple[int, str]:
    """The number of queries one GET runs (it must succeed) and the response body."""
    with CaptureQueriesContext(connection) as ctx:
        response = http.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries), response.content.decode()


def _assert_shown(body: str, public_ids: list[str]) -> None:
    missing = [p for p in public_ids if p not in body]
    assert not missing, f"{len(missing)} of {len(public_ids)} rows missing from the response"


@pytest.fixture
def cleo(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    """A second Northside therapist: another clinician, another confirmer of diagnoses."""
    return make_user(
        "cleo@example.org", organisation=org, roles=(Role.THERAPIST,), programs=(northside,)
    )


# --- a program's clients -------------------------------------------------------------------------


def _register(actor: User, program: Program, n: int) -> Client:
    return services.client_create(
        actor=actor,
        program=program,
        data={
            "legal_given_name": f"Given{n}",
            "legal_family_name": f"Listed{n:03d}",
            "preferred_name": "Sunny" if n % 2 else "",
            "date_of_birth": date(1980, 1, 1) + timedelta(days=n),
        },
    )


@pytest.mark.parametrize(
    "template", ["/programs/{p}/clients/", "/api/v1/programs/{p}/clients"], ids=["page", "api"]
)
def test_program_client_list_queries_do_not_grow_with_clients(
    login_as: Login,
    theo: User,
    cleo: User,
    tess: User,
    northside: Program,
    riverside: Program,
    template: str,
) -> None:
    http = login_as(theo)
    url = template.format(p=northside.public_id)
    elsewhere = _register(tess, riverside, 900)
    clients = [_register(theo, northside, n) for n in range(2)]
    http.get(url)  # warm what is prepared or cached once per process
    small, body = _get(http, url)
    _assert_shown(body, [str(c.public_id) for c in clients])

    for n in range(2, 10):
        c = _register(cleo if n % 2 else theo, northside, n)
        clients.append(c)
        if n % 3 == 0:  # related rows the list must not touch
            services.episode_refer(
                actor=theo,
                client=c,
                referral_date=TODAY,
                referral_source="individual",
                primary_clinician=cleo,
            )
    grown, body = _get(http, url)
    _assert_shown(body, [str(c.public_id) for c in clients])
    assert str(elsewhere.public_id) not in body
    if template.startswith("/api/"):
        rows = http.get(url).json()
        assert sorted(r["id"] for r in rows) == sorted(str(c.public_id) for c in clients)
    assert grown == small, f"{url}: {small} queries with 2 clients, {grown} with 10"


# --- a client's episodes ---------------------------------------------------------------------


def _closed_episode(
    actor: User,
    client: Client,
    referred: date,
    *,
    clinician: User | None,
    substances: int,
    program: Program | None = None,
) -> Episode:
    """Referred, admitted with ``substances`` TEDS substances, discharged."""
    episode = services.episode_refer(
        actor=actor,
        client=client,
        referral_date=referred,
        referral_source="individual",
        primary_clinician=clinician,
        program=program,
    )
    episode = admit(
        actor,
        episode,
        admission_date=referred + timedelta(days=2),
        substances=[services.SubstanceIn(r + 1, *SUBSTANCES[r]) for r in range(substances)],
    )
    return discharge(actor, episode, discharge_date=referred + timedelta(days=20))


def test_episode_list_api_queries_do_not_grow_with_episodes(
    login_as: Login,
    theo: User,
    cleo: User,
    tess: User,
    riverside: Program,
    client_record: Client,
) -> None:
    http = login_as(theo)
    url = f"/api/v1/clients/{client_record.public_id}/episodes"
    episodes = [
        _closed_episode(
            theo, client_record, TODAY - timedelta(days=400), clinician=theo, substances=1
        )
    ]
    http.get(url)
    small, _ = _get(http, url)

    for i in range(5):
        episodes.append(
            _closed_episode(
                theo,
                client_record,
                TODAY - timedelta(days=360 - 40 * i),
                clinician=(cleo, theo, None)[i % 3],
                substances=1 + i % 3,
            )
        )
    # Another program's episode (Tess treats in Riverside), with its own clinician.
    episodes.append(
        _closed_episode(
            tess,
            client_record,
            TODAY - timedelta(days=100),
            clinician=tess,
            substances=2,
            program=riverside,
        )
    )
    cancelled = services.episode_refer(
        actor=theo,
        client=client_record,
        referral_date=TODAY - timedelta(days=50),
        referral_source="school",
        primary_clinician=cleo,
    )
    episodes.append(services.episode_cancel(actor=theo, episode=cancelled, version=1, reason="x"))
    open_now = services.episode_refer(
        actor=theo,
        client=client_record,
        referral_date=TODAY - timedelta(days=10),
        referral_source="individual",
        primary_clinician=cleo,
    )
    episodes.append(
        admit(
            theo,
            open_now,
            admission_date=TODAY - timedelta(days=8),
            substances=[
                services.SubstanceIn(1, "cocaine", "smoking", "daily"),
                services.SubstanceIn(2, "alcohol", "oral", "1-2_week"),
            ],
        )
    )
    grown, body = _get(http, url)
    _assert_shown(body, [str(e.public_id) for e in episodes])
    rows = http.get(url).json()
    assert len(rows) == len(episodes) == 9
    assert sum(len(r["substances"]) for r in rows) == 1 + (1 + 2 + 3 + 1 + 2) + 2 + 0 + 2
    assert grown == small, f"{url}: {small} queries with 1 episode, {grown} with 9"


# --- a client's diagnoses ----------------------------------------------------------------------


def _confirmed(actor: User, episode: Episode, substance_class: str) -> Diagnosis:
    assessment = services.sud_assessment_create(
        actor=actor, episode=episode, substance_class=substance_class, answers=SUD_ANSWERS
    )
    return services.diagnosis_confirm(actor=actor, assessment=assessment)


def test_diagnosis_list_api_queries_do_not_grow_with_diagnoses(
    login_as: Login, theo: User, cleo: User, client_record: Client
) -> None:
    http = login_as(theo)
    url = f"/api/v1/clients/{client_record.public_id}/diagnoses"
    first = services.episode_refer(
        actor=theo,
        client=client_record,
        referral_date=TODAY - timedelta(days=90),
        referral_source="individual",
        primary_clinician=theo,
    )
    first = admit(theo, first, admission_date=TODAY - timedelta(days=88))
    diagnoses = [_confirmed(theo, first, "alcohol")]
    http.get(url)
    small, _ = _get(http, url)

    diagnoses += [_confirmed(cleo, first, "opioid"), _confirmed(theo, first, "cannabis")]
    diagnoses.append(
        services.diagnosis_add(
            actor=cleo, client=client_record, episode=first, code="F41.1", description="GAD"
        )
    )
    first = Episode.objects.get(pk=first.pk)
    discharge(theo, first, discharge_date=TODAY - timedelta(days=30))
    second = services.episode_refer(
        actor=cleo,
        client=client_record,
        referral_date=TODAY - timedelta(days=20),
        referral_source="school",
        primary_clinician=cleo,
    )
    second = admit(cleo, second, admission_date=TODAY - timedelta(days=18))
    diagnoses += [_confirmed(cleo, second, "cocaine"), _confirmed(theo, second, "sedative")]
    diagnoses.append(
        services.diagnosis_add(actor=theo, client=client_record, code="F32.1", description="MDD")
    )
    diagnoses.append(
        services.diagnosis_add(
            actor=cleo, client=client_record, episode=second, code="F43.10", description="PTSD"
        )
    )
    for d in diagnoses[3:5] + diagnoses[6:7]:  # struck through, still listed
        services.diagnosis_mark_entered_in_error(
            actor=theo, diagnosis=d, version=d.version, reason="entered on the wrong client"
        )
    assert {d.confirmed_by_id for d in diagnoses} == {theo.pk, cleo.pk}
    grown, body = _get(http, url)
    _assert_shown(body, [str(d.public_id) for d in diagnoses])
    rows = http.get(url).json()
    assert len(rows) == 8 and sum(r["entered_in_error"] for r in rows) == 3
    assert sum(r["source_assessment"] is not None for r in rows) == 5
    assert grown == small, f"{url}: {small} queries with 1 diagnosis, {grown} with 8"


# --- a client's appointments -------------------------------------------------------------------


def _schedule(
    actor: User, client: Client, clinician: User, starts_at: datetime, kind: str
) -> Appointment:
    return scheduling.appointment_schedule(
        actor=actor,
        client=client,
        clinician=clinician,
        kind=kind,
        starts_at=starts_at,
        duration_minutes=50,
        modality=Modality.IPT,
    )


@pytest.mark.parametrize(
    "template",
    ["/clients/{c}/appointments/", "/api/v1/clients/{c}/appointments"],
    ids=["page", "api"],
)
def test_client_appointment_list_queries_do_not_grow_with_appointments(
    login_as: Login,
    theo: User,
    cleo: User,
    northside: Program,
    client_record: Client,
    template: str,
) -> None:
    http = login_as(theo)
    url = template.format(c=client_record.public_id)
    now = timezone.now()
    appointments = [
        _schedule(theo, client_record, theo, now + timedelta(days=2), AppointmentKind.INDIVIDUAL)
    ]
    http.get(url)
    small, _ = _get(http, url)

    for i, (clinician, kind) in enumerate(
        [
            (cleo, AppointmentKind.FAMILY),
            (theo, AppointmentKind.INTAKE),
            (cleo, AppointmentKind.CASE_MANAGEMENT),
        ]
    ):
        appointments.append(
            _schedule(theo, client_record, clinician, now + timedelta(days=3 + i), kind)
        )
    # Past ones, with attendance recorded.
    for i, (clinician, status) in enumerate(
        [
            (theo, AppointmentStatus.ATTENDED),
            (cleo, AppointmentStatus.LATE),
            (cleo, AppointmentStatus.NO_SHOW),
        ]
    ):
        past = _schedule(
            theo, client_record, clinician, now - timedelta(hours=2 + i), AppointmentKind.INDIVIDUAL
        )
        appointments.append(
            scheduling.appointment_record_attendance(
                actor=theo, appointment=past, status=status, modality=Modality.IPT
            )
        )
    cancelled = _schedule(theo, client_record, cleo, now + timedelta(days=9), "individual")
    appointments.append(
        scheduling.appointment_cancel(
            actor=theo,
            appointment=cancelled,
            status=AppointmentStatus.CANCELLED_CLIENT,
            reason="travelling",
        )
    )
    # Group seats, each in its own session with its own facilitator.
    for i, facilitator in enumerate([theo, cleo]):
        session = scheduling.group_session_create(
            actor=theo,
            program=northside,
            title=f"IPT skills group {i}",
            facilitator=facilitator,
            starts_at=now + timedelta(days=12 + i),
            duration_minutes=90,
            modality=Modality.IPT,
        )
        appointments.append(
            scheduling.group_roster_add(actor=theo, session=session, client=client_record)
        )
    assert len(appointments) == 10
    grown, body = _get(http, url)
    _assert_shown(body, [str(a.public_id) for a in appointments])
    if template.startswith("/api/"):
        rows = http.get(url).json()
        assert len(rows) == 10 and sum(r["group_session"] is not None for r in rows) == 2
        assert {r["clinician"] for r in rows} == {str(theo.public_id), str(cleo.public_id)}
    else:
        assert "IPT skills group 0" in body and "IPT skills group 1" in body
        assert "Cleo" in body and "Theo" in body
    assert grown == small, f"{url}: {small} queries with 1 appointment, {grown} with 10"
