from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from iptcare.access.roles import roles_doc


class Command(BaseCommand):
    help = "Print docs/roles.md, rendered from the role table."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(roles_doc(), ending="")
