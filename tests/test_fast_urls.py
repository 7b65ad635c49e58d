from __future__ import annotations

import uuid

from django.urls import reverse

from iptcare.core.templatetags.fast_urls import url_for


def test_url_for_matches_reverse() -> None:
    for name in ("clients:summary", "encounters:note", "ipt:episode", "plans:plan"):
        public_id = uuid.uuid4()
        assert url_for(public_id, name) == reverse(name, args=[public_id])
        assert url_for(str(public_id), name) == reverse(name, args=[public_id])
