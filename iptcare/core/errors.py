"""Domain exceptions, mapped to HTTP in one place (config/api.py for the API, views for pages)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the action; the message is safe to show to the user."""

    status = 400
    title = "Request refused"
    # True once the access policy has recorded this refusal in the audit trail: whatever
    # catches it need not record it again.
    recorded = False

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    """A stale version: someone else changed the record since it was read."""

    status = 409
    title = "Conflict"


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"
