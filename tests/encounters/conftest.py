from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import User
from iptcare.clients.models import Client
from iptcare.core.models import Organisation, Program
from iptcare.encounters import services
from iptcare.encounters.models import SessionNote

DAP = {
    "dap": {
        "data": "Client reported two cravings.",
        "assessment": "Coping improving.",
        "plan": "Practise refusal skills.",
    }
}


@pytest.fixture
def sue(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    """Clinical supervisor in Northside."""
    return make_user(
        "sue@example.org",
        organisation=org,
        roles=(Role.CLINICAL_SUPERVISOR,),
        programs=(northside,),
    )


@pytest.fixture
def tina(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    """Trainee therapist in Northside: her notes need co-signature."""
    return make_user(
        "tina@example.org",
        organisation=org,
        roles=(Role.THERAPIST,),
        programs=(northside,),
        is_trainee=True,
    )


@pytest.fixture
def tom(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    """A second therapist in Northside (on-program, not the author)."""
    return make_user(
        "tom@example.org", organisation=org, roles=(Role.THERAPIST,), programs=(northside,)
    )


@pytest.fixture
def yesterday() -> date:
    return date.today() - timedelta(days=1)


@pytest.fixture
def draft(theo: User, client_record: Client, yesterday: date) -> SessionNote:
    return services.note_create(
        actor=theo, client=client_record, kind="individual", session_date=yesterday, content=DAP
    )


@pytest.fixture
def signed(theo: User, draft: SessionNote) -> SessionNote:
    return services.note_sign(actor=theo, note=draft, version=draft.version)
