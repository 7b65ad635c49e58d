"""Caseload and chart: only my open episodes, the right columns, fixed query counts, outsiders
refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Program
from iptcare.encounters import services as notes
from iptcare.scheduling.models import Appointment

DAP = {"dap": {"data": "d", "assessment": "a", "plan": "p"}}


def _client(program: Program, n: int) -> Client:
    return Client.objects.create(
        organisation=program.organisation,
        program=program,
        record_number=f"CL-{n:04d}",
        legal_given_name=f"Given{n}",
        legal_family_name=f"Family{n:04d}",
        date_of_birth=date(1980, 1, 1) + timedelta(days=n),
    )


def _episode(client: Client, clinician: User, status: str = "admitted") -> Episode:
    today = date.today()
    return Episode.objects.create(
        organisation=client.organisation,
        program=client.program,
        client=client,
        status=status,
        primary_clinician=clinician,
        referral_date=today - timedelta(days=40),
        referral_source="individual",
        admission_date=None if status == "referred" else today - timedelta(days=35),
        discharge_date=today - timedelta(days=1) if status == "discharged" else None,
        discharge_reason="completed" if status == "discharged" else "",
        level_of_care="" if status == "referred" else "1",
    )


def _appointment(client: Client, clinician: User, days: int, status: str) -> Appointment:
    return Appointment.objects.create(
        organisation=client.organisation,
        program=client.program,
        client=client,
        clinician=clinician,
        kind="individual",
        starts_at=timezone.now() + timedelta(days=days),
        duration_minutes=50,
        status=status,
        modality="ipt" if status == "attended" else "",
    )


def _grow(theo: User, northside: Program, start: int, count: int) -> None:
    for n in range(start, start + count):
        c = _client(northside, n)
        _episode(c, theo)
        _appointment(c, theo, -7, "attended")
        _appointment(c, theo, 7, "scheduled")
        notes.note_create(
            actor=theo,
            client=c,
            kind="individual",
            session_date=date.today() - timedelta(days=1),
            content=DAP,
        )


def test_caseload_shows_my_open_episodes_with_visits_and_drafts(
    theo: User, tess: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    mine = _client(northside, 1)
    _episode(mine, theo)
    _appointment(mine, theo, -7, "attended")
    _appointment(mine, theo, 3, "scheduled")
    notes.note_create(
        actor=theo,
        client=mine,
        kind="individual",
        session_date=date.today() - timedelta(days=1),
        content=DAP,
    )
    _episode(_client(northside, 2), theo, status="discharged")
    page = login_as(theo).get("/caseload/")
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [r.client for r in rows] == [mine]
    row = rows[0]
    assert row.unsigned_notes == 1
    assert row.next_appointment is not None and row.next_appointment > timezone.now()
    assert row.last_seen is not None and row.last_seen < timezone.now()
    assert login_as(tess).get("/caseload/").context["rows"] == []


def _cells(html: str) -> list[str]:
    """The text of each cell of the caseload's first row, tags removed."""
    row = html.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def test_caseload_cells_show_each_column_as_the_clinician_reads_it(
    theo: User, northside: Program, login_as: Callable[[User], HttpClient], zone: str
) -> None:
    """Every column of a row, formatted in the current time zone (dates can fall on another
    day there); an empty row shows its placeholders."""
    # Imported here: that module imports this one.
    from tests.measures.test_schedule_services import given

    mine = _client(northside, 7)
    mine.preferred_name = "Sunny"
    mine.save()
    episode = _episode(mine, theo)
    seen = _appointment(mine, theo, -7, "attended")
    upcoming = _appointment(mine, theo, 3, "scheduled")
    notes.note_create(
        actor=theo, client=mine, kind="individual", session_date=date.today(), content=DAP
    )
    given(episode, "phq-9", 30, total=20)
    given(episode, "phq-9", 2, total=8.5)
    with timezone.override(zone):
        page = login_as(theo).get("/caseload/")
        tz = timezone.get_current_timezone()
    html = page.content.decode()
    since = episode.admission_date.strftime("%Y-%m-%d")  # type: ignore[union-attr]
    next_at = upcoming.starts_at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")
    last = seen.starts_at.astimezone(tz).strftime("%Y-%m-%d")
    cells = _cells(html)
    assert cells[:6] == [
        "Sunny Family0007 CL-0007",
        "Northside",
        f"Admitted since {since}",
        next_at,
        last,
        "1",
    ]
    assert cells[6:9] == ["no IPT contract", "no active plan", "PHQ-9 8.5 · improved"]
    assert f'href="/clients/{mine.public_id}/"' in html
    assert f'href="/clients/{mine.public_id}/measures/"' in html
    assert f'href="/episodes/{episode.public_id}/ipt/"' in html
    assert f'href="/episodes/{episode.public_id}/plan/"' in html
    assert '<strong class="warn">1</strong>' in html  # the unsigned draft


def test_caseload_cells_placeholders_and_escaping(
    theo: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    mine = _client(northside, 8)
    mine.legal_given_name = "<b>Bold</b>"
    mine.save()
    _episode(mine, theo, status="referred")
    html = login_as(theo).get("/caseload/").content.decode()
    assert "&lt;b&gt;Bold&lt;/b&gt; Family0008" in html and "<b>Bold</b>" not in html
    assert _cells(html)[2:] == [
        "Referred",
        "—",
        "never",
        "0",
        "no IPT contract",
        "no active plan",
        "none yet",
        "0",
        "none now",
    ]


def test_caseload_query_count_does_not_grow(
    theo: User, northside: Program, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)
    _grow(theo, northside, 1, 2)
    http.get("/caseload/")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert http.get("/caseload/").status_code == 200
        return len(ctx.captured_queries)

    small = count()
    _grow(theo, northside, 10, 6)
    assert len(http.get("/caseload/").context["rows"]) == 8
    assert count() == small


def test_chart_query_count_does_not_grow_with_history(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    http = login_as(theo)
    _episode(client_record, theo)

    def add_history(n: int) -> None:
        for i in range(n):
            _appointment(client_record, theo, -7 * (i + 1), "attended")
            note = notes.note_create(
                actor=theo,
                client=client_record,
                kind="individual",
                session_date=date.today() - timedelta(days=7 * (i + 1)),
                content=DAP,
            )
            note = notes.note_sign(actor=theo, note=note, version=note.version)
            notes.note_add_addendum(actor=theo, note=note, text="more")

    add_history(2)
    url = f"/clients/{client_record.public_id}/"
    http.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = http.get(url)
            assert response.status_code == 200
        return len(ctx.captured_queries)

    small = count()
    add_history(6)
    response = http.get(url)
    assert response.content.decode().count('data-testid="timeline-note"') == 8
    assert count() == small


def test_chart_shows_appointments_and_notes_on_one_timeline(
    theo: User, client_record: Client, login_as: Callable[[User], HttpClient]
) -> None:
    _appointment(client_record, theo, -2, "no_show")
    notes.note_create(
        actor=theo,
        client=client_record,
        kind="individual",
        session_date=date.today() - timedelta(days=1),
        content=DAP,
    )
    html = login_as(theo).get(f"/clients/{client_record.public_id}/").content.decode()
    assert 'data-testid="timeline-note"' in html and "No-show" in html


def test_peer_specialist_sees_identity_but_not_the_clinical_timeline(
    make_user: Callable[..., User],
    org: object,
    northside: Program,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
    theo: User,
) -> None:
    from iptcare.access.vocabulary import Role

    pat = make_user(
        "pat@example.org", organisation=org, roles=(Role.PEER_SPECIALIST,), programs=(northside,)
    )
    notes.note_create(
        actor=theo,
        client=client_record,
        kind="individual",
        session_date=date.today() - timedelta(days=1),
        content=DAP,
    )
    response = login_as(pat).get(f"/clients/{client_record.public_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Wren" in html and 'data-testid="timeline"' not in html


@pytest.mark.parametrize(("persona", "status"), [("tess", 403), ("remy", 403), ("oscar", 404)])
def test_outsiders_cannot_open_the_chart(
    request: pytest.FixtureRequest,
    persona: str,
    status: int,
    client_record: Client,
    login_as: Callable[[User], HttpClient],
) -> None:
    actor: User = request.getfixturevalue(persona)
    response = login_as(actor).get(f"/clients/{client_record.public_id}/")
    assert response.status_code == status
    assert b"Testbrook" not in response.content
