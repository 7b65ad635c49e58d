"""Every write to clients, episodes of care, intake assessments and diagnoses.

Shape (STYLE.md): keyword-only, ``actor`` required, one ``writing`` block per write: the access
decision first (a refusal is recorded and raised before any input is looked at), then one
transaction that validates, changes the record, keeps its history row (``RecordRevision``) and
ends with the write's one audit event. Bad input raises a ``DomainError`` with field errors,
changes nothing and leaves one failure event naming the fields (never their values).
"""

from iptcare.clients.services.clients import (
    CLIENT_FIELDS,
    client_create,
    client_update,
    next_record_number,
)
from iptcare.clients.services.episodes import (
    TRANSITIONS,
    SubstanceIn,
    episode_admit,
    episode_cancel,
    episode_discharge,
    episode_refer,
)
from iptcare.clients.services.intake import (
    asam_assessment_create,
    diagnosis_add,
    diagnosis_confirm,
    diagnosis_mark_entered_in_error,
    sud_assessment_create,
)

__all__ = [
    "CLIENT_FIELDS",
    "TRANSITIONS",
    "SubstanceIn",
    "asam_assessment_create",
    "client_create",
    "client_update",
    "diagnosis_add",
    "diagnosis_confirm",
    "diagnosis_mark_entered_in_error",
    "episode_admit",
    "episode_cancel",
    "episode_discharge",
    "episode_refer",
    "next_record_number",
    "sud_assessment_create",
]
