"""Django-side steps of the ``questionnaire_submit`` scenario, run by the harness as
subprocesses against the benchmark's own database (never through an HTTP back door):

    python -m bench.links issue --count N   # N fresh PHQ-9 links -> JSON list of their paths
    python -m bench.links queries           # SQL statements of one submit, measured in-process
    python -m bench.links count             # link administrations, alerts, audit events

Links are issued exactly as a clinician issues them (``services.link_issue`` by each client's
primary clinician, so each issue is authorised and audited), round-robin over up to
``CLIENTS`` admitted clients of clinicians *other than* the demo therapist, in batches of one
transaction each. This happens before any measurement. Their submits must not land on the
demo therapist's own clients: thousands of PHQ-9s on a caseload of 30 would change what a later
``caseload`` or ``chart_open`` run measures (the audit-off round runs after the audit-on round's
submits, on the same database).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

DEMO_USER = "therapist@example.org"
CLIENTS = 1000

# PHQ-9 answer sets the load cycles through (item number -> option code): totals from 3 to 21,
# one in ten with item 9 > 0 (which raises an immediate safety alert). Shared with the client.
ANSWER_SETS: tuple[dict[str, str], ...] = tuple(
    {str(n): str(min(3, max(0, (total - 3 * (n - 1))))) for n in range(1, 9)} | {"9": item9}
    for total, item9 in (
        (3, "0"),
        (6, "0"),
        (9, "0"),
        (12, "0"),
        (15, "0"),
        (5, "0"),
        (8, "0"),
        (11, "0"),
        (14, "1"),
        (21, "0"),
    )
)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def issue(count: int) -> list[str]:
    from iptcare.accounts.models import User
    from iptcare.clients.models import Episode
    from iptcare.measures import services

    therapist = User.objects.get(email=DEMO_USER)
    episodes = list(
        Episode.objects.filter(status="admitted", primary_clinician__isnull=False)
        .exclude(primary_clinician=therapist)
        .select_related(
            "client__organisation", "client__program", "primary_clinician__organisation"
        )
        .order_by("id")[:CLIENTS]
    )
    if not episodes:
        raise SystemExit(f"no admitted clients of clinicians other than {DEMO_USER} in the demo")
    paths: list[str] = []
    # Each link is issued in its own transaction, as a clinician issues it (a service's write
    # is its own transaction: ADR 0015).
    for i in range(count):
        episode = episodes[i % len(episodes)]
        assert episode.primary_clinician is not None  # filtered above
        issued = services.link_issue(
            actor=episode.primary_clinician,
            client=episode.client,
            instrument_code="phq-9",
            base_url="http://127.0.0.1/",
            hours=24,
        )
        paths.append(issued.path)
    return paths


def _verbs(captured: Sequence[dict[str, Any]]) -> list[str]:
    return [str(q["sql"]).split()[0].upper() for q in captured]


def queries() -> dict[str, Any]:
    """Statements of one submit, every one counted (BEGIN/COMMIT included): through the service
    alone, and as the whole public form POST (the view first checks the link itself)."""
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from iptcare.measures import services

    setup_test_environment()  # the test client's host name; outgoing email kept in memory
    out: dict[str, Any] = {"vendor": connection.vendor}
    for label, answers in (("no_safety_flag", ANSWER_SETS[2]), ("safety_flag", ANSWER_SETS[8])):
        service_path, page_path = issue(2)
        secret = service_path.strip("/").split("/")[-1]
        with CaptureQueriesContext(connection) as ctx:
            services.link_submit(secret=secret, answers=answers)
        form = {f"item_{n}": code for n, code in answers.items()}
        with CaptureQueriesContext(connection) as page:
            response = HttpClient().post(page_path, form)
        if response.status_code != 200:
            raise SystemExit(f"POST {page_path} answered {response.status_code}")
        out[label] = {
            "service": len(ctx),
            "service_statements": _verbs(ctx.captured_queries),
            "page_post": len(page),
            "page_statements": _verbs(page.captured_queries),
        }
    return out


def count() -> dict[str, int]:
    from iptcare.audit.models import AuditEvent
    from iptcare.measures.models import Administration, Alert

    return {
        "administrations": Administration.objects.filter(mode="link").count(),
        "alerts": Alert.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.links")
    sub = parser.add_subparsers(dest="command", required=True)
    issue_cmd = sub.add_parser("issue")
    issue_cmd.add_argument("--count", type=int, required=True)
    sub.add_parser("queries")
    sub.add_parser("count")
    args = parser.parse_args(argv)
    _django()
    result: Any
    if args.command == "issue":
        if not 1 <= args.count <= 200_000:
            parser.error("--count must be in [1, 200000]")
        result = issue(args.count)
    elif args.command == "queries":
        result = queries()
    else:
        result = count()
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
