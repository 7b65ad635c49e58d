from __future__ import annotations

from base64 import b32encode
from uuid import UUID

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from iptcare.access.policy import authorize, check
from iptcare.access.vocabulary import Action, DataCategory, Purpose, Role
from iptcare.accounts import services
from iptcare.accounts.forms import EmailLoginForm, StaffForm, TOTPCodeForm
from iptcare.accounts.models import User
from iptcare.audit.models import Outcome
from iptcare.audit.services import record
from iptcare.core.errors import Conflict, DomainError, InvalidInput, NotFound


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailLoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5); ends the server session, not just the cookie."""

    next_page = "accounts:login"


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


@login_required
@require_http_methods(["GET", "POST"])
def mfa(request: HttpRequest) -> HttpResponse:
    """Verify a TOTP code, or enrol an authenticator first if the user has none."""
    user: User = request.user  # type: ignore[assignment]
    if user.is_verified():  # type: ignore[attr-defined]
        return redirect(_safe_next(request))
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if enrolling:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    assert device is not None
    form = TOTPCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(form.cleaned_data["code"]):
            with transaction.atomic():
                if enrolling:
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                    record(
                        actor=user,
                        action=Action.MFA_ENROLLED,
                        data_category=DataCategory.AUTHENTICATION,
                        outcome=Outcome.SUCCESS,
                        resource_type="user",
                        resource_id=str(user.public_id),
                        reason="authenticator app enrolled",
                    )
                request.session.cycle_key()
                otp_login(request, device)
            return redirect(_safe_next(request))
        record(
            actor=user,
            action=Action.MFA_FAILED,
            data_category=DataCategory.AUTHENTICATION,
            outcome=Outcome.FAILURE,
            resource_type="user",
            resource_id=str(user.public_id),
            reason="wrong or reused code" if allowed else "too many attempts; wait and retry",
        )
        form.add_error(
            "code",
            "That code was not accepted. Check your phone's clock and use the newest code."
            if allowed
            else "Too many wrong codes. Wait a minute before trying again.",
        )
    context = {"form": form, "enrolling": enrolling, "next": _safe_next(request)}
    if enrolling:
        context["qr_svg"] = segno.make(device.config_url, error="m").svg_inline(
            scale=4, title="QR code to add iptcare to your authenticator app"
        )
        context["secret"] = b32encode(device.bin_key).decode()
    return render(request, "accounts/mfa.html", context, status=400 if form.is_bound else 200)


# --- Staff administration -------------------------------------------------------------------


def _staff_subject(actor: User, public_id: UUID) -> User:
    user = (
        User.objects.staff()
        .select_related("organisation")
        .prefetch_related("role_grants", "programs")
        .filter(public_id=public_id)
        .first()
    )
    if user is None or user.organisation_id != actor.organisation_id:
        raise NotFound("No such user.")
    return user


@login_required
def staff_list(request: HttpRequest) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    if actor.organisation is None:
        raise NotFound("No organisation.")
    authorize(
        actor, Action.LIST, actor.organisation, DataCategory.STAFF_ACCOUNTS, Purpose.ADMINISTRATION
    )
    staff = (
        User.objects.staff()
        .filter(organisation=actor.organisation)
        .prefetch_related("role_grants", "programs")
        .order_by("full_name")
    )
    enrolled = set(
        TOTPDevice.objects.filter(
            user__organisation=actor.organisation, confirmed=True
        ).values_list("user_id", flat=True)
    )
    rows = [
        {
            "user": u,
            "roles": [Role(g.role).label for g in u.role_grants.all()],
            "programs": [p.name for p in u.programs.all()],
            "mfa": u.pk in enrolled,
        }
        for u in staff
    ]
    return render(request, "accounts/staff_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def staff_create(request: HttpRequest) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    if actor.organisation is None:
        raise NotFound("No organisation.")
    authorize(
        actor,
        Action.CREATE,
        actor.organisation,
        DataCategory.STAFF_ACCOUNTS,
        Purpose.ADMINISTRATION,
    )
    form = StaffForm(request.POST or None, organisation=actor.organisation)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.staff_create(
                actor=actor,
                organisation=actor.organisation,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                roles=form.cleaned_data["roles"],
                programs=form.cleaned_data["programs"],
                is_trainee=form.cleaned_data["is_trainee"],
                request=request,
            )
        except DomainError as exc:
            _add_domain_errors(form, exc)
        else:
            user = created.user
            if created.email.failed:
                # The account exists; their page has the button that sends the email again.
                messages.warning(
                    request,
                    f"{user.full_name} was added, but the email with the link to set a password "
                    "could not be sent. Check the address, then send the set-up email again "
                    "from here once mail works.",
                )
                return redirect("accounts:staff_edit", public_id=user.public_id)
            if created.email.sent:
                text = f"{user.full_name} was added and emailed a link to set a password."
            else:
                text = f"{user.full_name} was added. {created.email.message}"
            messages.success(request, text)
            return redirect("accounts:staff_list")
    return render(
        request,
        "accounts/staff_form.html",
        {"form": form, "creating": True},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def staff_edit(request: HttpRequest, public_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    if actor.organisation is None:
        raise NotFound("No organisation.")
    authorize(
        actor, Action.VIEW, actor.organisation, DataCategory.STAFF_ACCOUNTS, Purpose.ADMINISTRATION
    )
    subject = _staff_subject(actor, public_id)
    initial = {
        "email": subject.email,
        "full_name": subject.full_name,
        "roles": [g.role for g in subject.role_grants.all()],
        "programs": list(subject.programs.all()),
        "is_active": subject.is_active,
        "is_trainee": subject.is_trainee,
        "version": subject.version,
    }
    form = StaffForm(
        request.POST or None, organisation=actor.organisation, editing=True, initial=initial
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_update(
                actor=actor,
                user=subject,
                version=form.cleaned_data["version"] or 0,
                full_name=form.cleaned_data["full_name"],
                roles=form.cleaned_data["roles"],
                programs=form.cleaned_data["programs"],
                is_active=form.cleaned_data["is_active"],
                is_trainee=form.cleaned_data["is_trainee"],
            )
        except Conflict as exc:
            form.add_error(None, exc.message)
            status = 409
        except DomainError as exc:
            _add_domain_errors(form, exc)
        else:
            messages.success(request, f"Saved changes to {subject.full_name}.")
            return redirect("accounts:staff_list")
    if form.is_bound and form.errors and status == 200:
        status = 400
    has_mfa = TOTPDevice.objects.filter(user=subject, confirmed=True).exists()
    return render(
        request,
        "accounts/staff_form.html",
        {
            "form": form,
            "creating": False,
            "subject": subject,
            "has_mfa": has_mfa,
            "has_password": subject.has_usable_password(),
        },
        status=status,
    )


@login_required
@require_POST
def staff_reset_mfa(request: HttpRequest, public_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    if actor.organisation is None:
        raise NotFound("No organisation.")
    check(
        actor,
        Action.MANAGE,
        actor.organisation,
        DataCategory.STAFF_ACCOUNTS,
        Purpose.ADMINISTRATION,
    )
    subject = _staff_subject(actor, public_id)
    services.staff_reset_mfa(actor=actor, user=subject)
    messages.success(request, f"{subject.full_name} must enrol an authenticator at next login.")
    return redirect("accounts:staff_edit", public_id=subject.public_id)


@login_required
@require_POST
def staff_resend_setup(request: HttpRequest, public_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    if actor.organisation is None:
        raise NotFound("No organisation.")
    subject = _staff_subject(actor, public_id)
    try:
        delivery = services.staff_resend_setup(actor=actor, user=subject, request=request)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        if delivery.failed:
            messages.warning(
                request,
                f"{delivery.message} Check the address and try again later; the account is "
                "unchanged.",
            )
        else:
            messages.success(request, delivery.message)
    return redirect("accounts:staff_edit", public_id=subject.public_id)


def _add_domain_errors(form: StaffForm, exc: DomainError) -> None:
    if exc.field_errors:
        for field, errors in exc.field_errors.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc.message)
