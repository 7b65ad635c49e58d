"""The session engine: Django's database sessions, with the per-request read prepared.

Every authenticated request reads its session row; the lookup is the same query each time, so
it is compiled once (``iptcare.core.db.prepared``) instead of on every request. Everything else,
including saving, expiry and cycling keys, is Django's ``db`` backend unchanged.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from iptcare.core.db.prepared import prepared

_SESSION = prepared(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now)[:1],
    key=str,
    now=datetime,
)


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        session: Session | None = None
        if self.session_key is not None:
            session = _SESSION.first(key=self.session_key, now=timezone.now())
        if session is None:
            self._session_key = None
        return session
