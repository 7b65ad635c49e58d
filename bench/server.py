"""The system under test: a throwaway database and a gunicorn started like ``make demo``."""

from __future__ import annotations

import http.client
import os
import re
import runpy
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


def venv_bin() -> Path:
    """``.venv/bin`` of this checkout (falling back to the running interpreter's directory)."""
    candidate = ROOT / ".venv" / "bin"
    if (candidate / "iptcare").exists():
        return candidate
    return Path(sys.executable).parent  # not resolved: a venv's python is a symlink


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def base_env(var_dir: Path, database_url: str | None) -> dict[str, str]:
    """Demo-mode environment for every subprocess (migrate, demo, gunicorn)."""
    env = dict(os.environ)
    for name in ("IPTCARE_PRODUCTION", "IPTCARE_TEST", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        {
            "IPTCARE_VAR_DIR": str(var_dir),
            "IPTCARE_DEMO": "1",
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def run_checked(args: list[str], env: dict[str, str], timeout: float) -> str:
    """Run a command from the project root; raise with its output if it fails."""
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    return done.stdout


def prepare_database(env: dict[str, str], clients: int, seed: Path | None = None) -> str:
    """Migrate and load the demo organisation; returns what ``iptcare demo`` printed.

    ``seed`` (SQLite only): a saved copy of a loaded benchmark database. If it exists it is
    copied in and migrated forward instead of generating the demo again (5 minutes at 20,000
    clients); if it does not, the database is generated and then saved there."""
    iptcare = str(venv_bin() / "iptcare")
    target = Path(env["IPTCARE_VAR_DIR"]) / "iptcare.sqlite3"
    if seed is not None and seed.exists():
        check_seed_clients(seed, clients)
        shutil.copyfile(seed, target)
        run_checked([iptcare, "migrate", "--noinput", "-v", "0"], env, timeout=900)
        return f"copied the demo database from {seed}"
    run_checked([iptcare, "migrate", "--noinput", "-v", "0"], env, timeout=900)
    output = run_checked([iptcare, "demo", "--clients", str(clients)], env, timeout=1800).strip()
    if seed is not None:
        # Fold the WAL into the main file so that one file is a complete copy.
        checkpoint = (
            "from django.db import connection; "
            "connection.cursor().execute('PRAGMA wal_checkpoint(TRUNCATE)')"
        )
        run_checked([iptcare, "shell", "-c", checkpoint], env, timeout=300)
        seed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, seed)
    return output


def check_seed_clients(seed: Path, clients: int) -> None:
    """Refuse a saved database generated for another ``--clients`` than this run asks for: the
    figures would be labelled with the wrong scale."""
    with closing(sqlite3.connect(f"file:{seed}?mode=ro", uri=True)) as db:
        (found,) = db.execute("SELECT count(*) FROM clients_client").fetchone()
    if found != clients:
        raise SystemExit(
            f"--seed {seed} holds {found} clients, not {clients}: "
            f"pass --clients {found}, or delete it to generate {clients}"
        )


def audit_event_count(env: dict[str, str]) -> int:
    """Rows in the audit trail, read through Django so it works for any database."""
    code = "from iptcare.audit.models import AuditEvent; print(AuditEvent.objects.count())"
    out = run_checked([str(venv_bin() / "iptcare"), "shell", "-c", code], env, timeout=120)
    return int(out.strip().splitlines()[-1])


# --- PostgreSQL ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresTarget:
    host: str
    port: int
    user: str
    password: str
    name: str

    @classmethod
    def parse(cls, url: str) -> PostgresTarget:
        parts = urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql"}:
            raise ValueError(f"--database-url must be postgres://..., got scheme {parts.scheme!r}")
        name = unquote(parts.path.lstrip("/"))
        host = parts.hostname or HOST
        if host not in LOOPBACK_NAMES:
            raise ValueError(f"refusing a non-loopback database host {host!r}")
        # The harness DROPs this database: insist on a name that says it is for benchmarks.
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name) or "bench" not in name:
            raise ValueError(
                f"database name {name!r} must be a plain identifier containing 'bench' "
                "(the harness creates and drops it)"
            )
        return cls(
            host=host,
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            name=name,
        )

    def _psql(self, sql: str) -> None:
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        if self.password:
            env["PGPASSWORD"] = self.password
        args = ["psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", "postgres"]
        args += ["-v", "ON_ERROR_STOP=1", "-q", "-c", sql]
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {done.stderr.strip()}")

    def recreate(self, template: str | None = None) -> None:
        """Create the benchmark database afresh: empty, or as a copy of ``template`` (a saved
        demo database of a previous run: PostgreSQL copies it file by file, in seconds)."""
        self.drop()
        if template is None:
            self._psql(f'CREATE DATABASE "{self.name}"')
        else:
            self._psql(f'CREATE DATABASE "{self.name}" TEMPLATE "{template}"')

    def save_as(self, seed: str) -> None:
        """Keep this database, as it is now, as ``seed`` (for ``recreate(template=seed)``)."""
        self._psql(f'DROP DATABASE IF EXISTS "{seed}" WITH (FORCE)')
        self._psql(f'CREATE DATABASE "{seed}" TEMPLATE "{self.name}"')

    def exists(self, name: str) -> bool:
        # The names are checked identifiers (``parse``, the ``--seed`` argument).
        sql = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608
        return bool(self._psql_value(sql))

    def clients_in(self, name: str) -> int:
        return int(self._psql_value("SELECT count(*) FROM clients_client", database=name))

    def _psql_value(self, sql: str, database: str = "postgres") -> str:
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        if self.password:
            env["PGPASSWORD"] = self.password
        args = ["psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database]
        args += ["-v", "ON_ERROR_STOP=1", "-At", "-c", sql]
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def drop(self) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def prepare_postgres(
    target: PostgresTarget, env: dict[str, str], clients: int, seed: str | None
) -> str:
    """The PostgreSQL twin of ``prepare_database``: ``seed`` names a database kept from an
    earlier run; if it exists, the benchmark database is created as a copy of it (a template)
    and migrated forward; if not, the demo is generated and then saved as ``seed``."""
    if seed is not None and target.exists(seed):
        found = target.clients_in(seed)
        if found != clients:
            raise SystemExit(
                f"--seed {seed} holds {found} clients, not {clients}: "
                f"pass --clients {found}, or drop it to generate {clients}"
            )
        target.recreate(template=seed)
        run_checked([str(venv_bin() / "iptcare"), "migrate", "--noinput", "-v", "0"], env, 900)
        return f"copied the demo database from {seed}"
    target.recreate()
    output = prepare_database(env, clients)
    if seed is not None:
        target.save_as(seed)
    return output


def server_layout(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Processes, threads, worker class and timeout as ``config/gunicorn.conf.py`` resolves them
    for this environment (the one source ``make demo`` uses too), for the report."""
    saved = dict(os.environ)
    try:
        if environ is not None:
            os.environ.clear()
            os.environ.update(environ)
        conf = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {k: conf[k] for k in ("workers", "threads", "worker_class", "timeout")}


# --- gunicorn ------------------------------------------------------------------------------


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM gunicorn's master (it stops its workers), then SIGKILL its process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    # The master was started in its own session: its group holds only it and its workers.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextmanager
def gunicorn(
    env: dict[str, str], audit: bool, log_path: Path, startup_timeout: float = 60.0
) -> Iterator[int]:
    """Start the app as ``make demo`` does, wait for /healthz, yield the port; always stop it."""
    port = free_port()
    server_env = dict(
        env,
        IPTCARE_BENCH="1",
        IPTCARE_REQUIRE_MFA="0",
        IPTCARE_AUDIT_ENABLED="1" if audit else "0",
    )
    args = [str(venv_bin() / "gunicorn"), "config.wsgi", "--bind", f"{HOST}:{port}"]
    args += ["--config", "config/gunicorn.conf.py"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        give_up = time.monotonic() + startup_timeout
        while not _healthy(port):
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > give_up:
                raise RuntimeError(
                    f"gunicorn did not answer /healthz within {startup_timeout:.0f} s:\n"
                    f"{_tail(log_path)}"
                )
            time.sleep(0.2)
        yield port
    finally:
        _stop(process)
