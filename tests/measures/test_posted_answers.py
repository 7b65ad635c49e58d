"""A client's questionnaire POST goes to the engine without building the form
(``posted_answers``); the form is built only to show the page again. These tests hold the two
readings equal and check what a client sees when an answer is bad."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.test import Client as HttpClient
from hypothesis import given, settings
from hypothesis import strategies as st

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.measures import engine, services
from iptcare.measures.forms import QuestionnaireForm, field_name, posted_answers
from iptcare.measures.models import Administration, MeasureLink

CODES = sorted(engine.load_all())


@st.composite
def _posts(draw: st.DrawFn) -> tuple[engine.Instrument, QueryDict]:
    """A POST for a random instrument: each item answered with one of its codes, a bad code,
    an empty value, several values, or not at all; plus fields that are not items."""
    instrument = engine.get(draw(st.sampled_from(CODES)))
    data = QueryDict(mutable=True)
    for item in instrument.items:
        codes = [o.code for o in item.options]
        values = draw(
            st.lists(
                st.one_of(st.sampled_from(codes), st.sampled_from(["", "99", " 1", "x"])),
                max_size=2,
            )
        )
        data.setlist(field_name(item.number), values)
    if draw(st.booleans()):
        data["item_999"] = "1"
        data["csrfmiddlewaretoken"] = "token"
    return instrument, data


@settings(max_examples=300, deadline=None)
@given(_posts())
def test_posted_answers_are_the_answers_the_form_reads(
    post: tuple[engine.Instrument, QueryDict],
) -> None:
    instrument, data = post
    form = QuestionnaireForm(data, instrument=instrument)
    answers = posted_answers(data, instrument)
    if form.is_valid():
        assert answers == form.answers()
    else:
        # What the form refuses, the engine refuses too, naming the same items.
        with pytest.raises(engine.InvalidAnswers) as exc:
            engine.score(instrument, answers)
        refused = {name for name in form.errors}
        assert {field_name(n) for n in exc.value.errors} == refused


@pytest.mark.parametrize("code", CODES)
def test_every_option_of_every_item_is_read(code: str) -> None:
    instrument = engine.get(code)
    for item in instrument.items:
        for option in item.options:
            data = QueryDict(mutable=True)
            data[field_name(item.number)] = option.code
            assert posted_answers(data, instrument) == {item.number: option.code}


def test_a_bad_answer_on_a_link_is_shown_at_its_item_and_nothing_is_stored(
    theo: User, client_record: Client
) -> None:
    issued = services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    )
    post = {field_name(str(n)): "1" for n in range(1, 10)} | {"item_4": "7"}
    response = HttpClient().post(issued.path, post)
    assert response.status_code == 400
    form = response.context["form"]
    assert list(form.errors) == ["item_4"]
    assert "Select a valid choice" in form.errors["item_4"][0]
    html = response.content.decode()
    assert html.count("checked") == 8  # the other answers are kept
    assert 'class="field has-error"' in html and html.count("has-error") == 1
    assert Administration.objects.count() == 0
    assert MeasureLink.objects.get().used_at is None
    # Corrected, the same link works once.
    fixed = HttpClient().post(issued.path, post | {"item_4": "2"})
    assert fixed.status_code == 200
    assert Administration.objects.get().total == 10
    assert HttpClient().post(issued.path, post | {"item_4": "2"}).status_code == 404
