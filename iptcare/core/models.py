"""Tenancy: an organisation runs one or more programs (sites)."""

from __future__ import annotations

import uuid

from django.db import models

from iptcare.access.scope import ResourceScope


class PublicIdModel(models.Model):
    """Rows addressed from outside (URLs, API, audit) by a random UUID, never by the integer key."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Organisation(PublicIdModel):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    is_demo = models.BooleanField(
        default=False, help_text="Synthetic demo data: every person in it is fictional."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def access_scope(self) -> ResourceScope:
        return ResourceScope(
            organisation_id=self.pk,
            organisation_public_id=self.public_id,
            program_id=None,
            resource_type="organisation",
            resource_id=str(self.public_id),
        )


class Program(PublicIdModel):
    """A site or service line of an organisation; staff scope and clients belong to programs."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="programs"
    )
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=40)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["organisation_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="program_code_unique"),
            models.UniqueConstraint(fields=["organisation", "name"], name="program_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def access_scope(self) -> ResourceScope:
        return ResourceScope(
            organisation_id=self.organisation_id,
            organisation_public_id=self.organisation.public_id,
            program_id=self.pk,
            resource_type="program",
            resource_id=str(self.public_id),
        )
