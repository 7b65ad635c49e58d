from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from iptcare.demo import generator


class Command(BaseCommand):
    help = "Load the fictional demo organisation if it is not there yet (existing data is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=generator.DEFAULT_SEED)
        parser.add_argument(
            "--clients",
            type=int,
            default=generator.DEFAULT_CLIENTS,
            help="Number of fictional clients (the benchmark uses thousands).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["clients"] < 0:
            self.stderr.write("--clients must be 0 or more")
            raise SystemExit(2)
        existing = generator.demo_organisation()
        if existing is not None:
            self.stdout.write(
                f"Demo organisation already loaded ({existing.name}); keeping its data."
            )
            return
        org = generator.generate(seed=options["seed"], clients=options["clients"])
        self.stdout.write(
            f"Loaded {org.name}: {org.programs.count()} programs, {org.staff.count()} staff, "
            f"{org.clients.count()} clients."
        )
