"""Fixed personas (STYLE.md): alice administers, theo treats in Northside, tess treats in
Riverside (off-program for Northside clients), remy researches, oscar works for another
organisation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import pytest
from django.db.backends.base.operations import BaseDatabaseOperations
from django.test import Client as HttpClient
from django_otp.plugins.otp_totp.models import TOTPDevice

import iptcare.audit.triggers
import iptcare.encounters.triggers
import iptcare.plans.triggers  # noqa: F401
from iptcare.access.vocabulary import Role
from iptcare.accounts.models import RoleGrant, User
from iptcare.clients.models import Client
from iptcare.core import triggers
from iptcare.core.models import Organisation, Program

PASSWORD = "correct-horse-battery-staple-42"

# --- Protective triggers vs. Django's flush between transactional tests -----------------------
# Django empties every table after a TransactionTestCase/transactional_db test. The audit and
# signed-record triggers (rightly) refuse that, so the *test suite only* lifts them around the
# flush and puts them back at once. The application has no such path.
_original_flush = BaseDatabaseOperations.execute_sql_flush


def _flush_with_triggers_lifted(self: BaseDatabaseOperations, sql_list: Iterable[str]) -> None:
    sets = list(triggers.REGISTRY.values())
    for trigger_set in sets:
        trigger_set.remove(self.connection)
    try:
        _original_flush(self, sql_list)
    finally:
        for trigger_set in sets:
            trigger_set.install(self.connection)


BaseDatabaseOperations.execute_sql_flush = _flush_with_triggers_lifted  # type: ignore[method-assign]


@pytest.fixture
def org(db: None) -> Organisation:
    return Organisation.objects.create(name="Fictional Test Clinic", slug="test-clinic")


@pytest.fixture
def other_org(db: None) -> Organisation:
    return Organisation.objects.create(name="Elsewhere Imaginary Services", slug="elsewhere")


@pytest.fixture
def northside(org: Organisation) -> Program:
    return Program.objects.create(organisation=org, code="north", name="Northside")


@pytest.fixture
def riverside(org: Organisation) -> Program:
    return Program.objects.create(organisation=org, code="river", name="Riverside")


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(
        email: str,
        *,
        organisation: Organisation | None,
        roles: tuple[Role, ...] = (),
        programs: tuple[Program, ...] = (),
        password: str = PASSWORD,
        **extra: Any,
    ) -> User:
        user = User.objects.create_user(
            email,
            password,
            full_name=email.split("@")[0].title(),
            organisation=organisation,
            **extra,
        )
        RoleGrant.objects.bulk_create([RoleGrant(user=user, role=r) for r in roles])
        user.programs.set(programs)
        return User.objects.get(pk=user.pk)

    return make


@pytest.fixture
def alice(make_user: Callable[..., User], org: Organisation) -> User:
    return make_user("alice@example.org", organisation=org, roles=(Role.ADMINISTRATOR,))


@pytest.fixture
def theo(make_user: Callable[..., User], org: Organisation, northside: Program) -> User:
    return make_user(
        "theo@example.org", organisation=org, roles=(Role.THERAPIST,), programs=(northside,)
    )


@pytest.fixture
def tess(make_user: Callable[..., User], org: Organisation, riverside: Program) -> User:
    return make_user(
        "tess@example.org", organisation=org, roles=(Role.THERAPIST,), programs=(riverside,)
    )


@pytest.fixture
def remy(make_user: Callable[..., User], org: Organisation) -> User:
    return make_user("remy@example.org", organisation=org, roles=(Role.RESEARCHER,))


@pytest.fixture
def oscar(make_user: Callable[..., User], other_org: Organisation) -> User:
    other_program = Program.objects.create(organisation=other_org, code="x", name="Other program")
    return make_user(
        "oscar@example.org",
        organisation=other_org,
        roles=(Role.ADMINISTRATOR, Role.THERAPIST),
        programs=(other_program,),
    )


@pytest.fixture
def client_record(org: Organisation, northside: Program) -> Client:
    return Client.objects.create(
        organisation=org,
        program=northside,
        record_number="T-0001",
        legal_given_name="Wren",
        legal_family_name="Testbrook",
        date_of_birth=date(1990, 5, 17),
    )


def verified_client(user: User) -> HttpClient:
    """A test client logged in as ``user`` with an MFA-verified session."""
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    http = HttpClient()
    http.force_login(user, backend="iptcare.accounts.backends.EmailBackend")
    session = http.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return http


@pytest.fixture
def login_as() -> Callable[[User], HttpClient]:
    return verified_client
