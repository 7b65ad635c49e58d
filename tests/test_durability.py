"""An acknowledged write survives kill -9 of the server (DESIGN invariant 4, "nothing is lost").

A real gunicorn serves the test database (SQLite: the same file, with ``synchronous=FULL``;
PostgreSQL: the same database); clients submit questionnaires through single-use links; the
whole server is killed with SIGKILL while they do. Every submit that was answered 200 is then in
the database with its spent link and its audit event, nothing is half written, and the audit
chain verifies.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from django.db import connection

from iptcare.accounts.models import User, hash_token_secret
from iptcare.audit import chain
from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.measures import services
from iptcare.measures.models import Administration, MeasureLink

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
FORM = {f"item_{n}": "1" for n in range(1, 10)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user, host, port = settings["USER"], settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IPTCARE_", "DJANGO_"))}
    env |= {
        "DATABASE_URL": _database_url(),
        "IPTCARE_DEMO": "1",
        "IPTCARE_VAR_DIR": str(tmp_path),
        "GUNICORN_WORKERS": "3",
        "DB_CONN_MAX_AGE": "0",
    }
    process = subprocess.Popen(
        [GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{port}", "-c", "config/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: SIGKILL reaches master and workers
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except OSError:  # not listening yet, or still starting
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        yield base, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.mark.django_db(transaction=True)
def test_every_acknowledged_submit_survives_kill_9_of_the_server(
    theo: User, client_record: Client, server: tuple[str, subprocess.Popen[bytes]]
) -> None:
    base, process = server
    Episode.objects.create(
        organisation=client_record.organisation,
        program=client_record.program,
        client=client_record,
        status="admitted",
        referral_date=date(2026, 1, 5),
        admission_date=date(2026, 1, 6),
        primary_clinician=theo,
    )
    paths = [
        services.link_issue(
            actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
        ).path
        for _ in range(60)
    ]
    acknowledged: list[str] = []
    lock = threading.Lock()
    body = urllib.parse.urlencode(FORM).encode()

    def submit(mine: list[str]) -> None:
        for path in mine:
            request = urllib.request.Request(f"{base}{path}", data=body, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                    if answer.status == 200:
                        with lock:
                            acknowledged.append(path)
            except OSError:
                return  # the server is gone

    threads = [threading.Thread(target=submit, args=(paths[n::4],)) for n in range(4)]
    for t in threads:
        t.start()
    for _ in range(1000):  # kill while submits are under way, after some were answered
        with lock:
            if len(acknowledged) >= 20:
                break
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    for t in threads:
        t.join(30)

    assert len(acknowledged) >= 20
    connection.close()  # read what is on disk now, through a new connection
    spent = {link.pk: link for link in MeasureLink.objects.filter(used_at__isnull=False)}
    stored = list(Administration.objects.filter(mode="link"))
    # Every acknowledged submit is there (one per link), and nothing is half written.
    hashes = {hash_token_secret(path.strip("/").split("/")[-1]) for path in acknowledged}
    assert hashes <= {link.secret_hash for link in spent.values()}
    assert len(stored) == len(spent) >= len(acknowledged)
    assert {link.administration_id for link in spent.values()} == {a.pk for a in stored}
    created = AuditEvent.objects.filter(action="create", resource_type="administration")
    assert set(created.values_list("resource_id", flat=True)) == {str(a.public_id) for a in stored}
    assert chain.verify().ok
