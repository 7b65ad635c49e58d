"""Pages of the clinical record. Reads through selectors, writes through services; every lookup
by public UUID goes through the access policy first (refusals render via DomainErrorMiddleware).
A write is decided and recorded by its service (``writing``); a page that opens an empty form
records nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from iptcare.access.policy import check
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.clients import dsm5, services
from iptcare.clients import forms as f
from iptcare.clients.errors import DuplicateClientWarning
from iptcare.clients.icd10_sud import CODE_SOURCE, proposed_code
from iptcare.clients.selectors import (
    client_get,
    client_list,
    client_search,
    diagnosis_get,
    episode_get,
    episode_list,
    programs_permitting,
    sud_assessment_get,
)
from iptcare.core.errors import DomainError, Forbidden, NotFound
from iptcare.core.models import Program

GET_POST = require_http_methods(["GET", "POST"])


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _add_domain_errors(form: forms.BaseForm, exc: DomainError) -> None:
    if exc.field_errors:
        for field, errors in exc.field_errors.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc.message)


def _status(form: forms.BaseForm, status: int = 200) -> int:
    if status == 200 and form.is_bound and form.errors:
        return 400
    return status


def _submit(form: forms.BaseForm, action: Any) -> tuple[Any, int]:
    """Run ``action`` and fold a refusal into the form: 409 for conflicts, 400 for bad input.
    Access refusals (Forbidden/NotFound) propagate and render as error pages."""
    try:
        return action(), 200
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        _add_domain_errors(form, exc)
        return None, exc.status if exc.status == 409 else 400


PROGRAM_CLIENTS_PER_PAGE = 50


# --- clients -----------------------------------------------------------------------------------


@login_required
def program_clients(request: HttpRequest, program_id: UUID) -> HttpResponse:
    user = _actor(request)
    program = Program.objects.select_related("organisation").filter(public_id=program_id).first()
    if program is None or program.organisation_id != user.organisation_id:
        raise NotFound("No such program.")
    # A program can hold thousands of clients: the list is paged, search finds one client.
    page = Paginator(client_list(actor=user, program=program), PROGRAM_CLIENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "clients/program_clients.html", {"program": program, "page": page})


@login_required
def client_search_page(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    query = request.GET.get("q", "").strip()
    results = client_search(actor=actor, query=query)
    can_create = bool(
        programs_permitting(actor=actor, action=Action.CREATE, category=DataCategory.DEMOGRAPHICS)
    )
    return render(
        request,
        "clients/search.html",
        {"query": query, "results": results, "can_create": can_create},
    )


def _creatable_programs(actor: User) -> list[Program]:
    programs = programs_permitting(
        actor=actor, action=Action.CREATE, category=DataCategory.DEMOGRAPHICS
    )
    if not programs:
        if actor.organisation is None:
            raise NotFound("No organisation.")
        # Record the refusal (or, for a role allowed but not assigned anywhere, refuse plainly).
        check(
            actor,
            Action.CREATE,
            actor.organisation,
            DataCategory.DEMOGRAPHICS,
            Purpose.TREATMENT,
        )
        raise Forbidden("You are not assigned to a program where you may register clients.")
    return programs


@login_required
@GET_POST
def client_create_page(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    programs = _creatable_programs(actor)
    confirm_shown = request.POST.get("confirm_shown") == "1"
    form = f.ClientForm(request.POST or None, programs=programs, show_confirm=confirm_shown)
    status = 200
    duplicate: DuplicateClientWarning | None = None
    if request.method == "POST" and form.is_valid():
        try:
            client = services.client_create(
                actor=actor,
                program=form.cleaned_data["program"],
                data=form.client_data(),
                confirm_duplicate=bool(form.cleaned_data.get("confirm_duplicate")),
            )
        except DuplicateClientWarning as exc:
            duplicate, status = exc, 409
            form = f.ClientForm(request.POST, programs=programs, show_confirm=True)
            form.is_valid()
        except (Forbidden, NotFound):
            raise
        except DomainError as exc:
            _add_domain_errors(form, exc)
        else:
            messages.success(request, f"Registered {client.display_name} ({client.record_number}).")
            return redirect("clients:summary", client_id=client.public_id)
    return render(
        request,
        "clients/client_form.html",
        {"form": form, "creating": True, "duplicate": duplicate},
        status=_status(form, status),
    )


@login_required
@GET_POST
def client_edit_page(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(actor=actor, public_id=client_id, action=Action.UPDATE)
    initial = {k: getattr(client, k) for k in services.CLIENT_FIELDS} | {"version": client.version}
    form = f.ClientForm(request.POST or None, initial=initial, editing=True)
    status = 200
    if request.method == "POST" and form.is_valid():
        result, status = _submit(
            form,
            lambda: services.client_update(
                actor=actor,
                client=client,
                version=form.cleaned_data.get("version") or 0,
                data=form.client_data(),
            ),
        )
        if result is not None:
            messages.success(request, "Saved.")
            return redirect("clients:summary", client_id=client.public_id)
    return render(
        request,
        "clients/client_form.html",
        {"form": form, "creating": False, "client": client},
        status=_status(form, status),
    )


# --- episodes ----------------------------------------------------------------------------------


@login_required
@GET_POST
def episode_refer_page(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    # The client the new episode belongs to: an empty form, nothing read from the record yet.
    client = client_get(
        actor=actor,
        public_id=client_id,
        category=DataCategory.CLINICAL_RECORD,
        action=Action.CREATE,
    )
    programs = programs_permitting(
        actor=actor, action=Action.CREATE, category=DataCategory.CLINICAL_RECORD
    )
    if not programs:
        raise Forbidden("You may not open episodes in any program.")
    initial = {"program": client.program if client.program in programs else None}
    form = f.EpisodeReferForm(
        request.POST or None,
        organisation=client.organisation,
        programs=programs,
        initial=initial,
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        result, status = _submit(
            form,
            lambda: services.episode_refer(
                actor=actor,
                client=client,
                program=d["program"],
                referral_date=d["referral_date"],
                referral_source=d["referral_source"],
                primary_clinician=d.get("primary_clinician"),
            ),
        )
        if result is not None:
            messages.success(request, "Referral recorded.")
            return redirect("clients:summary", client_id=client.public_id)
    return render(
        request,
        "clients/episode_form.html",
        {"form": form, "client": client, "title": "Refer to a program"},
        status=_status(form, status),
    )


def _episode_page(
    request: HttpRequest,
    episode_id: UUID,
    *,
    make_form: Any,
    run: Any,
    title: str,
    done: str,
    action: Action = Action.UPDATE,
) -> HttpResponse:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=action)
    form = make_form(episode, request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result, status = _submit(form, lambda: run(actor, episode, form))
        if result is not None:
            messages.success(request, done)
            return redirect("clients:summary", client_id=episode.client.public_id)
    return render(
        request,
        "clients/episode_form.html",
        {"form": form, "client": episode.client, "episode": episode, "title": title},
        status=_status(form, status),
    )


@login_required
@GET_POST
def episode_admit_page(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    def run(actor: User, episode: Any, form: f.EpisodeAdmitForm) -> Any:
        d = form.cleaned_data
        return services.episode_admit(
            actor=actor,
            episode=episode,
            version=d["version"],
            admission_date=d["admission_date"],
            level_of_care=d["level_of_care"],
            substances=form.substances(),
            prior_treatment_episodes=d.get("prior_treatment_episodes"),
            employment_status=d.get("employment_status", ""),
            living_arrangement=d.get("living_arrangement", ""),
            arrests_past_30_days=d.get("arrests_past_30_days"),
            primary_clinician=d.get("primary_clinician"),
        )

    return _episode_page(
        request,
        episode_id,
        make_form=lambda e, data: f.EpisodeAdmitForm(
            data,
            organisation=e.organisation,
            initial={"version": e.version, "primary_clinician": e.primary_clinician},
        ),
        run=run,
        title="Admit",
        done="Admitted.",
    )


@login_required
@GET_POST
def episode_discharge_page(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    def run(actor: User, episode: Any, form: f.EpisodeDischargeForm) -> Any:
        d = form.cleaned_data
        return services.episode_discharge(
            actor=actor,
            episode=episode,
            version=d["version"],
            discharge_date=d["discharge_date"],
            discharge_reason=d["discharge_reason"],
            discharge_note=d.get("discharge_note", ""),
        )

    return _episode_page(
        request,
        episode_id,
        make_form=lambda e, data: f.EpisodeDischargeForm(data, initial={"version": e.version}),
        run=run,
        title="Discharge",
        done="Discharged.",
    )


@login_required
@GET_POST
def episode_cancel_page(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    def run(actor: User, episode: Any, form: f.EpisodeCancelForm) -> Any:
        d = form.cleaned_data
        return services.episode_cancel(
            actor=actor, episode=episode, version=d["version"], reason=d.get("reason", "")
        )

    return _episode_page(
        request,
        episode_id,
        make_form=lambda e, data: f.EpisodeCancelForm(data, initial={"version": e.version}),
        run=run,
        title="Cancel referral",
        done="Referral cancelled.",
    )


# --- intake ------------------------------------------------------------------------------------


@login_required
@GET_POST
def sud_assessment_create_page(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.CREATE)
    form = f.SudAssessmentForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        result, status = _submit(
            form,
            lambda: services.sud_assessment_create(
                actor=actor,
                episode=episode,
                substance_class=d["substance_class"],
                answers=form.answers(),
                taken_as_prescribed=bool(d.get("taken_as_prescribed")),
                notes=d.get("notes", ""),
            ),
        )
        if result is not None:
            return redirect("clients:sud_assessment", assessment_id=result.public_id)
    return render(
        request,
        "clients/sud_assessment_form.html",
        {"form": form, "episode": episode, "client": episode.client},
        status=_status(form, status),
    )


@login_required
@GET_POST
def sud_assessment_page(request: HttpRequest, assessment_id: UUID) -> HttpResponse:
    """The checklist's count, severity and proposed code; the clinician confirms or overrides."""
    actor = _actor(request)
    action = Action.CREATE if request.method == "POST" else Action.VIEW
    assessment = sud_assessment_get(actor=actor, public_id=assessment_id, action=action)
    proposal = proposed_code(assessment.substance_class, assessment.severity)
    initial = {"code": proposal.code, "description": proposal.description} if proposal else {}
    form = f.DiagnosisConfirmForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        result, status = _submit(
            form,
            lambda: services.diagnosis_confirm(
                actor=actor,
                assessment=assessment,
                code=d.get("code", ""),
                description=d.get("description", ""),
                override_reason=d.get("override_reason", ""),
            ),
        )
        if result is not None:
            messages.success(request, f"Diagnosis {result.code} confirmed.")
            return redirect("clients:summary", client_id=assessment.client.public_id)
    criteria = [(number, text, getattr(assessment, name)) for name, number, text in dsm5.CRITERIA]
    confirmed = [d for d in assessment.diagnoses.all() if not d.entered_in_error]
    return render(
        request,
        "clients/sud_assessment.html",
        {
            "assessment": assessment,
            "client": assessment.client,
            "criteria": criteria,
            "proposal": proposal,
            "proposal_source": CODE_SOURCE,
            "form": form,
            "confirmed": confirmed,
        },
        status=_status(form, status),
    )


@login_required
@GET_POST
def diagnosis_add_page(request: HttpRequest, client_id: UUID) -> HttpResponse:
    actor = _actor(request)
    client = client_get(
        actor=actor,
        public_id=client_id,
        category=DataCategory.CLINICAL_RECORD,
        action=Action.CREATE,
    )
    episodes = episode_list(actor=actor, client=client)
    form = f.CoOccurringDiagnosisForm(request.POST or None, episodes=episodes)
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        episode = d.get("episode")
        if episode is not None:
            episode.client, episode.organisation = client, client.organisation
        result, status = _submit(
            form,
            lambda: services.diagnosis_add(
                actor=actor,
                client=client,
                episode=episode,
                code=d["code"],
                description=d["description"],
            ),
        )
        if result is not None:
            messages.success(request, f"Diagnosis {result.code} added.")
            return redirect("clients:summary", client_id=client.public_id)
    return render(
        request,
        "clients/diagnosis_form.html",
        {"form": form, "client": client, "title": "Add a co-occurring diagnosis"},
        status=_status(form, status),
    )


@login_required
@GET_POST
def diagnosis_entered_in_error_page(request: HttpRequest, diagnosis_id: UUID) -> HttpResponse:
    actor = _actor(request)
    diagnosis = diagnosis_get(actor=actor, public_id=diagnosis_id, action=Action.UPDATE)
    form = f.EnteredInErrorForm(request.POST or None, initial={"version": diagnosis.version})
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        result, status = _submit(
            form,
            lambda: services.diagnosis_mark_entered_in_error(
                actor=actor, diagnosis=diagnosis, version=d["version"], reason=d["reason"]
            ),
        )
        if result is not None:
            messages.success(request, f"{diagnosis.code} marked entered in error.")
            return redirect("clients:summary", client_id=diagnosis.client.public_id)
    return render(
        request,
        "clients/diagnosis_form.html",
        {
            "form": form,
            "client": diagnosis.client,
            "diagnosis": diagnosis,
            "title": f"Mark {diagnosis.code} entered in error",
        },
        status=_status(form, status),
    )


@login_required
@GET_POST
def asam_create_page(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    episode = episode_get(actor=actor, public_id=episode_id, action=Action.CREATE)
    form = f.AsamAssessmentForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        result, status = _submit(
            form,
            lambda: services.asam_assessment_create(
                actor=actor,
                episode=episode,
                ratings=form.ratings(),
                dimension_notes=form.dimension_notes(),
                level_of_care=d["level_of_care"],
                notes=d.get("notes", ""),
            ),
        )
        if result is not None:
            messages.success(request, "ASAM assessment recorded.")
            return redirect("clients:summary", client_id=episode.client.public_id)
    return render(
        request,
        "clients/asam_form.html",
        {"form": form, "episode": episode, "client": episode.client},
        status=_status(form, status),
    )
