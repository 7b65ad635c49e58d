"""Configuration from the environment, the console script, health check, demo data."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client as HttpClient

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.demo import generator

ROOT = Path(__file__).resolve().parent.parent
IPTCARE = str(Path(sys.executable).parent / "iptcare")


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IPTCARE_", "DJANGO_"))}
    base.pop("SECRET_KEY", None)
    base.pop("DATABASE_URL", None)
    return subprocess.run(
        [IPTCARE, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_secret_key_is_required_outside_demo_and_test(tmp_path: Path) -> None:
    result = _run(["check"], IPTCARE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_demo_mode_generates_a_secret_key_into_var(tmp_path: Path) -> None:
    result = _run(["check"], IPTCARE_DEMO="1", IPTCARE_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    key = tmp_path / "secret_key"
    assert key.exists() and len(key.read_text()) > 50
    assert oct(key.stat().st_mode)[-3:] == "600"


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        IPTCARE_PRODUCTION="1",
        SECRET_KEY="a-long-random-production-secret-" + "k" * 40 + "-0123456789",
        ALLOWED_HOSTS="iptcare.example.org",
        IPTCARE_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_missing_allowed_hosts(tmp_path: Path) -> None:
    result = _run(
        ["check"], IPTCARE_PRODUCTION="1", SECRET_KEY="x" * 60, IPTCARE_VAR_DIR=str(tmp_path)
    )
    assert result.returncode != 0 and "ALLOWED_HOSTS is required" in result.stderr


def test_debug_is_off_unless_asked_for() -> None:
    from django.conf import settings

    assert settings.DEBUG is False


def test_bad_boolean_in_the_environment_is_a_clear_error(tmp_path: Path) -> None:
    result = _run(
        ["check"], IPTCARE_DEMO="1", IPTCARE_REQUIRE_MFA="maybe", IPTCARE_VAR_DIR=str(tmp_path)
    )
    assert result.returncode != 0 and "IPTCARE_REQUIRE_MFA must be a boolean" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_sqlite_runs_in_wal_mode_with_full_sync() -> None:
    """Every commit is synced before it is reported, inside transactions too (Django's own
    backend with ``synchronous=FULL``, ADR 0015)."""
    if connection.vendor != "sqlite":
        assert connection.vendor == "postgresql"
        return
    assert connection.settings_dict["ENGINE"] == "django.db.backends.sqlite3"
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        with transaction.atomic():
            assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_settings_of_earlier_releases_are_named_at_start_and_ignored(tmp_path: Path) -> None:
    result = _run(
        ["check"],
        IPTCARE_DEMO="1",
        IPTCARE_VAR_DIR=str(tmp_path),
        IPTCARE_AUDIT_CHAINS="8",
        DB_PREPARED_STATEMENTS="0",
    )
    assert result.returncode == 0, result.stderr
    assert "IPTCARE_AUDIT_CHAINS is no longer used" in result.stderr
    assert "DB_PREPARED_STATEMENTS is no longer used" in result.stderr


def test_the_old_sqlite_backends_writer_lock_file_is_removed_at_start(tmp_path: Path) -> None:
    lock = tmp_path / "iptcare.sqlite3.writelock"
    lock.write_text("")
    result = _run(["check"], IPTCARE_DEMO="1", IPTCARE_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert not lock.exists()


def test_a_failed_sync_marker_of_the_old_backend_stops_the_app_until_removed(
    tmp_path: Path,
) -> None:
    """A commit may not have reached the disk: only a person can tell whether anything was
    lost, so the app does not start over it (docs/configuration.md)."""
    marker = tmp_path / "iptcare.sqlite3.sync-failed"
    marker.write_text("2026-11-28T00:00:00Z [Errno 5] Input/output error\n")
    result = _run(["check"], IPTCARE_DEMO="1", IPTCARE_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "may not have reached the disk" in result.stderr and str(marker) in result.stderr
    marker.unlink()
    assert _run(["check"], IPTCARE_DEMO="1", IPTCARE_VAR_DIR=str(tmp_path)).returncode == 0


@pytest.mark.django_db
def test_healthz_answers_when_the_database_does() -> None:
    response = HttpClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_demo_is_deterministic_idempotent_and_fictional() -> None:
    out = StringIO()
    call_command("demo", "--clients", "30", stdout=out)
    assert "Loaded" in out.getvalue()
    org = generator.demo_organisation()
    assert org is not None and org.is_demo and "fictional" in org.name
    assert org.programs.count() == 2
    staff = User.objects.filter(organisation=org)
    assert 12 <= staff.count() <= 20
    roles = {g.role for u in staff.prefetch_related("role_grants") for g in u.role_grants.all()}
    from iptcare.access.vocabulary import Role

    assert roles == set(Role)  # every role is represented
    assert all(u.email.endswith("@example.org") for u in staff)
    first = list(
        Client.objects.order_by("record_number").values_list("legal_given_name", "date_of_birth")
    )
    assert len(first) == 30

    again = StringIO()
    call_command("demo", stdout=again)
    assert "already loaded" in again.getvalue()
    assert Client.objects.count() == 30


@pytest.mark.django_db
def test_demo_same_seed_same_people_other_seed_other_people() -> None:
    def people(seed: int) -> list[tuple[str, str, str, date]]:
        with transaction.atomic():
            generator.generate(seed=seed, clients=25)
            rows = list(
                Client.objects.order_by("record_number").values_list(
                    "record_number", "legal_given_name", "legal_family_name", "date_of_birth"
                )
            )
            transaction.set_rollback(True)
        return rows

    assert people(7) == people(7)
    assert people(7) != people(8)


@pytest.mark.django_db
def test_demo_logins_as_json_lines_work_for_login() -> None:
    call_command("demo", "--clients", "0")
    out = StringIO()
    call_command("demo-logins", "--json", stdout=out)
    logins = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(logins) == len(generator.STAFF)
    assert set(logins[0]) == {"email", "password", "roles"}
    admin = next(line for line in logins if line["email"] == "admin@example.org")
    assert admin["roles"] == ["administrator"]
    response = HttpClient().post(
        "/account/login/", {"username": admin["email"], "password": admin["password"]}
    )
    assert response.status_code == 302


def test_console_script_is_installed() -> None:
    result = _run(["help"], IPTCARE_DEMO="1")
    assert result.returncode == 0
    for command in ("audit", "token", "demo", "demo-logins", "roles-doc"):
        assert command in result.stdout


@pytest.mark.django_db
def test_demo_at_scale_keeps_caseloads_realistic() -> None:
    """At benchmark scale extra fictional therapists keep caseloads near 35, not thousands."""
    from django.db.models import Count

    from iptcare.clients.models import Episode

    generator.generate(seed=3, clients=700)
    loads = list(
        Episode.objects.filter(status__in=["referred", "admitted"])
        .values("primary_clinician")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    )
    assert len(loads) >= 15
    assert max(loads) < 80


def test_bench_refuses_a_saved_database_of_another_scale(tmp_path: Path) -> None:
    from bench.server import check_seed_clients

    seed = tmp_path / "seed.sqlite3"
    with closing(sqlite3.connect(seed)) as db:
        db.execute("CREATE TABLE clients_client (id INTEGER PRIMARY KEY)")
        db.executemany("INSERT INTO clients_client (id) VALUES (?)", [(n,) for n in range(3)])
        db.commit()
    check_seed_clients(seed, 3)
    with pytest.raises(SystemExit, match="holds 3 clients, not 20000: pass --clients 3"):
        check_seed_clients(seed, 20000)


def test_gunicorn_serves_with_processes_unless_threads_are_asked_for() -> None:
    """ADR 0011: sync workers, 2 x CPUs + 1 of them, by default; the environment overrides."""
    from bench.server import server_layout

    cpus = len(os.sched_getaffinity(0))
    base = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    assert server_layout(base) == {
        "workers": 2 * cpus + 1,
        "threads": 1,
        "worker_class": "sync",
        "timeout": 120,
    }
    custom = server_layout(base | {"GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "4"})
    assert (custom["workers"], custom["threads"], custom["worker_class"]) == (3, 4, "gthread")
    assert server_layout(base | {"GUNICORN_TIMEOUT": "30"})["timeout"] == 30


def test_bench_judges_the_submit_goal_on_the_median_round() -> None:
    """With several rounds the submit's ratio to F0 is listed per round and the goal judged on
    the median, so one round's drifting F0 decides nothing on its own."""
    from bench.load import LoadResult
    from bench.report import render_submit_rounds, submit_ratio_over_rounds
    from bench.submit import SCENARIO

    def submit(ratio: float | None) -> LoadResult:
        return LoadResult(SCENARIO, "/m/x/", 10, 8.0, 1, 0, 1.0, 1, 1, 1, 1, 1, 0, 1, {}, ratio)

    rounds = [
        {"on": {SCENARIO: submit(0.147)}, "off": {SCENARIO: submit(0.16)}},
        {"on": {SCENARIO: submit(0.162)}, "off": {SCENARIO: submit(0.14)}},
        {"on": {SCENARIO: submit(0.155)}, "off": {SCENARIO: submit(0.13)}},
        {"on": {"f0": submit(None)}},  # a round without the submit counts for nothing
    ]
    verdicts = submit_ratio_over_rounds(rounds)
    assert verdicts["on"]["per_round"] == [0.147, 0.162, 0.155]
    assert (verdicts["on"]["median"], verdicts["on"]["goal_met"]) == (0.155, True)
    assert (verdicts["off"]["median"], verdicts["off"]["goal_met"]) == (0.14, False)
    lines = render_submit_rounds(verdicts)
    assert "median 0.155 x F0 (0.147, 0.162, 0.155)" in lines[0] and lines[0].endswith(": MET")
    assert lines[1].endswith(": NOT MET")
    assert submit_ratio_over_rounds([{"on": {"f0": submit(None)}}]) == {}
