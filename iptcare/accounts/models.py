"""Staff users (login by email), their roles and program assignments, personal API tokens."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from iptcare.access.roles import ROLE_TABLE
from iptcare.access.scope import ResourceScope
from iptcare.access.vocabulary import Role
from iptcare.core.models import Organisation, Program


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=(username or "").strip())

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)  # None gives an unusable password: set by the reset link
        user.save(using=self._db)
        return user

    def staff(self) -> models.QuerySet[User]:
        """Staff accounts: everyone except clients' portal accounts."""
        return self.get_queryset().filter(portal_account__isnull=True)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(max_length=254, unique=True)  # stored lower-case; see constraint
    full_name = models.CharField(max_length=200)
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="staff",
        null=True,
        blank=True,
        help_text="Empty only for platform superusers, who hold no clinical role.",
    )
    programs = models.ManyToManyField(Program, related_name="staff", blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin site.")
    date_joined = models.DateTimeField(default=timezone.now)
    is_trainee = models.BooleanField(
        default=False,
        verbose_name="Trainee",
        help_text="Pre-licensure or in training: their notes need a supervisor's co-signature.",
    )
    # Optimistic version for the staff edit form: a stale save gets a conflict.
    version = models.PositiveIntegerField(default=1)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name"]
        constraints = [
            # Email is the login and unique regardless of case.
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def role_set(self) -> frozenset[Role]:
        """The user's roles, cached on the instance for the request (prefetch-friendly)."""
        cached = getattr(self, "_role_cache", None)
        if cached is None:
            cached = frozenset(
                Role(r)
                for r in RoleGrant.objects.filter(user_id=self.pk).values_list("role", flat=True)
            )
            self._role_cache = cached
        return cached

    @property
    def program_ids(self) -> frozenset[int]:
        cached = getattr(self, "_program_cache", None)
        if cached is None:
            cached = frozenset(
                User.programs.through.objects.filter(user_id=self.pk).values_list(
                    "program_id", flat=True
                )
            )
            self._program_cache = cached
        return cached

    @property
    def access_scope(self) -> ResourceScope:
        """An account as a resource of its organisation (staff accounts are managed
        organisation-wide). A platform superuser, who belongs to none, is no one's resource."""
        if self.organisation is None:
            raise ValueError("An account without an organisation is managed in the Django admin.")
        return ResourceScope(
            organisation_id=self.organisation.pk,
            organisation_public_id=self.organisation.public_id,
            program_id=None,
            resource_type="user",
            resource_id=str(self.public_id),
        )

    @property
    def portal_client_public_id(self) -> uuid.UUID | None:
        """The client this user is, for a portal account; None for staff."""
        if not hasattr(self, "_portal_client_cache"):
            from iptcare.portal.models import PortalAccount

            self._portal_client_cache: uuid.UUID | None = (
                PortalAccount.objects.filter(user_id=self.pk)
                .values_list("client__public_id", flat=True)
                .first()
            )
        return self._portal_client_cache

    @property
    def mfa_required(self) -> bool:
        """Staff need a second factor; a client-only account is offered one (the role table)."""
        return any(ROLE_TABLE[r].mfa_required for r in self.role_set) or not self.role_set

    def forget_cached_privileges(self) -> None:
        for attr in ("_role_cache", "_program_cache", "_portal_client_cache"):
            if hasattr(self, attr):
                delattr(self, attr)

    @property
    def role_labels(self) -> list[str]:
        return [Role(r).label for r in sorted(self.role_set)]


class RoleGrant(models.Model):
    """One role held by one user. Changed only through accounts.services (audited)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=40, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="role_grant_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="role_grant_known_role"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.role}"


def hash_token_secret(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (as for GitHub's tokens).
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token for scripts. Only its SHA-256 is stored; it expires, can be revoked."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
