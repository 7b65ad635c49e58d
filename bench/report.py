"""Results: machine facts, the JSON file under bench/results/, and the table on stdout."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.load import LoadResult
from bench.server import ROOT
from bench.submit import GOAL_HALF_P95_MS, GOAL_QUERIES, GOAL_RATIO_TO_F0, HALF, SCENARIO

RESULTS_DIR = ROOT / "bench" / "results"
AUDIT_P50_GOAL_PCT = 10.0


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def machine_info(database_vendor: str) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "database_vendor": database_vendor,
        "git_commit": git_commit(),
    }


def audit_overhead(runs: dict[str, dict[str, LoadResult]], scenario: str) -> dict[str, Any] | None:
    """(p50_on - p50_off) / p50_off for one scenario, against the <= 10 % goal."""
    on = runs.get("on", {}).get(scenario)
    off = runs.get("off", {}).get(scenario)
    if on is None or off is None or off.p50_ms <= 0:
        return None
    p50_pct = (on.p50_ms - off.p50_ms) / off.p50_ms * 100.0
    p95_pct = (on.p95_ms - off.p95_ms) / off.p95_ms * 100.0 if off.p95_ms > 0 else None
    rps_pct = (on.rps - off.rps) / off.rps * 100.0 if off.rps > 0 else None
    return {
        "scenario": scenario,
        "p50_on_ms": on.p50_ms,
        "p50_off_ms": off.p50_ms,
        "p50_overhead_pct": round(p50_pct, 1),
        "p95_overhead_pct": None if p95_pct is None else round(p95_pct, 1),
        "throughput_change_pct": None if rps_pct is None else round(rps_pct, 1),
        "goal": f"audit adds <= {AUDIT_P50_GOAL_PCT:g} % to p50",
        "goal_met": p50_pct <= AUDIT_P50_GOAL_PCT,
    }


def write_json(document: dict[str, Any], started: datetime) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}.json"
    suffix = 1
    while path.exists():  # two runs within one second
        path = RESULTS_DIR / f"{stamp}-{suffix}.json"
        suffix += 1
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render_table(
    runs: dict[str, dict[str, LoadResult]],
    overheads: list[dict[str, Any]],
    header: str,
    checks: dict[str, dict[str, Any]] | None = None,
    submit_queries: dict[str, Any] | None = None,
) -> str:
    columns = ["audit", "scenario", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "req/s"]
    columns += ["vs F0", "rate"]
    rows: list[list[str]] = []
    for audit, results in runs.items():
        for result in results.values():
            rows.append(
                [
                    audit,
                    result.scenario,
                    str(result.requests),
                    str(result.errors),
                    _fmt(result.p50_ms, ".2f"),
                    _fmt(result.p95_ms, ".2f"),
                    _fmt(result.p99_ms, ".2f"),
                    _fmt(result.rps, ".1f"),
                    _fmt(result.ratio_to_f0, ".2f"),
                    "max" if result.rate_target is None else f"{result.rate_target:.1f}/s",
                ]
            )
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        left = cells[:2]
        right = cells[2:]
        parts = [c.ljust(w) for c, w in zip(left, widths[:2], strict=True)]
        parts += [c.rjust(w) for c, w in zip(right, widths[2:], strict=True)]
        return "  ".join(parts)

    out = [header, "", line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out.append("")
    for audit, by_scenario in (checks or {}).items():
        for scenario, check in by_scenario.items():
            if not isinstance(check, dict) or "audit_events_per_request" not in check:
                continue
            per = check["audit_events_per_request"]
            expected = check["audit_events_per_request_expected"]
            if expected is None:
                flag = "reported"
            else:
                flag = "ok" if abs(per - expected) <= 0.01 else "UNEXPECTED"
            out.append(
                f"Audit events per {scenario} request, audit {audit}: {per:.3f} "
                f"(expected {'-' if expected is None else format(expected, 'g')}; {flag})"
            )
    # Issue 3's goals: chart open and caseload p95 <= 200 ms at 10 concurrent users (20k clients).
    for scenario in ("chart_open", "caseload"):
        measured = runs.get("on", {}).get(scenario)
        if measured is not None:
            verdict = "MET" if measured.p95_ms <= 200 else "NOT MET"
            out.append(
                f"Goal {scenario} p95 <= 200 ms (audit on): {measured.p95_ms:.1f} ms, {verdict}"
            )
    out += _submit_lines(runs, checks or {}, submit_queries)
    if not overheads:
        out.append("Audit overhead: not measured (needs the same scenario with audit on and off).")
    for o in overheads:
        verdict = "MET" if o["goal_met"] else "NOT MET"
        out.append(
            f"Audit overhead on {o['scenario']} p50: {o['p50_overhead_pct']:+.1f} % "
            f"({o['p50_off_ms']:.2f} -> {o['p50_on_ms']:.2f} ms); "
            f"goal {o['goal']}: {verdict}"
        )
        out.append(
            f"  (p95 {_fmt(o['p95_overhead_pct'], '+.1f')} %, "
            f"throughput {_fmt(o['throughput_change_pct'], '+.1f')} %)"
        )
    return "\n".join(out)


def submit_ratio_over_rounds(
    rounds: list[dict[str, dict[str, LoadResult]]],
) -> dict[str, dict[str, Any]]:
    """The submit's throughput ratio to F0 in every round, per audit setting, with its median
    and the throughput floor judged on the median: one round's F0 drifts by several per cent
    on a shared machine, which is as much as the margin the goal is judged on (bench/README.md)."""
    verdicts: dict[str, dict[str, Any]] = {}
    for audit in ("on", "off"):
        ratios = [
            ratio
            for rnd in rounds
            if (full := rnd.get(audit, {}).get(SCENARIO)) is not None
            and (ratio := full.ratio_to_f0) is not None
        ]
        if ratios:
            median = statistics.median(ratios)
            verdicts[audit] = {
                "per_round": ratios,
                "median": round(median, 3),
                "goal": f"throughput >= {GOAL_RATIO_TO_F0:g} x F0",
                "goal_met": median >= GOAL_RATIO_TO_F0,
            }
    return verdicts


def render_submit_rounds(verdicts: dict[str, dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for audit, verdict in verdicts.items():
        listed = ", ".join(f"{r:.3f}" for r in verdict["per_round"])
        met = "MET" if verdict["goal_met"] else "NOT MET"
        out.append(
            f"  {SCENARIO} (audit {audit}): median {verdict['median']:.3f} x F0 ({listed}); "
            f"goal {verdict['goal']}: {met}"
        )
    return out


def _submit_lines(
    runs: dict[str, dict[str, LoadResult]],
    checks: dict[str, dict[str, Any]],
    queries: dict[str, Any] | None,
) -> list[str]:
    """The questionnaire submit's floors: throughput (``GOAL_RATIO_TO_F0`` x F0), p95 at half
    the maximum load, SQL statements per submit (bench/submit.py)."""
    out: list[str] = []
    for audit, results in runs.items():
        full, half = results.get(SCENARIO), results.get(HALF)
        if full is not None and full.ratio_to_f0 is not None:
            verdict = "MET" if full.ratio_to_f0 >= GOAL_RATIO_TO_F0 else "NOT MET"
            out.append(
                f"Goal {SCENARIO} throughput >= {GOAL_RATIO_TO_F0:g} x F0 (audit {audit}): "
                f"{full.ratio_to_f0:.2f} x ({full.rps:.1f} req/s), {verdict}"
            )
        if half is not None:
            verdict = "MET" if half.p95_ms <= GOAL_HALF_P95_MS else "NOT MET"
            out.append(
                f"Goal {SCENARIO} p95 <= {GOAL_HALF_P95_MS:g} ms at half load (audit {audit}, "
                f"fixed rate {half.rate_target or 0:.1f} req/s): {half.p95_ms:.1f} ms, {verdict}"
            )
        for name in (SCENARIO, HALF):
            check = checks.get(audit, {}).get(name)
            if isinstance(check, dict) and "administrations_per_request" in check:
                out.append(
                    f"  {name}, audit {audit}: {check['administrations_per_request']:.3f} "
                    f"administrations per request, {check['alerts_raised']} alerts raised, "
                    f"{check['links_left']} of {check['links_issued']} links unused"
                )
    if queries:
        for case in ("no_safety_flag", "safety_flag"):
            measured = queries.get(case)
            if not isinstance(measured, dict):
                continue
            verdict = "MET" if measured["service"] <= GOAL_QUERIES else "NOT MET"
            out.append(
                f"SQL statements per submit ({case.replace('_', ' ')}, {queries['vendor']}, "
                f"BEGIN/COMMIT included): {measured['service']} in the service, "
                f"{measured['page_post']} for the whole form POST; goal <= {GOAL_QUERIES}: "
                f"{verdict}"
            )
    return out
