from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from iptcare.audit.chain import verify


class Command(BaseCommand):
    help = "Audit trail tools. `iptcare audit verify` checks the hash chain from the first event."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        v = sub.add_parser("verify", help="Verify the hash chain; exit 1 at the first bad event.")
        v.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify()
        if options["json"]:
            self.stdout.write(json.dumps(result.__dict__))
        if not result.ok:
            raise CommandError(
                f"audit trail BROKEN at event seq={result.bad_seq} (id {result.bad_id}): "
                f"{result.problem}. {result.checked} events before it are intact."
            )
        if not options["json"]:
            self.stdout.write(
                f"audit trail intact: {result.checked} events; head seq={result.head_seq} "
                f"hash={result.head_hash}\n"
                "Record the head hash somewhere outside this database: a chain proves its own "
                "integrity; only an outside copy of the head proves nothing was cut off the end."
            )
