"""Every write to clients, episodes of care, intake assessments and diagnoses.

Shape (STYLE.md): keyword-only, ``actor`` required. The access decision is taken (and audited)
before the write transaction, so that a refusal's audit event survives; the change itself, its
history row (``RecordRevision``) and its SUCCESS audit event commit together in one
``transaction.atomic``. Bad input raises a ``DomainError`` with field errors and changes nothing.
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
