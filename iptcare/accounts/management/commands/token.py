from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from iptcare.accounts import services
from iptcare.accounts.models import ApiToken, User
from iptcare.core.errors import DomainError


class Command(BaseCommand):
    help = "Personal API tokens: create (prints the token once), list, revoke."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create", help="Create a token and print it.")
        create.add_argument("--email", required=True)
        create.add_argument("--days", type=int, required=True)
        create.add_argument("--name", default="script")
        lst = sub.add_parser("list", help="List a user's tokens (never their secrets).")
        lst.add_argument("--email", required=True)
        revoke = sub.add_parser("revoke", help="Revoke a token by its id.")
        revoke.add_argument("--id", required=True)

    def _user(self, email: str) -> User:
        user = (
            User.objects.filter(email__iexact=email.strip()).select_related("organisation").first()
        )
        if user is None:
            raise CommandError(f"no user with email {email}")
        return user

    def handle(self, *args: Any, **options: Any) -> None:
        sub = options["subcommand"]
        if sub == "create":
            try:
                issued = services.token_create(
                    user=self._user(options["email"]), name=options["name"], days=options["days"]
                )
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(issued.plaintext)
        elif sub == "list":
            for t in ApiToken.objects.filter(user=self._user(options["email"])):
                state = "revoked" if t.revoked_at else ("active" if t.is_usable else "expired")
                self.stdout.write(
                    f"{t.public_id}  {t.prefix}  {t.name}  expires {t.expires_at:%Y-%m-%d}  {state}"
                )
        elif sub == "revoke":
            token = ApiToken.objects.filter(public_id=options["id"]).first()
            if token is None:
                raise CommandError("no such token")
            services.token_revoke(actor=None, token=token)
            self.stdout.write(f"revoked {token.prefix}")
