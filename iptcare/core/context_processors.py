from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from iptcare.access.roles import ROLE_TABLE
from iptcare.access.vocabulary import Action, DataCategory, Role, Scope


def site(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    roles: frozenset[Role] = getattr(user, "role_set", frozenset()) if user else frozenset()
    return {
        "DEMO_MODE": settings.DEMO,
        "MFA_REQUIRED": settings.IPTCARE_REQUIRE_MFA,
        "CRISIS_TEXT": settings.IPTCARE_CRISIS_TEXT,
        # Navigation only: every page still asks the access policy.
        "NAV_CLINICAL": any(
            ROLE_TABLE[r].permits(DataCategory.CLINICAL_RECORD, Action.LIST)
            and ROLE_TABLE[r].scope != Scope.SELF
            for r in roles
        ),
        "NAV_CLIENTS": any(
            ROLE_TABLE[r].permits(DataCategory.DEMOGRAPHICS, Action.LIST)
            and ROLE_TABLE[r].scope != Scope.SELF
            for r in roles
        ),
        "NAV_PORTAL": any(ROLE_TABLE[r].scope == Scope.SELF for r in roles),
    }
