"""A program's measurement settings: the session by which a client who has not reliably
improved raises a "not on track" alert (issue 5: "no reliable improvement by a configurable
session"). Programs differ (a 12-session IPT contract is not a 24-week intensive outpatient
program), so the setting is per program; without a row the deployment default applies
(``IPTCARE_NOT_ON_TRACK_SESSION``, 8). Administrators set it on the program settings page.
"""

from __future__ import annotations

from django.conf import settings

from iptcare.access.policy import writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.core.errors import InvalidInput
from iptcare.core.models import Program
from iptcare.measures.models import NOT_ON_TRACK_SESSION_RANGE, MeasureSettings


def default_not_on_track_session() -> int:
    return int(getattr(settings, "IPTCARE_NOT_ON_TRACK_SESSION", 8))


def not_on_track_session(program_id: int | None) -> int:
    """The program's setting, or the deployment default (one query)."""
    if program_id is not None:
        value = (
            MeasureSettings.objects.filter(program_id=program_id)
            .values_list("not_on_track_session", flat=True)
            .first()
        )
        if value is not None:
            return int(value)
    return default_not_on_track_session()


def measure_settings_update(
    *, actor: User, program: Program, not_on_track_session: int
) -> MeasureSettings:
    """Set a program's not-on-track session (organisation management, audited)."""
    low, high = NOT_ON_TRACK_SESSION_RANGE
    with writing(
        actor,
        Action.UPDATE,
        program,
        DataCategory.ORGANISATION,
        Purpose.ADMINISTRATION,
        detail={"not_on_track_session": not_on_track_session},
    ):
        if not low <= not_on_track_session <= high:
            raise InvalidInput(
                "The not-on-track session is out of range.",
                field_errors={"not_on_track_session": [f"Between session {low} and {high}."]},
            )
        row = MeasureSettings.objects.select_for_update().filter(program=program).first()
        if row is None:
            row = MeasureSettings(program=program)
        row.not_on_track_session = not_on_track_session
        row.full_clean()
        row.save()
    return row
