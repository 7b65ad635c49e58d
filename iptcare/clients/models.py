"""Clients of a program. The clinical-record issue extends this with episodes, intake and more."""

from __future__ import annotations

from django.db import models

from iptcare.access.scope import ResourceScope
from iptcare.core.models import Organisation, Program, PublicIdModel


class Client(PublicIdModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="clients")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="clients")
    record_number = models.CharField(max_length=30, help_text="Unique within the organisation.")
    legal_given_name = models.CharField(max_length=100)
    legal_family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()

    class Meta:
        ordering = ["legal_family_name", "legal_given_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "record_number"], name="client_record_number_unique"
            ),
        ]
        indexes = [
            # Caseload-style lists: one program's clients by name.
            models.Index(fields=["program", "legal_family_name"], name="client_program_name"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.record_number})"

    @property
    def display_name(self) -> str:
        given = self.preferred_name or self.legal_given_name
        return f"{given} {self.legal_family_name}"

    @property
    def access_scope(self) -> ResourceScope:
        return ResourceScope(
            organisation_id=self.organisation_id,
            organisation_public_id=self.organisation.public_id,
            program_id=self.program_id,
            resource_type="client",
            resource_id=str(self.public_id),
            client_id=self.public_id,
        )
