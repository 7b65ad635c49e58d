"""Synthetic demo data: a fictional organisation, its programs, staff in every role, and clients.

Deterministic from a seed. Writes in bulk. Every person is invented; emails use the reserved
example.org domain (RFC 2606) and record numbers start with DEMO-.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from iptcare.access.vocabulary import Role
from iptcare.accounts.models import RoleGrant, User
from iptcare.clients import demo as clients_demo
from iptcare.clients.models import Client, Episode
from iptcare.core.models import Organisation, Program
from iptcare.encounters import demo as encounters_demo
from iptcare.ipt import demo as ipt_demo
from iptcare.measures import demo as measures_demo
from iptcare.plans import demo as plans_demo
from iptcare.portal import demo as portal_demo
from iptcare.recovery import demo as recovery_demo
from iptcare.scheduling import demo as scheduling_demo
from iptcare.scheduling.models import ATTENDED_STATUSES, Appointment

DEMO_ORG_SLUG = "demo-lighthouse"
DEMO_ORG_NAME = "Lighthouse Recovery Collaborative (fictional demo)"
# Published demo password (README): long enough for the validators, not a common password.
DEMO_PASSWORD = "lighthouse-demo-2026"  # noqa: S105 - published demo login
DEFAULT_SEED = 2026
DEFAULT_CLIENTS = 150

PROGRAMS = [
    ("northside", "Northside Outpatient"),
    ("riverside", "Riverside Intensive Outpatient"),
]


@dataclass(frozen=True)
class DemoStaff:
    email: str
    full_name: str
    roles: tuple[Role, ...]
    programs: tuple[str, ...]
    is_trainee: bool = False


STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("admin@example.org", "Avery Adminson", (Role.ADMINISTRATOR,), ()),
    DemoStaff("director@example.org", "Dana Directorly", (Role.PROGRAM_DIRECTOR,), ("northside",)),
    DemoStaff(
        "director.riverside@example.org",
        "Rowan Riverdale",
        (Role.PROGRAM_DIRECTOR,),
        ("riverside",),
    ),
    DemoStaff("quality@example.org", "Quinn Qualworth", (Role.QUALITY_LEAD,), ()),
    DemoStaff(
        "supervisor@example.org",
        "Sam Supervane",
        (Role.CLINICAL_SUPERVISOR, Role.THERAPIST),
        ("northside", "riverside"),
    ),
    DemoStaff("therapist@example.org", "Theo Talkwell", (Role.THERAPIST,), ("northside",)),
    DemoStaff(
        "therapist.riverside@example.org", "Tara Tellwright", (Role.THERAPIST,), ("riverside",)
    ),
    DemoStaff(
        "trainee@example.org", "Trent Learnmore", (Role.THERAPIST,), ("northside",), is_trainee=True
    ),
    DemoStaff(
        "prescriber@example.org", "Priya Dosewell", (Role.PRESCRIBER,), ("northside", "riverside")
    ),
    DemoStaff("nurse@example.org", "Nell Carewright", (Role.NURSE,), ("northside",)),
    DemoStaff(
        "casemanager@example.org",
        "Casey Linkmore",
        (Role.CASE_MANAGER,),
        ("northside", "riverside"),
    ),
    DemoStaff("peer@example.org", "Pat Alongside", (Role.PEER_SPECIALIST,), ("riverside",)),
    DemoStaff(
        "intake@example.org",
        "Ingrid Welcomer",
        (Role.INTAKE_COORDINATOR,),
        ("northside", "riverside"),
    ),
    DemoStaff("researcher@example.org", "Remy Datafield", (Role.RESEARCHER,), ()),
    DemoStaff("admin.backup@example.org", "Blair Backupson", (Role.ADMINISTRATOR,), ()),
)

GIVEN = [
    "Alder",
    "Briar",
    "Cove",
    "Dune",
    "Ember",
    "Fern",
    "Grove",
    "Heath",
    "Iris",
    "Juniper",
    "Kestrel",
    "Linden",
    "Moss",
    "Nova",
    "Oakley",
    "Pike",
    "Quill",
    "Rook",
    "Sage",
    "Tamsin",
    "Umber",
    "Vale",
    "Wren",
    "Yarrow",
    "Zephyr",
]
FAMILY = [
    "Demoford",
    "Samplewood",
    "Fictionby",
    "Mockridge",
    "Testbrook",
    "Placeholm",
    "Inventon",
    "Pretendale",
    "Makebelieve",
    "Synthfield",
    "Notrealson",
    "Imaginley",
]


def demo_organisation() -> Organisation | None:
    return Organisation.objects.filter(slug=DEMO_ORG_SLUG).first()


@transaction.atomic
def generate(*, seed: int = DEFAULT_SEED, clients: int = DEFAULT_CLIENTS) -> Organisation:
    """Create the demo organisation. The caller checks that it does not exist yet."""
    rng = random.Random(seed)
    org = Organisation.objects.create(name=DEMO_ORG_NAME, slug=DEMO_ORG_SLUG, is_demo=True)
    programs = {
        code: Program.objects.create(organisation=org, code=code, name=name)
        for code, name in PROGRAMS
    }
    # One hash for everyone: Argon2 is deliberately slow, and all demo users share the password.
    password_hash = make_password(DEMO_PASSWORD)
    users = User.objects.bulk_create(
        [
            User(
                email=s.email,
                full_name=s.full_name,
                organisation=org,
                password=password_hash,
                is_trainee=s.is_trainee,
            )
            for s in STAFF
        ]
    )
    # At benchmark scale, more therapists: a caseload of about 35, as in a real program.
    extra = max(0, clients // 35 - sum(1 for s in STAFF if Role.THERAPIST in s.roles))
    extra_staff = [
        DemoStaff(
            f"therapist{n:04d}@example.org",
            f"Demo Therapist {n:04d}",
            (Role.THERAPIST,),
            (PROGRAMS[n % len(PROGRAMS)][0],),
        )
        for n in range(1, extra + 1)
    ]
    if extra_staff:
        users += User.objects.bulk_create(
            [
                User(email=s.email, full_name=s.full_name, organisation=org, password=password_hash)
                for s in extra_staff
            ],
            batch_size=2000,
        )
    staff = (*STAFF, *extra_staff)
    by_email = {u.email: u for u in users}
    RoleGrant.objects.bulk_create(
        [RoleGrant(user=by_email[s.email], role=r) for s in staff for r in s.roles],
        batch_size=2000,
    )
    Membership = User.programs.through
    Membership.objects.bulk_create(
        [
            Membership(user_id=by_email[s.email].pk, program_id=programs[code].pk)
            for s in staff
            for code in s.programs
        ],
        batch_size=2000,
    )
    program_list = list(programs.values())
    born = date(2026, 11, 1)
    client_rows = Client.objects.bulk_create(
        [
            Client(
                organisation=org,
                program=program_list[i % len(program_list)],
                record_number=f"DEMO-{i + 1:06d}",
                legal_given_name=rng.choice(GIVEN),
                legal_family_name=rng.choice(FAMILY),
                date_of_birth=born - timedelta(days=rng.randint(18 * 365, 70 * 365)),
            )
            for i in range(clients)
        ],
        batch_size=2000,
    )
    if client_rows:
        _clinical_records(org, program_list, by_email, staff, client_rows, rng)
        portal_demo.generate(
            org=org, therapist=by_email["therapist@example.org"], password_hash=password_hash
        )
    return org


def _clinical_records(
    org: Organisation,
    programs: list[Program],
    by_email: dict[str, User],
    staff: tuple[DemoStaff, ...],
    clients: list[Client],
    rng: random.Random,
) -> None:
    """Episodes and intake, appointments and attendance, signed notes — each app's own hook."""
    today = timezone.localdate()
    therapists = {
        p.pk: [
            by_email[s.email] for s in staff if Role.THERAPIST in s.roles and p.code in s.programs
        ]
        for p in programs
    }
    clients_demo.generate(
        organisation=org,
        programs=programs,
        clinicians_by_program=therapists,
        clients=clients,
        rng=rng,
        today=today,
    )
    enrolments = [
        scheduling_demo.DemoEnrolment(
            client=e.client,
            program=e.program,
            clinician=e.primary_clinician,
            admitted_on=e.admission_date,
            discharged_on=e.discharge_date,
        )
        for e in Episode.objects.filter(
            organisation=org, admission_date__isnull=False, primary_clinician__isnull=False
        )
        .select_related("client", "program", "primary_clinician")
        .order_by("pk")
        if e.primary_clinician is not None and e.admission_date is not None
    ]
    scheduling_demo.generate(
        organisation=org,
        episodes_or_clients=enrolments,
        clinicians_by_program=therapists,
        rng=rng,
        today=today,
    )
    attended = (
        Appointment.objects.filter(
            organisation=org,
            status__in=ATTENDED_STATUSES,
            kind__in=["individual", "medication_management", "intake", "family"],
        )
        .order_by("pk")
        .values_list(
            "program_id",
            "client_id",
            "client__public_id",
            "clinician_id",
            "clinician__public_id",
            "clinician__is_trainee",
            "starts_at",
            "modality",
        )
    )
    tz = timezone.get_current_timezone()
    supervisors = {
        p.pk: by_email[s.email].pk
        for p in programs
        for s in STAFF
        if Role.CLINICAL_SUPERVISOR in s.roles and p.code in s.programs
    }
    open_episodes = list(
        Episode.objects.filter(organisation=org, status="admitted", primary_clinician__isnull=False)
        .select_related("client", "program", "primary_clinician", "organisation")
        .order_by("pk")
    )
    # IPT records for the clients whose individual sessions are IPT.
    ipt_clients = set(
        Appointment.objects.filter(organisation=org, kind="individual", modality="ipt")
        .values_list("client_id", flat=True)
        .distinct()
    )
    ipt_demo.generate(
        episodes=[e for e in open_episodes if e.client_id in ipt_clients],
        rng=rng,
        today=today,
        share=0.9,
    )
    plans_demo.generate(episodes=open_episodes, rng=rng, today=today)
    encounters_demo.generate(
        sessions=(
            encounters_demo.AttendedSession(
                organisation_id=org.pk,
                program_id=program_id,
                client_id=client_id,
                client_public_id=client_public_id,
                author_id=author_id,
                author_public_id=author_public_id,
                author_is_trainee=is_trainee,
                session_date=starts_at.astimezone(tz).date(),
                modality=modality or "other",
            )
            for (
                program_id,
                client_id,
                client_public_id,
                author_id,
                author_public_id,
                is_trainee,
                starts_at,
                modality,
            ) in attended.iterator(chunk_size=5000)
        ),
        rng=rng,
        cosigner_by_program=supervisors,
    )
    recovery_demo.generate(episodes=open_episodes, rng=rng, today=today)
    measures_demo.generate(episodes=open_episodes, rng=rng, today=today)


def demo_logins() -> list[dict[str, object]]:
    """The demo logins as they are in the database (email, password, roles)."""
    org = demo_organisation()
    if org is None:
        return []
    users = (
        User.objects.filter(
            organisation=org, email__in=[s.email for s in STAFF] + [portal_demo.PORTAL_EMAIL]
        )
        .prefetch_related("role_grants")
        .order_by("email")
    )
    return [
        {
            "email": u.email,
            "password": DEMO_PASSWORD,
            "roles": sorted(g.role for g in u.role_grants.all()),
        }
        for u in users
    ]
