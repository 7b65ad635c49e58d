"""Property tests over every shipped instrument: totals stay in range and never fall when any one
item's score rises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iptcare.measures import engine
from iptcare.measures.engine import Instrument, score

WITH_TOTAL = sorted(code for code, inst in engine.load_all().items() if inst.total is not None)


def full_answers(inst: Instrument) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {i.number: st.sampled_from([o.code for o in i.options]) for i in inst.items}
    )


@pytest.mark.parametrize("code", WITH_TOTAL)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_total_is_within_the_declared_range(code: str, data: st.DataObject) -> None:
    inst = engine.get(code)
    answers = data.draw(full_answers(inst))
    result = score(inst, answers)
    assert inst.total is not None and result.total is not None
    assert inst.total.min <= result.total <= inst.total.max
    if inst.bands:
        assert result.band is not None and result.band.min <= result.total <= result.band.max
    for code_, value in result.subscales.items():
        assert value is not None, code_


@pytest.mark.parametrize("code", WITH_TOTAL)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_total_is_monotone_in_each_item_score(code: str, data: st.DataObject) -> None:
    inst = engine.get(code)
    answers = data.draw(full_answers(inst))
    item = data.draw(st.sampled_from(inst.items))
    current = item.option(answers[item.number])
    assert current is not None
    higher = [o for o in item.options if o.score > current.score]
    if not higher:
        return
    raised = data.draw(st.sampled_from(higher))
    before = score(inst, answers).total
    after = score(inst, answers | {item.number: raised.code}).total
    assert before is not None and after is not None
    assert after > before
