"""API shapes for instruments and scoring (``/api/v1/instruments``), and for a client's
administrations, single-use links and alerts (inputs never carry ids or server-set fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Schema
from pydantic import Field, field_validator

from iptcare.clients.models import Client
from iptcare.core.mail import Delivery, DeliveryStatus
from iptcare.measures import engine
from iptcare.measures.models import Administration, Alert, AlertKind, AlertStatus, MeasureLink


class OptionOut(Schema):
    code: str
    display: str
    score: int


class ItemOut(Schema):
    number: str
    text: str
    scored: bool
    options: list[OptionOut]


class BandOut(Schema):
    code: str
    min: float
    max: float
    label: str
    client_label: str


class SourceOut(Schema):
    key: str
    citation: str
    year: int
    url: str | None


class InstrumentSummaryOut(Schema):
    code: str
    title: str
    version: str
    items: int
    total_loinc: str | None
    direction: str


class InstrumentOut(Schema):
    code: str
    title: str
    version: str
    description: str
    recall_period: str
    instructions: str
    licence: str
    direction: str
    loinc: dict[str, str | None]
    items: list[ItemOut]
    total: dict[str, Any] | None
    bands: list[BandOut]
    subscales: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    screens: list[dict[str, Any]]
    missing: dict[str, Any]
    reliable_change: dict[str, Any] | None
    sources: list[SourceOut]


class ScoreIn(Schema):
    # Values are checked by the engine, which names each bad item (422), rather than by pydantic.
    answers: dict[str, Any]
    context: dict[str, str] = {}


class BandBriefOut(Schema):
    code: str
    label: str
    client_label: str


class FlagOut(Schema):
    code: str
    severity: str
    message: str
    item: str | None


class ScreenOut(Schema):
    code: str
    label: str
    positive: bool | None
    cutoff: float | None
    by_context: dict[str, bool]


class ScoreOut(Schema):
    instrument: str
    total: float | None
    band: BandBriefOut | None
    subscales: dict[str, float | None]
    flags: list[FlagOut]
    screens: list[ScreenOut]
    complete: bool
    prorated: bool
    missing: list[str]
    item_scores: dict[str, int]


# --- administrations ----------------------------------------------------------------------------


class AdministrationIn(Schema):
    instrument: str = Field(min_length=1, max_length=40)
    # Checked by the engine, which names each bad item (422), as the score endpoint does.
    answers: dict[str, Any]
    mode: Literal["in_session", "kiosk"] = "in_session"


class AdministrationOut(Schema):
    id: UUID
    client: UUID
    instrument: str
    instrument_version: str
    mode: str
    administered_by: UUID | None
    completed_at: datetime
    answers: dict[str, Any]
    item_scores: dict[str, Any]
    total: float | None
    band: BandBriefOut | None
    subscales: dict[str, float | None]
    flags: list[dict[str, Any]]
    screens: list[dict[str, Any]]
    complete: bool
    missing: list[str]

    @staticmethod
    def of(a: Administration, client: Client, clinician: UUID | None) -> AdministrationOut:
        """``client`` and ``clinician`` (who administered it, if staff) are passed in so that
        a list never loads them row by row."""
        return AdministrationOut(
            id=a.public_id,
            client=client.public_id,
            instrument=a.instrument,
            instrument_version=a.instrument_version,
            mode=a.mode,
            administered_by=clinician,
            completed_at=a.completed_at,
            answers=a.answers,
            item_scores=a.item_scores,
            total=a.total,
            band=_band(a),
            subscales=a.subscales,
            flags=a.flags,
            screens=a.screens,
            complete=a.complete,
            missing=a.missing,
        )


def _band(a: Administration) -> BandBriefOut | None:
    if not a.band:
        return None
    try:
        bands = engine.get(a.instrument).bands
    except engine.UnknownInstrument:  # an instrument since withdrawn: keep what was stored
        bands = ()
    band = next((b for b in bands if b.code == a.band), None)
    return BandBriefOut(
        code=a.band, label=a.band_label, client_label=band.client_label if band else a.band_label
    )


# --- single-use links ---------------------------------------------------------------------------


class MeasureLinkIn(Schema):
    instrument: str = Field(min_length=1, max_length=40)
    # The service checks the range (1 hour to 14 days) together with the instrument.
    hours: int = 72
    email: str = Field("", max_length=254)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if value:
            try:
                validate_email(value)
            except DjangoValidationError as exc:
                raise ValueError("Enter a valid email address.") from exc
        return value


EMAIL_STATUS = (
    "What became of the email to sent_to, which is sent once the link is committed: sent; "
    "failed (the mail server refused it or could not be reached: the link works, send the url "
    "another way); not_requested (no email given); pending (not yet committed)."
)


class MeasureLinkOut(Schema):
    id: UUID
    client: UUID
    instrument: str
    expires_at: datetime
    sent_to: str
    email_status: DeliveryStatus = Field(description=EMAIL_STATUS)
    url: str = Field(description="Shown once: only a hash of the secret is stored.")

    @staticmethod
    def of(link: MeasureLink, client: Client, url: str, email: Delivery) -> MeasureLinkOut:
        return MeasureLinkOut(
            id=link.public_id,
            client=client.public_id,
            instrument=link.instrument,
            expires_at=link.expires_at,
            sent_to=link.sent_to,
            email_status=email.status,
            url=url,
        )


# --- alerts -------------------------------------------------------------------------------------


class AlertSummaryOut(Schema):
    id: UUID
    client: UUID
    client_name: str
    program: UUID
    clinician: UUID | None
    kind: AlertKind
    immediate: bool
    status: AlertStatus
    title: str
    raised_at: datetime
    version: int

    @staticmethod
    def of(a: Alert) -> AlertSummaryOut:
        """From an alert loaded with client, program and clinician (the inbox selector)."""
        return AlertSummaryOut(
            id=a.public_id,
            client=a.client.public_id,
            client_name=a.client.display_name,
            program=a.program.public_id,
            clinician=a.clinician.public_id if a.clinician else None,
            kind=AlertKind(a.kind),
            immediate=a.immediate,
            status=AlertStatus(a.status),
            title=a.title,
            raised_at=a.raised_at,
            version=a.version,
        )


class AlertOut(AlertSummaryOut):
    detail: str
    source_type: str
    source_id: str
    acknowledged_at: datetime | None
    acknowledged_by: UUID | None
    action_note: str
    resolved_at: datetime | None
    resolved_by: UUID | None
    resolution_note: str

    @staticmethod
    def of(a: Alert) -> AlertOut:
        return AlertOut(
            **AlertSummaryOut.of(a).model_dump(),
            detail=a.detail,
            source_type=a.source_type,
            source_id=a.source_id,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by.public_id if a.acknowledged_by else None,
            action_note=a.action_note,
            resolved_at=a.resolved_at,
            resolved_by=a.resolved_by.public_id if a.resolved_by else None,
            resolution_note=a.resolution_note,
        )


class AlertInboxOut(Schema):
    mine: list[AlertSummaryOut] = Field(description="Unresolved alerts of my clients.")
    supervision: list[AlertSummaryOut] = Field(
        description="Unresolved alerts of the programs I supervise (clinical supervisors)."
    )
    mine_truncated: bool = Field(
        description="True when more of my alerts are unresolved than the inbox lists (200)."
    )
    supervision_truncated: bool = Field(
        description="True when more supervised alerts are unresolved than the inbox lists (200)."
    )


class AlertActionIn(Schema):
    version: int = Field(description="The version you read; a stale one gets 409.")
    note: str = Field(max_length=4000, description="The action taken (required).")
