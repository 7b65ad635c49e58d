"""Program settings that clinical apps read: IPT phase boundaries, the plan review interval and
the not-on-track session.

Administrators set them: the page's save is one write (ORGANISATION update of the program),
inside which each setting's service decides and writes its own part.
"""

from __future__ import annotations

from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from iptcare.access.policy import authorize, writing
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.core.errors import DomainError, Forbidden, NotFound
from iptcare.core.models import Program
from iptcare.ipt.models import PhaseBoundaries
from iptcare.ipt.services import phase_boundaries_set
from iptcare.measures.models import NOT_ON_TRACK_SESSION_RANGE
from iptcare.measures.program_settings import measure_settings_update, not_on_track_session
from iptcare.plans.models import PlanSettings
from iptcare.plans.services import plan_settings_update


class ProgramSettingsForm(forms.Form):
    initial_sessions = forms.IntegerField(
        label="IPT initial phase: first N sessions",
        min_value=1,
        max_value=6,
        help_text="Sources give sessions 1 to 3 or 1 to 4 (iptuk.net stages of IPT).",
    )
    termination_sessions = forms.IntegerField(
        label="IPT termination phase: last N sessions of the contract",
        min_value=1,
        max_value=6,
        help_text="Usually the last 2 to 4 sessions.",
    )
    review_interval_days = forms.IntegerField(
        label="Treatment plan review every (days)", min_value=7, max_value=365
    )
    not_on_track_session = forms.IntegerField(
        label="Not on track: alert when no reliable improvement by session",
        min_value=NOT_ON_TRACK_SESSION_RANGE[0],
        max_value=NOT_ON_TRACK_SESSION_RANGE[1],
        help_text=(
            "Sessions attended since admission; used until local expected-recovery curves exist."
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def program_settings(request: HttpRequest, program_id: UUID) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    program = Program.objects.select_related("organisation").filter(public_id=program_id).first()
    if program is None:
        raise NotFound("No such program.")
    # Another organisation's program is refused here too ("not found"), and the refusal recorded.
    authorize(actor, Action.VIEW, program, DataCategory.ORGANISATION, Purpose.ADMINISTRATION)
    bounds = PhaseBoundaries.objects.filter(program=program).first()
    plan = PlanSettings.objects.filter(program=program).first()
    initial = {
        "initial_sessions": bounds.initial_sessions if bounds else 3,
        "termination_sessions": bounds.termination_sessions if bounds else 3,
        "review_interval_days": plan.review_interval_days if plan else 30,
        "not_on_track_session": not_on_track_session(program.pk),
    }
    form = ProgramSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # One write: the page saves all or nothing, and its one event names each setting's
            # own write (each service decides too, inside this one: ``writing``).
            with writing(
                actor,
                Action.UPDATE,
                program,
                DataCategory.ORGANISATION,
                Purpose.ADMINISTRATION,
                detail={"of": "program_settings"},
            ):
                _save(actor, program, data)
        except (Forbidden, NotFound):
            raise
        except DomainError as exc:
            for field, errors in (exc.field_errors or {"__all__": [exc.message]}).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, f"Settings of {program.name} saved.")
            return redirect("core:home")
    return render(
        request,
        "chart/program_settings.html",
        {"form": form, "program": program},
        status=400 if form.errors else 200,
    )


def _save(actor: User, program: Program, data: dict[str, int]) -> None:
    phase_boundaries_set(
        actor=actor,
        program=program,
        initial_sessions=data["initial_sessions"],
        termination_sessions=data["termination_sessions"],
    )
    plan_settings_update(
        actor=actor, program=program, review_interval_days=data["review_interval_days"]
    )
    measure_settings_update(
        actor=actor, program=program, not_on_track_session=data["not_on_track_session"]
    )
