"""Every write to staff accounts, roles and tokens. Privilege changes are audited before/after."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice

from iptcare.access.policy import writing
from iptcare.access.roles import ROLE_TABLE
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role
from iptcare.accounts.models import ApiToken, RoleGrant, User, hash_token_secret
from iptcare.audit.models import Outcome
from iptcare.audit.services import record
from iptcare.core.errors import Conflict, InvalidInput
from iptcare.core.mail import Delivery, send_after_commit
from iptcare.core.models import Organisation, Program


def _privileges(user: User) -> dict[str, Any]:
    return {
        "roles": sorted(user.role_grants.values_list("role", flat=True)),
        "programs": sorted(str(p) for p in user.programs.values_list("public_id", flat=True)),
        "is_active": user.is_active,
        "is_trainee": user.is_trainee,
    }


def _check_programs(organisation: Organisation, programs: Iterable[Program]) -> list[Program]:
    programs = list(programs)
    if any(p.organisation_id != organisation.pk for p in programs):
        raise InvalidInput(
            "Programs must belong to the user's organisation.",
            field_errors={"programs": ["A program of another organisation was given."]},
        )
    return programs


def _set_roles(user: User, roles: Iterable[Role]) -> None:
    wanted = {Role(r) for r in roles}
    RoleGrant.objects.filter(user=user).exclude(role__in=wanted).delete()
    existing = set(RoleGrant.objects.filter(user=user).values_list("role", flat=True))
    RoleGrant.objects.bulk_create(
        [RoleGrant(user=user, role=r) for r in sorted(wanted) if r not in existing]
    )
    user.forget_cached_privileges()


@dataclass(frozen=True)
class NewStaff:
    user: User
    # The password set-up email: a failed one is resent with ``staff_resend_setup``.
    email: Delivery


def staff_create(
    *,
    actor: User,
    organisation: Organisation,
    email: str,
    full_name: str,
    roles: Iterable[Role],
    programs: Iterable[Program],
    is_trainee: bool = False,
    request: HttpRequest | None = None,
) -> NewStaff:
    """Create a staff account with no password; the new user sets one from the link emailed
    once the account is committed (``NewStaff.email`` says whether that worked)."""
    with writing(
        actor, Action.CREATE, organisation, DataCategory.STAFF_ACCOUNTS, Purpose.ADMINISTRATION
    ) as grant:
        email = email.strip().lower()
        programs = _check_programs(organisation, programs)
        if User.objects.filter(email__iexact=email).exists():
            raise InvalidInput(
                "A user with this email already exists.",
                field_errors={"email": ["A user with this email already exists."]},
            )
        try:
            user = User.objects.create_user(
                email, None, full_name=full_name, organisation=organisation, is_trainee=is_trainee
            )
        except IntegrityError as exc:  # a concurrent create with the same email
            raise InvalidInput(
                "A user with this email already exists.",
                field_errors={"email": ["A user with this email already exists."]},
            ) from exc
        user.programs.set(programs)
        _set_roles(user, roles)
        grant.record_as(user, action=Action.PRIVILEGE_CHANGE)
        grant.detail.update({"subject": user.email, "before": None, "after": _privileges(user)})
        delivery = send_password_setup(user=user, request=request)
    return NewStaff(user=user, email=delivery)


def staff_update(
    *,
    actor: User,
    user: User,
    version: int,
    full_name: str,
    roles: Iterable[Role],
    programs: Iterable[Program],
    is_active: bool,
    is_trainee: bool = False,
) -> User:
    """Change a user's name, roles, programs, flags. A stale ``version`` is a conflict."""
    organisation = user.organisation
    if organisation is None:
        raise InvalidInput("Platform superusers are managed in the Django admin.")
    with writing(
        actor, Action.UPDATE, organisation, DataCategory.STAFF_ACCOUNTS, Purpose.ADMINISTRATION
    ) as grant:
        programs = _check_programs(organisation, programs)
        roles = [Role(r) for r in roles]
        keeps_admin = any(
            ROLE_TABLE[r].permits(DataCategory.STAFF_ACCOUNTS, Action.MANAGE) for r in roles
        )
        if actor.pk == user.pk and (not keeps_admin or not is_active):
            raise InvalidInput(
                "You cannot remove your own administrator role or deactivate yourself.",
                field_errors={
                    "roles": ["Ask another administrator to change your own privileges."]
                },
            )
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.version != version:
            raise Conflict(
                "Someone else changed this user since you opened it. Reload to see their change."
            )
        before = _privileges(locked)
        locked.full_name = full_name
        locked.is_active = is_active
        locked.is_trainee = is_trainee
        locked.version = locked.version + 1
        locked.save(update_fields=["full_name", "is_active", "is_trainee", "version"])
        locked.programs.set(programs)
        _set_roles(locked, roles)
        after = _privileges(locked)
        grant.record_as(locked, action=Action.PRIVILEGE_CHANGE if before != after else None)
        grant.detail.update({"subject": locked.email, "before": before, "after": after})
        if not is_active:
            end_sessions(locked)
    return locked


def staff_reset_mfa(*, actor: User, user: User) -> None:
    """Remove a user's authenticator (a lost phone); they enrol again at next login."""
    assert user.organisation is not None
    with writing(
        actor, Action.MANAGE, user.organisation, DataCategory.STAFF_ACCOUNTS, Purpose.ADMINISTRATION
    ) as grant:
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        grant.record_as(user, action=Action.MFA_RESET)
        grant.detail.update({"subject": user.email, "devices_removed": removed})
        end_sessions(user)


def end_sessions(user: User) -> int:
    """Delete every server session of ``user`` (deactivation, MFA reset)."""
    from django.contrib.sessions.models import Session

    ended = 0
    key = str(user.pk)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == key:
            session.delete()
            ended += 1
    return ended


def staff_resend_setup(*, actor: User, user: User, request: HttpRequest | None) -> Delivery:
    """Email a new set-up link to a user who has not chosen a password yet: the first email
    failed, or never arrived. The token is derived from the account's state, so nothing is
    stored and an earlier link stays valid until it expires or a password is set."""
    organisation = user.organisation
    if organisation is None:
        raise InvalidInput("Platform superusers are managed in the Django admin.")
    with writing(
        actor, Action.MANAGE, organisation, DataCategory.STAFF_ACCOUNTS, Purpose.ADMINISTRATION
    ) as grant:
        if not user.is_active:
            raise InvalidInput("This user is deactivated; reactivate them first.")
        if user.has_usable_password():
            raise InvalidInput(
                "This user has already chosen a password; they can reset it from the sign-in page."
            )
        grant.record_as(user)
        grant.detail.update({"subject": user.email, "setup_email": "again"})
        delivery = send_password_setup(user=user, request=request)
    return delivery


def send_password_setup(*, user: User, request: HttpRequest | None) -> Delivery:
    """Email a one-time link to choose a password (Django's reset token; the account has none yet)
    once the current transaction commits.

    Django's PasswordResetForm skips accounts without a usable password, so the link is built here
    with the same token generator and confirm view.
    """
    context = {
        "protocol": "https" if settings.PRODUCTION else "http",
        "domain": request.get_host() if request is not None else "localhost",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    }
    subject = "".join(
        render_to_string("accounts/email/password_setup_subject.txt", context).splitlines()
    )
    body = render_to_string("accounts/email/password_setup.txt", context)
    return send_after_commit(to=user.email, subject=subject, body=body)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


TOKEN_PREFIX = "ipt_"  # noqa: S105 - a public prefix, not a secret


def token_create(*, user: User, name: str, days: int, issued_by: User | None = None) -> IssuedToken:
    """Issue a personal API token. The plaintext is returned once and never stored."""
    if not 1 <= days <= settings.IPTCARE_API_TOKEN_MAX_DAYS:
        raise InvalidInput(
            f"A token lasts between 1 and {settings.IPTCARE_API_TOKEN_MAX_DAYS} days.",
            field_errors={"days": [f"Between 1 and {settings.IPTCARE_API_TOKEN_MAX_DAYS}."]},
        )
    if not user.is_active:
        raise InvalidInput(
            "The user is deactivated.", field_errors={"email": ["Deactivated user."]}
        )
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=prefix,
            secret_hash=hash_token_secret(secret),
            expires_at=timezone.now() + timedelta(days=days),
        )
        record(
            actor=issued_by or user,
            action=Action.TOKEN_CREATED,
            data_category=DataCategory.AUTHENTICATION,
            outcome=Outcome.SUCCESS,
            resource_type="api_token",
            resource_id=str(token.public_id),
            purpose=Purpose.ADMINISTRATION,
            reason=f"token for {user.email}, {days} days",
            detail={
                "subject": user.email,
                "prefix": prefix,
                "expires_at": token.expires_at.isoformat(),
            },
        )
    return IssuedToken(token=token, plaintext=f"{TOKEN_PREFIX}{prefix}_{secret}")


def token_revoke(*, actor: User | None, token: ApiToken) -> ApiToken:
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            record(
                actor=actor or locked.user,
                action=Action.TOKEN_REVOKED,
                data_category=DataCategory.AUTHENTICATION,
                outcome=Outcome.SUCCESS,
                resource_type="api_token",
                resource_id=str(locked.public_id),
                purpose=Purpose.ADMINISTRATION,
                reason=f"token {locked.prefix} revoked",
            )
    return locked


def token_authenticate(plaintext: str) -> User | None:
    """Resolve ``ipt_<prefix>_<secret>`` to its active user, or None."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    try:
        prefix, secret = plaintext[len(TOKEN_PREFIX) :].split("_", 1)
    except ValueError:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__organisation").filter(prefix=prefix).first()
    )
    if token is None or not secrets.compare_digest(token.secret_hash, hash_token_secret(secret)):
        return None
    if not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
