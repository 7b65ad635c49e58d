"""``python -m bench`` (``make bench``): throughput and latency of iptcare under gunicorn.

Builds a throwaway demo database, starts gunicorn as ``make demo`` does (audit on, then audit
off), drives it over loopback HTTP with keep-alive threads and reports p50/p95/p99 and req/s
against the F0 floor (a bare Django JSON view). See bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.client import BenchError, HttpSession, find_client_path, login
from bench.load import LoadResult, run_load
from bench.report import (
    audit_overhead,
    machine_info,
    render_submit_rounds,
    render_table,
    submit_ratio_over_rounds,
    write_json,
)
from bench.server import (
    HOST,
    PostgresTarget,
    audit_event_count,
    base_env,
    gunicorn,
    prepare_database,
    prepare_postgres,
    server_layout,
)
from bench.submit import SCENARIO as SUBMIT
from bench.submit import measure_queries, run_submit_scenario

DEMO_USER = "therapist@example.org"
DEMO_PASSWORD = "lighthouse-demo-2026"  # noqa: S105 -- the published demo login
F0_PATH = "/_bench/f0"
SCENARIOS = ("f0", "audited_page", "chart_open", "caseload", "questionnaire_submit")
# Audit events each scenario's request must write with audit on (None: reported, not checked).
# audited_page is the client edit form: one access decision, one event. The chart composes four
# audited reads (identity, clinical record, appointments, notes).
EXPECTED_EVENTS: dict[str, float | None] = {
    "audited_page": 1.0,
    "chart_open": 4.0,
    "caseload": None,
    # The client's submit through a link: one event (the administration it created).
    "questionnaire_submit": 1.0,
}


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="iptcare load benchmark (loopback only)."
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured warm-up seconds")
    parser.add_argument("--concurrency", type=int, default=10, help="client threads")
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgres://user@127.0.0.1:5432/NAME (NAME must contain 'bench'; it is created "
        "and dropped). Default: a fresh SQLite file in a temp dir.",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma list from {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the audit on/off pair, alternating their order; reports the median overhead",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=20000,
        help="demo clients to generate (iptcare demo); the chart and caseload goals are at 20000",
    )
    parser.add_argument(
        "--seed",
        default=None,
        help="reuse a saved demo database (created on first use): SQLite, a file path; "
        "PostgreSQL, the name of a database (containing 'bench') kept as a template",
    )
    args = parser.parse_args(argv)
    if args.seed is not None and args.database_url:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.seed) or "bench" not in args.seed:
            parser.error("--seed with PostgreSQL: a plain database name containing 'bench'")
    elif args.seed is not None:
        args.seed = Path(args.seed)
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    args.scenario_list = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(args.scenario_list) - set(SCENARIOS))
    if unknown or not args.scenario_list:
        parser.error(f"--scenarios: unknown {unknown or 'empty list'}; choose from {SCENARIOS}")
    # F0 first, so every scenario can be compared with the floor of the same server run.
    args.scenario_list = [s for s in SCENARIOS if s in args.scenario_list]
    if not 0 < args.seconds <= 3600:
        parser.error("--seconds must be in (0, 3600]")
    if not 0 <= args.warmup <= 60:
        parser.error("--warmup must be in [0, 60]")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be in [1, 256]")
    if args.clients < 1:
        parser.error("--clients must be at least 1 (the client-summary scenario needs one)")
    return args


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def logged_in_session(port: int) -> HttpSession:
    session = HttpSession(HOST, port)
    login(session, DEMO_USER, DEMO_PASSWORD)
    return session


def measure_server(
    port: int, args: argparse.Namespace, env: dict[str, str], audit: bool
) -> tuple[dict[str, LoadResult], dict[str, Any]]:
    """All selected scenarios against one running server."""
    results: dict[str, LoadResult] = {}
    checks: dict[str, Any] = {}
    client_path = ""
    if set(args.scenario_list) & {"audited_page", "chart_open"}:
        probe = logged_in_session(port)
        try:
            client_path = find_client_path(probe)
            page = probe.get(client_path)
            if page.status != 200:
                raise BenchError(f"GET {client_path} returned {page.status}, expected 200")
        finally:
            probe.close()
        checks["client_path"] = client_path

    for scenario in args.scenario_list:
        if scenario == SUBMIT:
            floor_run = results.get("f0")
            submit_results, submit_checks = run_submit_scenario(
                port,
                env,
                concurrency=args.concurrency,
                seconds=args.seconds,
                warmup=args.warmup,
                f0_rps=floor_run.rps if floor_run is not None else None,
                progress=progress,
            )
            results.update(submit_results)
            expected_events = EXPECTED_EVENTS[SUBMIT] if audit else 0.0
            for name, check in submit_checks.items():
                check["audit_events_per_request_expected"] = expected_events
                checks[name] = check
                per_request = check["audit_events_per_request"]
                if abs(per_request - (expected_events or 0.0)) > 0.01:
                    progress(f"  WARNING: {per_request:.3f} audit events per {name} request")
                if abs(check["administrations_per_request"] - 1.0) > 0.01:
                    progress(
                        f"  WARNING: {check['administrations_per_request']:.3f} "
                        f"administrations per {name} request, expected 1"
                    )
            continue
        if scenario == "f0":
            sessions = [HttpSession(HOST, port) for _ in range(args.concurrency)]
            path = F0_PATH
        else:
            progress(f"  logging in {args.concurrency} sessions as {DEMO_USER}")
            sessions = [logged_in_session(port) for _ in range(args.concurrency)]
            path = {
                "audited_page": f"{client_path}edit/",
                "chart_open": client_path,
                "caseload": "/caseload/",
            }[scenario]
        try:
            before = audit_event_count(env) if scenario != "f0" else None
            progress(f"  {scenario}: {args.warmup:g} s warm-up + {args.seconds:g} s, GET {path}")
            result = run_load(scenario, path, sessions, args.seconds, args.warmup)
            if before is not None:
                written = audit_event_count(env) - before
                per_request = written / result.ok_total if result.ok_total else 0.0
                expected = EXPECTED_EVENTS[scenario] if audit else 0.0
                checks[scenario] = {
                    "audit_events_written": written,
                    "audit_events_per_request": round(per_request, 3),
                    "audit_events_per_request_expected": expected,
                }
                if expected is not None and abs(per_request - expected) > 0.01:
                    progress(
                        f"  WARNING: {per_request:.3f} audit events per {scenario} request, "
                        f"expected {expected:g}"
                    )
        finally:
            for session in sessions:
                session.close()
        results[scenario] = result

    floor = results.get("f0")
    for result in results.values():
        if floor is not None and floor.rps > 0:
            result.ratio_to_f0 = round(result.rps / floor.rps, 3)
    return results, checks


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    postgres = PostgresTarget.parse(args.database_url) if args.database_url else None
    vendor = "postgresql" if postgres else "sqlite"
    runs: dict[str, dict[str, LoadResult]] = {}
    rounds: list[dict[str, dict[str, LoadResult]]] = []
    checks: dict[str, dict[str, Any]] = {}
    submit_queries: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="iptcare-bench-") as tmp:
        var_dir = Path(tmp)
        env = base_env(var_dir, args.database_url)
        try:
            if postgres is not None:
                progress(f"recreating PostgreSQL database {postgres.name!r}")
                demo_output = prepare_postgres(postgres, env, args.clients, args.seed)
            else:
                progress(f"migrating and loading the demo ({args.clients} clients) into {vendor}")
                demo_output = prepare_database(env, args.clients, args.seed)
            progress(demo_output.splitlines()[-1] if demo_output else "demo loaded")
            if SUBMIT in args.scenario_list:
                progress("counting the SQL statements of one questionnaire submit (in-process)")
                submit_queries = measure_queries(dict(env, IPTCARE_AUDIT_ENABLED="1"))
            for n in range(args.rounds):
                # Alternate the order so that drift on a shared machine falls on both sides.
                this_round: dict[str, dict[str, LoadResult]] = {}
                for audit in (True, False) if n % 2 == 0 else (False, True):
                    label = "on" if audit else "off"
                    progress(
                        f"round {n + 1}/{args.rounds}: gunicorn with "
                        f"IPTCARE_AUDIT_ENABLED={int(audit)}"
                    )
                    with gunicorn(env, audit, var_dir / f"gunicorn-audit-{label}.log") as port:
                        this_round[label], checks[label] = measure_server(port, args, env, audit)
                rounds.append(this_round)
            runs = rounds[0]
        finally:
            if postgres is not None:
                progress(f"dropping PostgreSQL database {postgres.name!r}")
                try:
                    postgres.drop()
                except RuntimeError as exc:
                    progress(f"WARNING: {exc}")

    overheads = [
        o
        for o in (audit_overhead(runs, s) for s in args.scenario_list if s != "f0")
        if o is not None
    ]
    per_round = {
        s: [o["p50_overhead_pct"] for r in rounds if (o := audit_overhead(r, s)) is not None]
        for s in args.scenario_list
        if s != "f0"
    }
    submit_rounds = submit_ratio_over_rounds(rounds)
    machine = machine_info(vendor)
    layout = server_layout()
    document: dict[str, Any] = {
        "started_utc": started.isoformat(timespec="seconds"),
        "machine": machine,
        "config": {
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "concurrency": args.concurrency,
            "scenarios": args.scenario_list,
            "demo_clients": args.clients,
            "database_url": redact(args.database_url) if args.database_url else "sqlite (temp)",
            "server": "gunicorn config.wsgi --config config/gunicorn.conf.py",
            "server_layout": layout,
            "rounds": args.rounds,
            "floor": f"F0 = GET {F0_PATH}",
        },
        "runs": {
            label: {name: result.as_dict() for name, result in results.items()}
            for label, results in runs.items()
        },
        "checks": checks,
        "audit_overhead": overheads,
        "audit_overhead_p50_pct_per_round": per_round,
        "submit_ratio_to_f0_over_rounds": submit_rounds,
        "rounds": [
            {
                label: {name: r.as_dict() for name, r in results.items()}
                for label, results in rnd.items()
            }
            for rnd in rounds[1:]
        ],
        "queries_per_submit": submit_queries,
    }
    path = write_json(document, started)
    header = (
        f"iptcare benchmark {started:%Y-%m-%d %H:%M}Z  |  {vendor}  |  "
        f"{args.seconds:g} s per scenario, concurrency {args.concurrency}, "
        f"{args.clients} demo clients  |  {machine['cpu_count']} CPUs, Python {machine['python']}"
        f"  |  gunicorn {layout['workers']} x {layout['threads']} ({layout['worker_class']})"
        f"  |  commit {(machine['git_commit'] or 'unknown')[:12]}"
    )
    print(render_table(runs, overheads, header, checks, submit_queries))
    if args.rounds > 1:
        print(f"\nAudit overhead on p50 over {args.rounds} rounds (the table shows round 1):")
        for scenario, values in per_round.items():
            if values:
                listed = ", ".join(f"{v:+.1f} %" for v in values)
                print(f"  {scenario}: median {statistics.median(values):+.1f} % ({listed})")
        if submit_rounds:
            print(f"\nQuestionnaire submit over {args.rounds} rounds (each to its own round's F0):")
            print("\n".join(render_submit_rounds(submit_rounds)))
    try:
        shown = path.relative_to(Path.cwd())
    except ValueError:
        shown = path
    print(f"\nResults written to {shown}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (BenchError, RuntimeError, ValueError, OSError, subprocess.SubprocessError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
