from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from iptcare.demo.generator import demo_logins


class Command(BaseCommand):
    help = "Print the demo logins (as a table, or as JSON lines with --json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo_logins()
        if options["json"]:
            for login in logins:
                self.stdout.write(json.dumps(login))
            return
        if not logins:
            self.stdout.write("No demo organisation loaded. Run `iptcare demo` first.")
            return
        self.stdout.write(f"Demo logins (every password is {logins[0]['password']}):")
        width = max(len(str(login["email"])) for login in logins)
        for login in logins:
            roles = ", ".join(str(r) for r in login["roles"])  # type: ignore[attr-defined]
            self.stdout.write(f"  {str(login['email']).ljust(width)}  {roles}")
