from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field, field_validator

from iptcare.access.policy import authorize, check
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role
from iptcare.accounts import services
from iptcare.accounts.models import ApiToken, User
from iptcare.core.errors import InvalidInput, NotFound
from iptcare.core.mail import DeliveryStatus
from iptcare.core.models import Program

router = Router(tags=["accounts"])


class MeOut(Schema):
    id: UUID
    email: str
    full_name: str
    organisation: UUID | None
    roles: list[Role]
    programs: list[UUID]


class StaffOut(Schema):
    id: UUID
    email: str
    full_name: str
    roles: list[Role]
    programs: list[UUID]
    is_active: bool
    is_trainee: bool
    version: int


class StaffCreatedOut(StaffOut):
    setup_email_status: DeliveryStatus = Field(
        description="What became of the email with the link to set a password, sent once the "
        "account is committed: sent, or failed (the account exists; send the set-up email "
        "again from the user's staff page once mail works)."
    )


class StaffCreateIn(Schema):
    email: str = Field(max_length=254)
    full_name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1)
    programs: list[UUID] = []
    is_trainee: bool = False

    @field_validator("email")
    @classmethod
    def email_valid(cls, value: str) -> str:
        value = value.strip().lower()
        try:
            validate_email(value)
        except DjangoValidationError as exc:
            raise ValueError("Enter a valid email address.") from exc
        return value


class StaffUpdateIn(Schema):
    version: int
    full_name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1)
    programs: list[UUID] = []
    is_active: bool = True
    is_trainee: bool = False


class TokenOut(Schema):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def _staff_out(user: User) -> StaffOut:
    return StaffOut(
        id=user.public_id,
        email=user.email,
        full_name=user.full_name,
        roles=sorted(Role(g.role) for g in user.role_grants.all()),
        programs=[p.public_id for p in user.programs.all()],
        is_active=user.is_active,
        is_trainee=user.is_trainee,
        version=user.version,
    )


def _actor(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    if user.organisation is None:
        raise NotFound("No organisation.")
    return user


def _programs(actor: User, ids: list[UUID]) -> list[Program]:
    found = list(Program.objects.filter(organisation=actor.organisation, public_id__in=ids))
    if len(found) != len(set(ids)):
        raise InvalidInput("Unknown program.", field_errors={"programs": ["Unknown program id."]})
    return found


@router.get("/me", response=MeOut, summary="Who I am")
def me(request: HttpRequest) -> MeOut:
    user: User = request.user  # type: ignore[assignment]
    return MeOut(
        id=user.public_id,
        email=user.email,
        full_name=user.full_name,
        organisation=user.organisation.public_id if user.organisation else None,
        roles=sorted(user.role_set),
        programs=list(user.programs.values_list("public_id", flat=True)),
    )


@router.get("/staff", response=list[StaffOut], summary="Staff of my organisation (administrators)")
def staff_list(request: HttpRequest) -> list[StaffOut]:
    actor = _actor(request)
    assert actor.organisation is not None
    authorize(
        actor, Action.LIST, actor.organisation, DataCategory.STAFF_ACCOUNTS, Purpose.ADMINISTRATION
    )
    users = (
        User.objects.staff()
        .filter(organisation=actor.organisation)
        .prefetch_related("role_grants", "programs")
    )
    return [_staff_out(u) for u in users]


@router.post(
    "/staff", response={201: StaffCreatedOut}, summary="Add a staff member (administrators)"
)
def staff_create(request: HttpRequest, payload: StaffCreateIn) -> Status[StaffCreatedOut]:
    actor = _actor(request)
    assert actor.organisation is not None
    created = services.staff_create(
        actor=actor,
        organisation=actor.organisation,
        email=payload.email,
        full_name=payload.full_name,
        roles=payload.roles,
        programs=_programs(actor, payload.programs),
        is_trainee=payload.is_trainee,
        request=request,
    )
    user = User.objects.prefetch_related("role_grants", "programs").get(pk=created.user.pk)
    return Status(
        201,
        StaffCreatedOut(**_staff_out(user).model_dump(), setup_email_status=created.email.status),
    )


@router.put(
    "/staff/{user_id}", response=StaffOut, summary="Change a staff member's roles, programs, status"
)
def staff_update(request: HttpRequest, user_id: UUID, payload: StaffUpdateIn) -> StaffOut:
    actor = _actor(request)
    assert actor.organisation is not None
    check(
        actor,
        Action.UPDATE,
        actor.organisation,
        DataCategory.STAFF_ACCOUNTS,
        Purpose.ADMINISTRATION,
    )
    subject = (
        User.objects.staff().filter(public_id=user_id, organisation=actor.organisation).first()
    )
    if subject is None:
        raise NotFound("No such user.")
    updated = services.staff_update(
        actor=actor,
        user=subject,
        version=payload.version,
        full_name=payload.full_name,
        roles=payload.roles,
        programs=_programs(actor, payload.programs),
        is_active=payload.is_active,
        is_trainee=payload.is_trainee,
    )
    return _staff_out(User.objects.prefetch_related("role_grants", "programs").get(pk=updated.pk))


@router.get("/tokens", response=list[TokenOut], summary="My API tokens")
def tokens(request: HttpRequest) -> list[TokenOut]:
    return [
        TokenOut(
            id=t.public_id,
            name=t.name,
            prefix=t.prefix,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
            last_used_at=t.last_used_at,
        )
        for t in ApiToken.objects.filter(user=request.user)  # type: ignore[misc]
    ]


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke one of my API tokens")
def token_revoke(request: HttpRequest, token_id: UUID) -> Status[None]:
    token = ApiToken.objects.filter(public_id=token_id, user=request.user).first()  # type: ignore[misc]
    if token is None:
        raise NotFound("No such token.")
    services.token_revoke(actor=request.user, token=token)  # type: ignore[arg-type]
    return Status(204, None)
