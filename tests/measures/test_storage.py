"""How a questionnaire submit's rows are stored (measures migration 0005, audit 0007).

- An administration (answers, scores, its FHIR QuestionnaireResponse and Observation) is kept
  whole in its row on PostgreSQL: no compression, nothing moved to the TOAST table.
- The link's secret and the audit event's predecessor are UNIQUE through one index each: no
  pattern-matching second index for every write to pay for."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from iptcare.accounts.models import User
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client
from iptcare.measures import services
from iptcare.measures.models import Administration, MeasureLink
from tests.test_caseload_chart import _episode

ANSWERS = {str(n): "2" for n in range(1, 10)}


def _indexes(table: str) -> dict[tuple[str, ...], list[bool]]:
    """The table's indexes: column list -> one entry per index, whether it is unique."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    found: dict[tuple[str, ...], list[bool]] = {}
    for c in constraints.values():
        if c["index"] or c["unique"]:
            found.setdefault(tuple(c["columns"]), []).append(bool(c["unique"]))
    return found


@pytest.mark.django_db
def test_one_unique_index_each_for_the_link_secret_and_the_audit_predecessor(
    theo: User, client_record: Client
) -> None:
    assert _indexes(MeasureLink._meta.db_table)[("secret_hash",)] == [True]
    assert _indexes(AuditEvent._meta.db_table)[("prev_hash",)] == [True]
    _episode(client_record, theo)
    issued = services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    )
    link = MeasureLink.objects.get(public_id=issued.link.public_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        MeasureLink.objects.create(  # a second link with the same secret
            organisation=link.organisation,
            client=link.client,
            episode=link.episode,
            instrument=link.instrument,
            secret_hash=link.secret_hash,
            issued_by=link.issued_by,
            expires_at=link.expires_at,
        )


@pytest.mark.django_db
def test_an_administration_is_kept_whole_in_its_row(theo: User, client_record: Client) -> None:
    _episode(client_record, theo)
    secret = services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    ).secret
    administration = services.link_submit(secret=secret, answers=ANSWERS)
    if connection.vendor != "postgresql":
        # SQLite has no compression or TOAST: the row is stored as written.
        assert Administration.objects.get(pk=administration.pk).questionnaire_response
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.reloptions, t.relname FROM pg_class c JOIN pg_class t"
            " ON t.oid = c.reltoastrelid WHERE c.relname = %s",
            [Administration._meta.db_table],
        )
        options, toast = cursor.fetchone()
        assert "toast_tuple_target=8160" in options
        cursor.execute(
            "SELECT pg_column_size(a.*), octet_length(a.questionnaire_response::text),"
            " pg_column_size(a.questionnaire_response) FROM measures_administration a"
            " WHERE a.id = %s",
            [administration.pk],
        )
        row, qr_text, qr_stored = cursor.fetchone()
        cursor.execute(f'SELECT count(*) FROM pg_toast."{toast}"')
        (toasted,) = cursor.fetchone()
    # Over the default threshold (about 2 kB), which would have compressed it and moved it out;
    # whole in the row (stored uncompressed, at least as large as its text) and nothing in TOAST.
    assert row > 2100
    assert qr_stored >= qr_text * 0.9
    assert toasted == 0
