"""Per-request metadata (request id, client IP, user agent) for the audit trail.

Set by RequestContextMiddleware; management commands get a fresh request id of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestMeta:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestMeta | None] = ContextVar("iptcare_request_meta", default=None)


def current() -> RequestMeta:
    meta = _current.get()
    if meta is None:
        meta = RequestMeta()
        _current.set(meta)
    return meta


@contextmanager
def bound(meta: RequestMeta) -> Iterator[RequestMeta]:
    token = _current.set(meta)
    try:
        yield meta
    finally:
        _current.reset(token)
