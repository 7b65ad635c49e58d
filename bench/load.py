"""Load generator: N threads, one keep-alive connection each, for a fixed time.

Closed loop by default (each thread sends its next request as soon as the last one answers);
with ``rate`` a paced loop instead: the threads share a fixed schedule of ``rate`` requests per
second, and each latency is measured from the request's *scheduled* time, so a server that
falls behind shows its queueing in the latency instead of silently lowering the rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.client import CONNECTION_ERRORS, HttpSession


class PoolExhausted(Exception):
    """A scenario whose requests are single-use (e.g. fresh links) ran out of them."""


# One request on a session, returning the HTTP status; may raise PoolExhausted.
Sender = Callable[[HttpSession], int]


@dataclass
class LoadResult:
    scenario: str
    path: str
    concurrency: int
    seconds: float  # the measured window, warm-up excluded
    requests: int
    errors: int  # non-2xx answers and connection failures
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    warmup_requests: int
    ok_total: int  # 2xx answers including the warm-up (to check audit events per request)
    statuses: dict[str, int] = field(default_factory=dict)
    ratio_to_f0: float | None = None
    rate_target: float | None = None  # requests/s of a paced run; None for a closed loop
    pool_exhausted: bool = False  # single-use requests ran out before the deadline

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile of an already sorted sequence (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = (len(sorted_values) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return sorted_values[low]
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass
class _WorkerLog:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    warmup: int = 0
    ok_total: int = 0
    last_finish: float = 0.0
    exhausted: bool = False


@dataclass(frozen=True)
class _Pace:
    """Thread ``index`` of ``threads`` sends its k-th request at start + (k * threads + index)
    / rate: together, ``rate`` requests per second."""

    rate: float
    index: int
    threads: int

    def due(self, start: float, k: int) -> float:
        return start + (k * self.threads + self.index) / self.rate


def _worker(
    session: HttpSession,
    send: Sender,
    start: threading.Barrier,
    measure_from: list[float],
    deadline: list[float],
    log: _WorkerLog,
    pace: _Pace | None = None,
) -> None:
    start.wait()
    measure_start, stop_at = measure_from[0], deadline[0]
    schedule_start = measure_from[1]
    k = 0
    while True:
        if pace is not None:
            due = pace.due(schedule_start, k)
            k += 1
            if due >= stop_at:
                break
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            began = due  # latency from the scheduled time: queueing included
        else:
            began = time.perf_counter()
            if began >= stop_at:
                break
        try:
            status = send(session)
        except PoolExhausted:
            log.exhausted = True
            break
        except CONNECTION_ERRORS:
            status = 0  # counted as an error; the session reconnects on its next request
            session.close()
        finished = time.perf_counter()
        ok = 200 <= status < 300
        if ok:
            log.ok_total += 1
        if began < measure_start:
            log.warmup += 1
            continue
        log.latencies.append(finished - began)
        log.statuses[status] += 1
        if not ok:
            log.errors += 1
        log.last_finish = finished


def run_load(
    scenario: str,
    path: str,
    sessions: Sequence[HttpSession],
    seconds: float,
    warmup: float,
    send: Sender | None = None,
    rate: float | None = None,
) -> LoadResult:
    """Hammer ``path`` from one thread per session for ``warmup + seconds``, then summarise.

    ``send`` replaces the plain GET of ``path`` (``path`` then only labels the result); ``rate``
    paces the threads (see the module docstring). Requests that *start* (or, paced, are due)
    during the warm-up are not measured; every thread stops starting new requests at the
    deadline, so the run ends after at most one request timeout past it. If ``send`` runs out
    of single-use requests, the measured window ends with the last answer.
    """
    concurrency = len(sessions)
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    sender: Sender = send if send is not None else (lambda session: session.status_only(path))
    barrier = threading.Barrier(concurrency + 1)
    measure_from = [0.0, 0.0]  # [start of the measured window, start of the schedule]
    deadline = [0.0]
    logs = [_WorkerLog() for _ in sessions]
    threads = [
        threading.Thread(
            target=_worker,
            args=(
                s,
                sender,
                barrier,
                measure_from,
                deadline,
                log,
                _Pace(rate, i, concurrency) if rate is not None else None,
            ),
            name=f"bench-{scenario}-{i}",
            daemon=True,
        )
        for i, (s, log) in enumerate(zip(sessions, logs, strict=True))
    ]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    measure_from[0] = now + warmup
    measure_from[1] = now
    deadline[0] = now + warmup + seconds
    barrier.wait()
    join_by = deadline[0] + max(s.timeout for s in sessions) + 5.0
    for thread in threads:
        thread.join(timeout=max(0.0, join_by - time.perf_counter()))
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"{scenario}: load threads did not stop in time")

    latencies = sorted(x for log in logs for x in log.latencies)
    statuses: Counter[int] = Counter()
    for log in logs:
        statuses.update(log.statuses)
    last = max((log.last_finish for log in logs), default=0.0)
    exhausted = any(log.exhausted for log in logs)
    if not latencies:
        window = seconds
    elif exhausted:
        window = max(last - measure_from[0], 1e-3)
    else:
        window = max(last - measure_from[0], seconds)
    ms = [x * 1000.0 for x in latencies]
    return LoadResult(
        scenario=scenario,
        path=path,
        concurrency=concurrency,
        seconds=round(window, 3),
        requests=len(latencies),
        errors=sum(log.errors for log in logs),
        rps=round(len(latencies) / window, 1) if window > 0 else 0.0,
        p50_ms=round(percentile(ms, 50), 2),
        p95_ms=round(percentile(ms, 95), 2),
        p99_ms=round(percentile(ms, 99), 2),
        mean_ms=round(sum(ms) / len(ms), 2) if ms else 0.0,
        max_ms=round(ms[-1], 2) if ms else 0.0,
        warmup_requests=sum(log.warmup for log in logs),
        ok_total=sum(log.ok_total for log in logs),
        statuses={str(code): count for code, count in sorted(statuses.items())},
        rate_target=rate,
        pool_exhausted=exhausted,
    )
