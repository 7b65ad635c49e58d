"""The demo hook: bulk rows only, no audit events, revisions that show change."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

from iptcare.audit.models import AuditEvent
from iptcare.clients.models import Client, Episode
from iptcare.ipt import demo
from iptcare.ipt.models import (
    Formulation,
    InventoryPerson,
    InventoryRevision,
    ProblemArea,
    TreatmentContract,
)
from iptcare.ipt.selectors import _record_of


def test_demo_generates_fictional_changing_inventories(
    make_client: Callable[[], Client], make_episode: Callable[..., Episode]
) -> None:
    episodes = [make_episode(make_client()) for _ in range(30)]
    episodes.append(make_episode(make_client(), status="referred"))
    events = AuditEvent.objects.count()
    made = demo.generate(episodes=episodes, rng=random.Random(7), today=date(2025, 6, 1), share=1.0)
    assert made == 30
    assert AuditEvent.objects.count() == events
    assert TreatmentContract.objects.count() == 30 == Formulation.objects.count()
    assert not TreatmentContract.objects.filter(episode=episodes[-1]).exists()
    for revision in InventoryRevision.objects.filter(number=1):
        assert 4 <= revision.people.count() <= 9
    assert InventoryRevision.objects.filter(number__gte=2).exists()
    changed = 0
    for episode in episodes[:-1]:
        record = _record_of(episode)
        areas = record.active_areas
        assert 1 <= len(areas) <= 2
        if record.diff is not None and (record.diff.closer or record.diff.left):
            changed += 1
    assert changed >= 5
    for dispute in ProblemArea.objects.filter(kind="role_dispute"):
        assert dispute.stage_entries.exists() and dispute.dispute_with
    names = set(InventoryPerson.objects.values_list("name", flat=True))
    assert all(len(n) <= 14 for n in names)  # aliases, never full names


def test_demo_is_deterministic_and_respects_share(
    make_client: Callable[[], Client], make_episode: Callable[..., Episode]
) -> None:
    episodes = [make_episode(make_client()) for _ in range(20)]
    made = demo.generate(episodes=episodes, rng=random.Random(1), today=date(2025, 6, 1))
    assert 0 < made < 20
