"""Platform superusers may inspect notes in the Django admin, never change them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from iptcare.encounters.models import SessionNote


@admin.register(SessionNote)
class SessionNoteAdmin(admin.ModelAdmin):
    list_display = ("public_id", "kind", "session_date", "status", "author")
    list_filter = ("status", "kind")
    readonly_fields = (
        "content",
        "signed_digest",
        "signed_at",
        "client",
        "author",
        "kind",
        "session_date",
        "organisation",
        "program",
    )
    exclude = ("cosigned_by", "entered_in_error_by")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # View only: status, co-signature and entered-in-error go through the services, which
        # check who may do them and audit them.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
