"""Append-only, hash-chained audit events (HIPAA 164.312(b), ONC 170.315(d)(2)-(3), 42 CFR Part 2).

Events hold identifiers, not foreign keys: the trail must outlive and never constrain the rows it
talks about. Database triggers (migration 0002) refuse UPDATE and DELETE; the SHA-256 chain makes
any change made around them detectable (``iptcare audit verify``).
"""

from __future__ import annotations

from django.db import models

from iptcare.access.vocabulary import Action, DataCategory, Purpose


class Outcome(models.TextChoices):
    ALLOWED = "allowed", "Allowed"
    DENIED = "denied", "Denied"
    SUCCESS = "success", "Succeeded"
    FAILURE = "failure", "Failed"


GENESIS_HASH = "0" * 64


def genesis_hash(chain: int) -> str:
    """The ``prev_hash`` of the first event of ``chain``: the chain's number as 64 hex digits.

    Chain 0, the live chain, starts from ``GENESIS_HASH``. The closed chains of a trail written
    on PostgreSQL between migrations 0007 and 0008 each start from their own number, so every
    event is bound to its chain through the links (an event moved to another chain no longer
    links) and ``prev_hash`` stays UNIQUE across the whole trail."""
    if not 0 <= chain < 2**15:
        raise ValueError(f"chain {chain} out of range")
    return f"{chain:064x}"


class AuditEvent(models.Model):
    # Every event is appended to chain 0 (ADR 0015). Others are closed: PostgreSQL wrote
    # several chains side by side between migrations 0007 and 0008, and the seal event of 0008
    # records where each one ends.
    chain = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="0: the live chain; others: closed earlier chains."
    )
    seq = models.BigIntegerField(help_text="Position in its chain, from 1, no gaps.")
    # occurred_at, organisation_id and action are searched through audit_org_time below (the
    # report always filters by organisation): no index of their own (ADR 0002, 2026-12-05).
    occurred_at = models.DateTimeField()
    # actor_id and client_id are searched through the (…, occurred_at) indexes below, which
    # serve a search by the column alone as well: no index of their own (ADR 0002, 2026-11-28).
    actor_id = models.UUIDField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    actor_role = models.CharField(max_length=200, blank=True)
    organisation_id = models.UUIDField(null=True, blank=True)
    client_id = models.UUIDField(null=True, blank=True)
    data_category = models.CharField(max_length=40, choices=DataCategory.choices)
    action = models.CharField(max_length=40, choices=Action.choices)
    resource_type = models.CharField(max_length=60, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=40, choices=Purpose.choices, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="e.g. before/after of a change")
    # UNIQUE (audit_prev_hash below): two events can never claim the same predecessor, so no
    # chain can fork (each chain starts from its own genesis_hash).
    prev_hash = models.CharField(max_length=64)
    # Not unique on its own: the hash covers seq and prev_hash, which link it to one place in one
    # chain, so two events with one hash would already have been refused (ADR 0002, 2026-11-28).
    hash = models.CharField(max_length=64)

    class Meta:
        # The order events were written in (within a chain, seq is that order).
        ordering = ["occurred_at", "id"]
        constraints = [
            # One event per place in each chain; also the index its head is read from.
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq"),
            # A constraint rather than unique=True: on PostgreSQL that also built a second,
            # pattern-matching index that no query uses (ADR 0002, 2026-12-05).
            models.UniqueConstraint(fields=["prev_hash"], name="audit_prev_hash"),
        ]
        indexes = [
            # The audit report's query: an organisation's events in a time range, newest first,
            # or one user's or one client's.
            models.Index(fields=["organisation_id", "occurred_at"], name="audit_org_time"),
            models.Index(fields=["actor_id", "occurred_at"], name="audit_actor_time"),
            models.Index(fields=["client_id", "occurred_at"], name="audit_client_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.action} {self.outcome}"

    @property
    def position(self) -> str:
        """Where the event is in the trail: ``chain:seq``."""
        return f"{self.chain}:{self.seq}"
