"""Domain errors of the clinical record (mapped to HTTP by config/api.py and the middleware)."""

from __future__ import annotations

from typing import Any

from iptcare.core.errors import DomainError


class DuplicateClientWarning(DomainError):
    """A client with the same legal name and date of birth exists; confirm to create anyway."""

    status = 409
    title = "Possible duplicate client"

    def __init__(
        self,
        message: str,
        *,
        matches: list[dict[str, Any]],
        hidden_matches: int = 0,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, field_errors=field_errors)
        self.matches = matches
        self.hidden_matches = hidden_matches


class InvalidTransition(DomainError):
    """The episode cannot move this way from its current state (or with these dates)."""

    status = 409
    title = "Invalid transition"
