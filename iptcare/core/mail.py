"""An email about committed work, sent once that work is committed, whose outcome the caller sees.

A service that creates something and emails about it (a questionnaire link, a password set-up
link, a portal invitation) calls ``send_after_commit`` and returns the ``Delivery`` together with
what it created. The email goes out from ``transaction.on_commit``: right after the outermost
commit, which in a request is still inside that request, so the page that shows the result can
say whether the email went. A mail server that refuses or cannot be reached is logged and noted
on the ``Delivery``; it never undoes the committed work and never turns the response into a 500,
and the page tells the user what to do instead. There is no retry queue: the person looking at
the page is the retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger(__name__)


class DeliveryStatus(StrEnum):
    NOT_REQUESTED = "not_requested"
    # Waiting for the commit of an enclosing transaction; if that rolls back, nothing is sent.
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass
class Delivery:
    """What became of one email. Not frozen: the commit hook fills in ``status``."""

    to: str = ""
    status: DeliveryStatus = DeliveryStatus.NOT_REQUESTED

    @property
    def sent(self) -> bool:
        return self.status == DeliveryStatus.SENT

    @property
    def failed(self) -> bool:
        return self.status == DeliveryStatus.FAILED

    @property
    def pending(self) -> bool:
        return self.status == DeliveryStatus.PENDING

    @property
    def message(self) -> str:
        """A sentence safe to show the staff member who asked for the email: never the mail
        server's own words, which may name hosts, accounts or other recipients."""
        if self.status == DeliveryStatus.SENT:
            return f"The email was sent to {self.to}."
        if self.status == DeliveryStatus.FAILED:
            return f"The email to {self.to} could not be sent."
        if self.status == DeliveryStatus.PENDING:
            return f"The email to {self.to} will be sent once the change is saved."
        return "No email was requested."


def send_after_commit(*, to: str, subject: str, body: str) -> Delivery:
    """Send ``subject``/``body`` to ``to`` once the current transaction commits (at once when
    there is none), and return the ``Delivery`` that will say what happened."""
    delivery = Delivery(to=to, status=DeliveryStatus.PENDING)

    def send() -> None:
        try:
            delivered = send_mail(subject, body, None, [to])
        # Any error here can only lose the email: the work it announces is already committed.
        # A backend raises what it likes (smtplib and socket errors, a provider's own), so all
        # of them are caught, and the caller's page says what to do instead.
        except Exception as exc:
            delivery.status = DeliveryStatus.FAILED
            _log_failure(type(exc).__name__, to)
        else:
            if delivered:
                delivery.status = DeliveryStatus.SENT
            else:
                delivery.status = DeliveryStatus.FAILED
                _log_failure("nothing sent", to)

    transaction.on_commit(send)
    return delivery


def _log_failure(reason: str, to: str) -> None:
    # The exception's text, the body (with its link) and the full address stay out of the log:
    # the address of a client of an SUD program is itself protected (42 CFR Part 2), and an
    # smtplib error can quote every recipient.
    domain = to.rpartition("@")[2].lower() or "?"
    logger.error("Email not sent (%s) to an address at %s", reason, domain)
