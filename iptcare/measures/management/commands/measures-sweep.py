from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from iptcare.measures.schedule_services import overdue_sweep


class Command(BaseCommand):
    help = (
        "Raise a 'measure overdue' alert for each overdue scheduled measure of the open "
        "episodes (idempotent; run daily from cron or a systemd timer; see docs/measures.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            default=None,
            help="Compute as of this date (YYYY-MM-DD); default: today in TIME_ZONE.",
        )
        parser.add_argument("--batch", type=int, default=500, help="Episodes read at a time.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = overdue_sweep(today=options["today"], batch=options["batch"])
        self.stdout.write(
            f"{result.episodes} open episodes checked, {result.overdue} overdue measures, "
            f"{result.raised} new alerts."
        )
