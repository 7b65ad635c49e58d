"""Every read of measurement-based care, already filtered by the access policy."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from iptcare.access.policy import authorize, decide
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.services import batched
from iptcare.clients.models import Client
from iptcare.core.errors import NotFound
from iptcare.measures import engine
from iptcare.measures.models import Administration, Alert, AlertStatus

CATEGORY = DataCategory.CLINICAL_RECORD


def administrations_for_client(*, actor: User, client: Client) -> list[Administration]:
    """All of a client's administrations, oldest first (one query, one audit event)."""
    authorize(actor, Action.VIEW, client, CATEGORY, Purpose.TREATMENT, detail={"view": "measures"})
    return list(
        Administration.objects.filter(client=client)
        .select_related("administered_by")
        .order_by("completed_at")
    )


@dataclass(frozen=True)
class Series:
    instrument: engine.Instrument
    administrations: list[Administration]

    @property
    def scored(self) -> list[Administration]:
        return [a for a in self.administrations if a.total is not None]

    @property
    def baseline(self) -> Administration | None:
        return self.scored[0] if self.scored else None

    @property
    def latest(self) -> Administration | None:
        return self.scored[-1] if self.scored else None

    @property
    def trend(self) -> str:
        """ "improved" / "deteriorated" / "no reliable change" since baseline, or "" if unknown."""
        base, last = self.baseline, self.latest
        rule = self.instrument.reliable_change
        if base is None or last is None or base is last or rule is None:
            return ""
        assert base.total is not None and last.total is not None
        outcome = engine.reliable_change(self.instrument, base.total, last.total).outcome
        return outcome.replace("_", " ")


def series_by_instrument(administrations: list[Administration]) -> list[Series]:
    known = engine.load_all()
    groups: dict[str, list[Administration]] = {}
    for a in administrations:
        groups.setdefault(a.instrument, []).append(a)
    return [Series(known[code], rows) for code, rows in sorted(groups.items()) if code in known]


def administration_get(*, actor: User, public_id: UUID) -> Administration:
    administration = (
        Administration.objects.select_related("client__organisation", "organisation", "client")
        .filter(public_id=public_id)
        .first()
    )
    if administration is None:
        raise NotFound("No such administration.")
    authorize(actor, Action.VIEW, administration, CATEGORY, Purpose.TREATMENT)
    return administration


# --- alerts -------------------------------------------------------------------------------------


def _alerts():  # type: ignore[no-untyped-def]
    return Alert.objects.select_related(
        "client", "client__organisation", "organisation", "program", "clinician"
    )


@dataclass(frozen=True)
class Inbox:
    mine: list[Alert]
    supervision: list[Alert]


def alert_inbox(*, actor: User) -> Inbox:
    """Unresolved alerts: those of my clients, and — for clinical supervisors — those of the
    programs I supervise. One audit event per program whose alerts are shown."""
    if actor.organisation_id is None:
        return Inbox([], [])
    with batched():
        candidates = list(
            _alerts()
            .filter(organisation_id=actor.organisation_id)
            .exclude(status=AlertStatus.RESOLVED)
            .order_by("-immediate", "-raised_at")[:500]
        )
        mine = [a for a in candidates if a.clinician_id == actor.pk]
        supervision = [
            a
            for a in candidates
            if a.clinician_id != actor.pk
            and decide(actor, Action.SIGN, a, CATEGORY, Purpose.OPERATIONS)
        ]
        mine = [a for a in mine if decide(actor, Action.VIEW, a, CATEGORY, Purpose.TREATMENT)]
        for program in {a.program for a in mine + supervision}:
            authorize(
                actor,
                Action.LIST,
                program,
                CATEGORY,
                Purpose.TREATMENT
                if any(a.program_id == program.pk for a in mine)
                else Purpose.OPERATIONS,
                detail={"view": "alert inbox"},
            )
    return Inbox(mine, supervision)


def alert_get(*, actor: User, public_id: UUID) -> Alert:
    alert = _alerts().filter(public_id=public_id).first()
    if alert is None:
        raise NotFound("No such alert.")
    purpose = Purpose.TREATMENT if alert.clinician_id == actor.pk else Purpose.OPERATIONS
    if purpose == Purpose.OPERATIONS and not decide(actor, Action.SIGN, alert, CATEGORY, purpose):
        purpose = Purpose.TREATMENT
    authorize(actor, Action.VIEW, alert, CATEGORY, purpose)
    return alert


def client_alerts(*, client: Client) -> list[Alert]:
    """A client's unresolved alerts, for pages that have already authorized the client's record."""
    return list(_alerts().filter(client=client).exclude(status=AlertStatus.RESOLVED))
