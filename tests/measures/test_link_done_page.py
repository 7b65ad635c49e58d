"""The thank-you page after a link's questionnaire is rendered once per process and kept
(``views._public_done_page``): it must be exactly the page a full render with the request's
context processors gives, for every value of what it shows."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.shortcuts import render
from django.test import RequestFactory, override_settings

from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.measures import services, views

SETTINGS = [
    {"DEMO": True, "IPTCARE_REQUIRE_MFA": False, "IPTCARE_CRISIS_TEXT": ""},
    {"DEMO": False, "IPTCARE_REQUIRE_MFA": True, "IPTCARE_CRISIS_TEXT": ""},
    {"DEMO": True, "IPTCARE_REQUIRE_MFA": True, "IPTCARE_CRISIS_TEXT": "Call 112 (fictional)"},
]


def _rendered(safety: bool) -> str:
    request = RequestFactory().post("/m/x/")
    request.user = AnonymousUser()
    request.session = SessionStore()
    context = {"safety": safety, "base_template": views.PUBLIC_BASE}
    return render(request, views.DONE_TEMPLATE, context).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("safety", [False, True])
@pytest.mark.parametrize("values", SETTINGS)
def test_the_kept_page_is_the_rendered_page(safety: bool, values: dict[str, object]) -> None:
    with override_settings(**values):
        kept = views._public_done_page(
            safety,
            bool(values["DEMO"]),
            bool(values["IPTCARE_REQUIRE_MFA"]),
            str(values["IPTCARE_CRISIS_TEXT"]),
        )
        assert kept == _rendered(safety)
    assert ('data-testid="crisis"' in kept) is safety
    assert ("Demo mode" in kept) is values["DEMO"]
    if safety and values["IPTCARE_CRISIS_TEXT"]:
        assert "Call 112 (fictional)" in kept and "988" not in kept


@pytest.mark.django_db
@override_settings(IPTCARE_CRISIS_TEXT="Call 112 (fictional)")
def test_a_submit_through_a_link_answers_with_it(theo: User, client_record: Client) -> None:
    from django.test import Client as HttpClient

    secret = services.link_issue(
        actor=theo, client=client_record, instrument_code="phq-9", base_url="http://t/"
    ).secret
    answers = {f"item_{n}": "1" for n in range(1, 10)}  # item 9 endorsed
    response = HttpClient().post(f"/m/{secret}/", answers)
    assert response.status_code == 200
    assert response.content.decode() == _rendered(True)
    assert "Call 112 (fictional)" in response.content.decode()
