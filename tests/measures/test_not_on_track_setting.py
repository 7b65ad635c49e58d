"""The not-on-track rule uses the client's program's session when the program sets one
(``MeasureSettings``), in session and through a link alike, at the same query cost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.measures import services
from iptcare.measures.models import Alert, AlertKind, MeasureSettings
from iptcare.scheduling.models import Appointment
from tests.test_caseload_chart import _episode

SAME = {str(n): "1" for n in range(1, 9)} | {"9": "0"}  # total 8: no reliable change


def _attended(theo: User, client: Client, sessions: int) -> None:
    Appointment.objects.bulk_create(
        Appointment(
            organisation=client.organisation,
            program=client.program,
            client=client,
            clinician=theo,
            kind="individual",
            modality="ipt",
            status="attended",
            starts_at=timezone.now() - timedelta(days=30 - n),
            duration_minutes=50,
        )
        for n in range(sessions)
    )


def _flat_series(theo: User, client: Client, sessions: int) -> None:
    _episode(client, theo)
    services.administer(actor=theo, client=client, instrument_code="phq-9", answers=SAME)
    _attended(theo, client, sessions)


@pytest.mark.parametrize(
    ("program_session", "attended", "flagged"),
    [(None, 5, False), (None, 8, True), (5, 4, False), (5, 5, True), (12, 8, False)],
)
def test_in_session_the_programs_session_decides(
    theo: User, client_record: Client, program_session: int | None, attended: int, flagged: bool
) -> None:
    if program_session is not None:
        MeasureSettings.objects.create(
            program=client_record.program, not_on_track_session=program_session
        )
    _flat_series(theo, client_record, attended)
    services.administer(actor=theo, client=client_record, instrument_code="phq-9", answers=SAME)
    kinds = list(Alert.objects.values_list("kind", flat=True))
    assert kinds == ([AlertKind.NOT_ON_TRACK] if flagged else [])


@pytest.mark.parametrize(("program_session", "flagged"), [(None, False), (5, True)])
def test_through_a_link_the_programs_session_decides_at_no_extra_query(
    theo: User, client_record: Client, program_session: int | None, flagged: bool
) -> None:
    if program_session is not None:
        MeasureSettings.objects.create(
            program=client_record.program, not_on_track_session=program_session
        )
    _flat_series(theo, client_record, 6)
    secret = services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    ).secret
    with CaptureQueriesContext(connection) as ctx:
        services.link_submit(secret=secret, answers=SAME)
    kinds = list(Alert.objects.values_list("kind", flat=True))
    assert kinds == ([AlertKind.NOT_ON_TRACK] if flagged else [])
    if not flagged:  # the statements of a submit that raises nothing (test_submit_queries):
        # the link, SAVEPOINT, the episode with the rules' history, the administration, the
        # link spent, the audit append (2; PostgreSQL 3: the chain's lock), RELEASE
        assert len(ctx) == (9 if connection.vendor == "postgresql" else 8)
