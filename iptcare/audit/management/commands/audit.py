from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from iptcare.audit.chain import verify


class Command(BaseCommand):
    help = (
        "Audit trail tools. `iptcare audit verify` checks the hash chain from its first event "
        "(and every closed chain of an older trail against its seal)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        v = sub.add_parser("verify", help="Verify the hash chain; exit 1 at the first bad event.")
        v.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        if not result.ok:
            raise CommandError(
                f"audit trail BROKEN at event {result.bad_chain}:{result.bad_seq} "
                f"(chain {result.bad_chain}, seq {result.bad_seq}, id {result.bad_id}): "
                f"{result.problem}. {result.checked} events before it are intact."
            )
        if not options["json"]:
            heads = "".join(
                f"  chain {h.chain}: {h.events} events, head seq={h.seq} hash={h.hash}\n"
                for h in result.heads
            )
            self.stdout.write(
                f"audit trail intact: {result.checked} events in {len(result.heads)} "
                f"chain{'s' if len(result.heads) != 1 else ''}\n{heads}"
                "Record chain 0's head somewhere outside this database: the chain proves its own "
                "integrity; only an outside copy of its head proves nothing was cut off its end. "
                "Other chains are closed: the seal event in chain 0 records where each ends."
            )
