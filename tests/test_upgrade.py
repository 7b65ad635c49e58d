"""A demo database made before ADR 0015 migrates when ``make demo`` runs again.

``tests/fixtures/demo-before-adr-0015.sqlite3.gz`` is a small demo (``iptcare demo --clients 12
--seed 7``, fictional people only) made by the release before ADR 0015 (commit 6cc93c3), with a
few audited reads and link submits in its trail (13 events, one chain). Here it goes through
exactly what ``make demo`` runs again — ``iptcare migrate`` and ``iptcare demo`` — with the old
SQLite backend's writer lock file beside it, as that release left it.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IPTCARE = str(Path(sys.executable).parent / "iptcare")
FIXTURE = Path(__file__).parent / "fixtures" / "demo-before-adr-0015.sqlite3.gz"
SUBMIT = """
from iptcare.accounts.models import User
from iptcare.clients.models import Episode
from iptcare.measures import services
t = User.objects.get(email="therapist@example.org")
e = Episode.objects.filter(primary_clinician=t, status="admitted").first()
issued = services.link_issue(
    actor=t, client=e.client, instrument_code="phq-9", base_url="http://t/"
)
a = services.link_submit(secret=issued.secret, answers={str(n): "2" for n in range(1, 10)})
print("stored", a.total, a.flags[0]["code"])
"""


def _iptcare(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IPTCARE_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env |= {"IPTCARE_DEMO": "1", "IPTCARE_VAR_DIR": str(var)}
    return subprocess.run(
        [IPTCARE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_demo_database_made_before_the_change_migrates_on_make_demo(tmp_path: Path) -> None:
    database = tmp_path / "iptcare.sqlite3"
    with gzip.open(FIXTURE) as packed, database.open("wb") as out:
        shutil.copyfileobj(packed, out)
    lock = tmp_path / "iptcare.sqlite3.writelock"
    lock.touch()
    with closing(sqlite3.connect(database)) as db:
        old_head = db.execute(
            "SELECT seq, hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        clients = db.execute("SELECT count(*) FROM clients_client").fetchone()[0]
    assert old_head[0] == 13 and clients == 12

    # What `make demo` runs (Makefile): migrate, then load the demo if it is not there.
    migrate = _iptcare(tmp_path, "migrate", "--noinput", "-v", "0")
    assert migrate.returncode == 0, migrate.stderr
    demo = _iptcare(tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "keeping its data" in demo.stdout
    assert not lock.exists()

    verify = _iptcare(tmp_path, "audit", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    result = json.loads(verify.stdout)
    assert result["ok"] and [(h["chain"], h["events"]) for h in result["heads"]] == [(0, 14)]
    with closing(sqlite3.connect(database)) as db:
        seal = db.execute(
            "SELECT seq, prev_hash, action, detail FROM audit_auditevent WHERE seq = 14"
        ).fetchone()
        assert db.execute("SELECT count(*) FROM clients_client").fetchone()[0] == clients
    assert seal[:3] == (14, old_head[1], "seal")
    assert json.loads(seal[3]) == {"chains": {"0": {"seq": 13, "hash": old_head[1]}}}

    # The upgraded demo goes on: a questionnaire submitted through a new link is stored and
    # audited after the seal, and the trail still verifies.
    submitted = _iptcare(tmp_path, "shell", "--no-imports", "-c", SUBMIT)
    assert submitted.returncode == 0, submitted.stderr
    assert "stored 18 item-9-self-harm" in submitted.stdout
    verify = _iptcare(tmp_path, "audit", "verify", "--json")
    result = json.loads(verify.stdout)
    assert verify.returncode == 0 and result["ok"] and result["heads"][0]["events"] == 16
