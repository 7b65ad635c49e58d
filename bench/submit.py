"""The ``questionnaire_submit`` scenario: a client submits a PHQ-9 through a single-use link.

Every measured request is the public form POST (``/m/<secret>/``) of a *fresh* link — scored,
stored, alerts evaluated, audited, the link spent, all in one transaction. Links are issued
before the measurement by ``bench.links`` (a subprocess on the same database, through the
real ``link_issue`` service); each client thread first GETs one link page, as a browser does
(the page sets no cookie and carries no CSRF token: the link is its own credential,
``views.link_page``), and then only POSTs.

Two runs: at maximum load (closed loop, ``--concurrency`` threads) and at half of it — a
fixed rate of half the throughput just measured, latency counted from each request's
scheduled time (see ``bench.load``).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench.client import BenchError, HttpSession, parse_page
from bench.links import ANSWER_SETS
from bench.load import LoadResult, PoolExhausted, Sender, run_load
from bench.server import HOST, run_checked, venv_bin

SCENARIO = "questionnaire_submit"
HALF = "questionnaire_submit_half"
LABEL = "POST /m/<fresh link>/"
MAX_POOL = 100_000
# Floors (ADR 0015): what the one idiomatic write path must keep.
GOAL_RATIO_TO_F0 = 0.15
GOAL_HALF_P95_MS = 50.0
GOAL_QUERIES = 10


def _links(env: dict[str, str], *args: str) -> Any:
    python = str(venv_bin() / "python")
    out = run_checked([python, "-m", "bench.links", *args], env, timeout=1800)
    return json.loads(out.strip().splitlines()[-1])


def issue_links(env: dict[str, str], count: int) -> list[str]:
    paths = _links(env, "issue", "--count", str(min(max(count, 1), MAX_POOL)))
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BenchError("bench.links issue did not print a list of paths")
    return paths


def database_counts(env: dict[str, str]) -> dict[str, int]:
    counts = _links(env, "count")
    return {str(k): int(v) for k, v in counts.items()}


def measure_queries(env: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = _links(env, "queries")
    return result


class LinkPool:
    """Fresh link paths, each handed out once (thread-safe)."""

    def __init__(self, paths: list[str]) -> None:
        self._paths = deque(paths)
        self._lock = threading.Lock()
        self.first = paths[0] if paths else ""

    def take(self) -> str:
        with self._lock:
            if not self._paths:
                raise PoolExhausted
            return self._paths.popleft()

    def __len__(self) -> int:
        return len(self._paths)


@dataclass
class Submitter:
    """Sends one submit per call; each client thread opens one link page beforehand."""

    pool: LinkPool
    _answers: Callable[[], int] = field(default_factory=lambda: itertools.count().__next__)

    def prepare(self, session: HttpSession) -> None:
        """GET a link page (it does not spend the link), as a browser opens it first."""
        page = session.get(self.pool.first)
        if page.status != 200 or "item_1" not in parse_page(page.text()).inputs:
            raise BenchError(f"GET {self.pool.first} gave {page.status} without the form")

    def send(self, session: HttpSession) -> int:
        path = self.pool.take()
        answers = ANSWER_SETS[self._answers() % len(ANSWER_SETS)]
        form = {f"item_{n}": code for n, code in answers.items()}
        response = session.request(
            "POST",
            path,
            body=urlencode(form).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": session.origin + path,
            },
        )
        return response.status


def _run(
    name: str,
    port: int,
    env: dict[str, str],
    pool_size: int,
    concurrency: int,
    seconds: float,
    warmup: float,
    rate: float | None,
    progress: Callable[[str], None],
) -> tuple[LoadResult, dict[str, Any]]:
    progress(f"  {name}: issuing {pool_size} single-use links (not measured)")
    pool = LinkPool(issue_links(env, pool_size))
    submitter = Submitter(pool)
    sessions = [HttpSession(HOST, port) for _ in range(concurrency)]
    try:
        for session in sessions:
            submitter.prepare(session)
        before = database_counts(env)
        pace = f"at {rate:.1f} req/s" if rate is not None else "closed loop"
        progress(f"  {name}: {warmup:g} s warm-up + {seconds:g} s, {pace}, {LABEL}")
        send: Sender = submitter.send
        result = run_load(name, LABEL, sessions, seconds, warmup, send=send, rate=rate)
        after = database_counts(env)
    finally:
        for session in sessions:
            session.close()
    if result.pool_exhausted:
        progress(f"  WARNING: {name} used all {pool_size} links before the deadline")
    ok = result.ok_total
    check = {
        "links_issued": pool_size,
        "links_left": len(pool),
        "administrations_per_request": round(
            (after["administrations"] - before["administrations"]) / ok, 3
        )
        if ok
        else 0.0,
        "alerts_raised": after["alerts"] - before["alerts"],
        "audit_events_written": after["audit_events"] - before["audit_events"],
        "audit_events_per_request": round((after["audit_events"] - before["audit_events"]) / ok, 3)
        if ok
        else 0.0,
    }
    return result, check


def run_submit_scenario(
    port: int,
    env: dict[str, str],
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    f0_rps: float | None,
    progress: Callable[[str], None],
) -> tuple[dict[str, LoadResult], dict[str, Any]]:
    """The maximum-load run, then the half-load run at half its measured throughput."""
    window = warmup + seconds
    # Enough links for a submit as fast as 0.6 x F0 (F0 has no database at all).
    pool = math.ceil((f0_rps or 500.0) * 0.6 * window) + 100
    full, full_check = _run(SCENARIO, port, env, pool, concurrency, seconds, warmup, None, progress)
    rate = max(full.rps / 2.0, 1.0)
    half_pool = math.ceil(rate * window * 1.05) + 2 * concurrency + 20
    half, half_check = _run(
        HALF, port, env, half_pool, concurrency, seconds, warmup, rate, progress
    )
    return {SCENARIO: full, HALF: half}, {SCENARIO: full_check, HALF: half_check}
