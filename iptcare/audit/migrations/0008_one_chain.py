"""The audit trail becomes one chain again (ADR 0015).

Between migrations 0007 and this one, PostgreSQL wrote the trail as several hash chains side by
side. They stay exactly as they are — closed segments that still verify from their own genesis —
and this migration appends one *seal* event to chain 0, the chain that goes on, recording every
chain's last seq and hash. From then on every event is appended to chain 0: one head, one total
order. ``iptcare audit verify`` checks each closed chain against the seal, so an event added to a
closed chain later, or cut off its end, is named.

On PostgreSQL the append function of 0007 (``iptcare_audit_next``) is dropped first, so a process
of the old release still running cannot append to any chain but through the new code's lock; then
every chain's lock is taken, so that an append already under way finishes before the heads are
read. On SQLite (one chain always) the seal records chain 0's head: the same event on both
databases, so that the trail shows where the change happened. An empty trail needs no seal.

Every protective trigger (the audit table is append-only; signed notes and plans are frozen)
stays: only the function is dropped.
"""

import uuid

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.utils import timezone

# The chain's hash is the trail's format, fixed for all time (changing it would break every
# chain already written): the seal is hashed by the one definition the application verifies with.
from iptcare.audit.chain import HASHED_FIELDS, LIVE_CHAIN, PG_LOCK_KEY, SEAL_RESOURCE, compute_hash
from iptcare.audit.models import genesis_hash

DROP_APPEND = "DROP FUNCTION IF EXISTS iptcare_audit_next(bigint, integer, text[], text[], text[])"

ACTIONS = [
    ("view", "View"),
    ("list", "List / search"),
    ("create", "Create"),
    ("update", "Update"),
    ("sign", "Sign"),
    ("export", "Export"),
    ("manage", "Manage"),
    ("login", "Log in"),
    ("logout", "Log out"),
    ("login_failed", "Failed login"),
    ("lockout", "Account locked out"),
    ("mfa_enrolled", "MFA enrolled"),
    ("mfa_failed", "MFA code refused"),
    ("mfa_reset", "MFA reset"),
    ("password_changed", "Password changed"),
    ("password_reset_requested", "Password reset requested"),
    ("privilege_change", "Privilege change"),
    ("token_created", "API token created"),
    ("token_revoked", "API token revoked"),
    ("session_expired", "Session expired"),
    ("seal", "Audit trail sealed"),
]


def seal(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    connection = schema_editor.connection
    AuditEvent = apps.get_model("audit", "AuditEvent")
    chains = sorted(AuditEvent.objects.values_list("chain", flat=True).distinct())
    if connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND)
        with connection.cursor() as cursor:
            for chain in sorted({LIVE_CHAIN, *chains}):
                # The key each chain was appended under (0007: lock_key + chain).
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PG_LOCK_KEY + chain])
        chains = sorted(AuditEvent.objects.values_list("chain", flat=True).distinct())
    if not chains:
        return
    heads = {}
    for chain in chains:
        seq, digest = (
            AuditEvent.objects.filter(chain=chain)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
        heads[str(chain)] = {"seq": seq, "hash": digest}
    live = heads.get(str(LIVE_CHAIN))
    fields = {
        "occurred_at": timezone.now(),
        "actor_id": None,
        "actor_email": "migration audit.0008_one_chain",
        "actor_role": "",
        "organisation_id": None,
        "client_id": None,
        "data_category": "audit_trail",
        "action": "seal",
        "resource_type": SEAL_RESOURCE,
        "resource_id": "",
        "purpose": "administration",
        "outcome": "success",
        "reason": (
            "the trail goes on as one chain (chain 0); every chain is closed where this event "
            "records it"
        ),
        "request_id": uuid.uuid4().hex,
        "ip": None,
        "user_agent": "",
        "detail": {"chains": heads},
        "seq": (live["seq"] if live else 0) + 1,
        "prev_hash": live["hash"] if live else genesis_hash(LIVE_CHAIN),
    }
    assert set(fields) == set(HASHED_FIELDS)
    AuditEvent.objects.create(chain=LIVE_CHAIN, hash=compute_hash(fields), **fields)


def require_function(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Going back: 0007's code appends through ``iptcare_audit_next``, which is recreated; the
    seal event stays (the trail is append-only), as the first event of a chain 0 that 0007's
    code goes on writing beside the others."""
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        schema_editor.execute(import_module("iptcare.audit.migrations.0007_several_chains").CREATE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_several_chains")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(choices=ACTIONS, max_length=40),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="chain",
            field=models.PositiveSmallIntegerField(
                db_default=0,
                default=0,
                help_text="0: the live chain; others: closed earlier chains.",
            ),
        ),
        migrations.RunPython(seal, require_function),
    ]
