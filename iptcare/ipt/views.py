"""Pages: an episode's IPT record (inventory and closeness circle, formulation and problem areas,
contract, phase, conclusion plan) and the printable closeness circle.

Reads go through selectors, writes through services; both ask the access policy. A refused
action re-renders the page with the form's field errors (400, or 409 for a stale edit).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from iptcare.access.vocabulary import Action
from iptcare.accounts.models import User
from iptcare.core.errors import Conflict, DomainError, NotFound
from iptcare.ipt import services
from iptcare.ipt.diff import diff_summary
from iptcare.ipt.forms import (
    ConclusionForm,
    ContractForm,
    FormulationForm,
    OverrideForm,
    PersonForm,
    ProblemAreaForm,
    RemovePersonForm,
    StageForm,
    add_domain_errors,
)
from iptcare.ipt.selectors import IptRecord, ipt_record, problem_area_get
from iptcare.ipt.services import CONCLUSION_FIELDS, PERSON_FIELDS, person_data


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _number(record: IptRecord) -> int:
    return record.latest.number if record.latest else 0


def _page_forms(request: HttpRequest, record: IptRecord) -> dict[str, Any]:
    latest_people = record.people(record.latest)
    editing: Any = None
    if key := request.GET.get("person", ""):
        editing = next((p for p in latest_people if str(p.person_key) == key), None)
    formulation, contract, conclusion = record.formulation, record.contract, record.conclusion
    return {
        "person": PersonForm(initial={"based_on": _number(record)}, prefix="add"),
        "edit": PersonForm(
            initial={**person_data(editing), "based_on": _number(record)}, prefix="edit"
        )
        if editing
        else None,
        "formulation": FormulationForm(
            initial={
                "text": formulation.text if formulation else "",
                "based_on": formulation.version if formulation else 0,
            }
        ),
        "area": ProblemAreaForm(people=latest_people),
        "stage": StageForm(initial={"recorded_on": timezone.localdate()}),
        "contract": ContractForm(
            initial={
                "sessions": contract.sessions if contract else 16,
                "start_date": contract.start_date if contract else timezone.localdate(),
                "planned_end_date": contract.planned_end_date if contract else None,
                "based_on": contract.version if contract else 0,
            }
        ),
        "override": OverrideForm(),
        "conclusion": ConclusionForm(
            initial={
                **{f: getattr(conclusion, f) for f in CONCLUSION_FIELDS if conclusion},
                "based_on": conclusion.version if conclusion else 0,
            }
        ),
    }


def _render(
    request: HttpRequest,
    record: IptRecord,
    *,
    bound: dict[str, Any] | None = None,
    status: int = 200,
    stage_area: UUID | None = None,
) -> HttpResponse:
    page_forms = {**_page_forms(request, record), **(bound or {})}
    latest_people = record.people(record.latest)
    context = {
        "record": record,
        "episode": record.episode,
        "client": record.episode.client,
        "forms": page_forms,
        "stage_area": stage_area,
        "latest_people": latest_people,
        "circle": record.circle(record.latest, id_prefix="circle-latest"),
        "circle_text": record.circle_text(record.latest),
        "first_circle": record.circle(record.first, id_prefix="circle-first")
        if len(record.revisions) > 1
        else "",
        "first_circle_text": record.circle_text(record.first),
        "names": {str(p.person_key): p.name for p in latest_people},
        "diff_summary": diff_summary(record.diff) if record.diff else [],
        "stage_blank": StageForm(initial={"recorded_on": timezone.localdate()}),
        "show_conclusion": bool(
            record.conclusion
            or (
                record.phase
                and (record.phase.termination_prompt or record.phase.phase == "termination")
            )
            or request.GET.get("conclusion")
        ),
    }
    return render(request, "ipt/episode.html", context, status=status)


def _fail(
    request: HttpRequest,
    record: IptRecord,
    name: str,
    form: forms.BaseForm,
    exc: DomainError | None = None,
    stage_area: UUID | None = None,
) -> HttpResponse:
    status = 400
    if exc is not None:
        if exc.status in {403, 404}:
            raise exc
        status = 409 if isinstance(exc, Conflict) else 400
        add_domain_errors(form, exc)
    return _render(request, record, bound={name: form}, status=status, stage_area=stage_area)


def _done(request: HttpRequest, record: IptRecord, message: str, anchor: str) -> HttpResponse:
    messages.success(request, message)
    url = redirect("ipt:episode", episode_id=record.episode.public_id).url
    return redirect(f"{url}#{anchor}")


@login_required
@require_GET
def episode_ipt(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    return _render(request, ipt_record(actor=_actor(request), episode_id=episode_id))


@login_required
@require_GET
def circle_print(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    record = ipt_record(actor=_actor(request), episode_id=episode_id)
    revision = record.latest
    if number := request.GET.get("revision", ""):
        revision = next((r for r in record.revisions if str(r.number) == number), None)
        if revision is None:
            raise NotFound("No such inventory revision.")
    return render(
        request,
        "ipt/circle_print.html",
        {
            "record": record,
            "client": record.episode.client,
            "revision": revision,
            "circle": record.circle(revision, id_prefix="circle-print"),
            "circle_text": record.circle_text(revision),
            "printed_at": timezone.localtime(),
        },
    )


@login_required
@require_POST
def person_save(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    prefix = "edit" if request.POST.get("edit-based_on") is not None else "add"
    form = PersonForm(request.POST, prefix=prefix)
    if not form.is_valid():
        return _fail(request, record, "edit" if prefix == "edit" else "person", form)
    data = {f: form.cleaned_data[f] for f in PERSON_FIELDS}
    try:
        services.inventory_person_save(
            actor=actor,
            episode=record.episode,
            data=data,
            person_key=form.cleaned_data["person_key"],
            based_on=form.cleaned_data["based_on"],
        )
    except DomainError as exc:
        return _fail(request, record, "edit" if prefix == "edit" else "person", form, exc)
    return _done(request, record, f"Inventory saved: {data['name']}.", "inventory")


@login_required
@require_POST
def person_remove(request: HttpRequest, episode_id: UUID, person_key: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    form = RemovePersonForm(request.POST)
    if not form.is_valid():
        return _fail(request, record, "remove", form)
    try:
        services.inventory_person_remove(
            actor=actor,
            episode=record.episode,
            person_key=person_key,
            based_on=form.cleaned_data["based_on"],
        )
    except DomainError as exc:
        if exc.status in {403, 404}:
            raise
        messages.error(request, exc.message)
        return _render(request, record, status=409 if isinstance(exc, Conflict) else 400)
    return _done(
        request, record, "Removed from the inventory (kept in earlier revisions).", "inventory"
    )


@login_required
@require_POST
def formulation_save(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    form = FormulationForm(request.POST)
    if not form.is_valid():
        return _fail(request, record, "formulation", form)
    try:
        services.formulation_save(
            actor=actor,
            episode=record.episode,
            text=form.cleaned_data["text"],
            based_on=form.cleaned_data["based_on"],
        )
    except DomainError as exc:
        return _fail(request, record, "formulation", form, exc)
    return _done(request, record, "Formulation saved as a new version.", "formulation")


@login_required
@require_POST
def problem_area_add(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    form = ProblemAreaForm(request.POST, people=record.people(record.latest))
    if not form.is_valid():
        return _fail(request, record, "area", form)
    data = form.cleaned_data
    try:
        services.problem_area_add(
            actor=actor,
            episode=record.episode,
            kind=data["kind"],
            dispute_person_key=UUID(data["dispute_person_key"])
            if data["dispute_person_key"]
            else None,
            dispute_with=data["dispute_with"],
            stage=data["stage"],
            transition_from=data["transition_from"],
            transition_to=data["transition_to"],
            note=data["note"],
        )
    except DomainError as exc:
        return _fail(request, record, "area", form, exc)
    return _done(request, record, "Problem area chosen.", "formulation")


@login_required
@require_POST
def problem_area_end(request: HttpRequest, episode_id: UUID, area_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    area = next((a for a in record.problem_areas if a.public_id == area_id), None)
    if area is None:
        raise NotFound("No such problem area.")
    try:
        services.problem_area_end(actor=actor, area=area)
    except DomainError as exc:
        if exc.status in {403, 404}:
            raise
        messages.error(request, exc.message)
        return _render(request, record, status=400)
    return _done(request, record, "Problem area ended (it stays on record).", "formulation")


@login_required
@require_POST
def dispute_stage_add(request: HttpRequest, episode_id: UUID, area_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    area = problem_area_get(actor=actor, public_id=area_id, action=Action.UPDATE)
    if area.episode_id != record.episode.pk:
        raise NotFound("No such problem area.")
    form = StageForm(request.POST)
    if not form.is_valid():
        return _fail(request, record, "stage", form, stage_area=area_id)
    try:
        services.dispute_stage_record(
            actor=actor,
            area=area,
            stage=form.cleaned_data["stage"],
            recorded_on=form.cleaned_data["recorded_on"],
            note=form.cleaned_data["note"],
        )
    except DomainError as exc:
        return _fail(request, record, "stage", form, exc, stage_area=area_id)
    return _done(request, record, "Stage of the dispute recorded.", "formulation")


@login_required
@require_POST
def contract_save(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    form = ContractForm(request.POST)
    if not form.is_valid():
        return _fail(request, record, "contract", form)
    data = form.cleaned_data
    try:
        services.contract_save(
            actor=actor,
            episode=record.episode,
            sessions=data["sessions"],
            start_date=data["start_date"],
            planned_end_date=data["planned_end_date"],
            based_on=data["based_on"],
        )
    except DomainError as exc:
        return _fail(request, record, "contract", form, exc)
    return _done(request, record, "Treatment contract saved.", "contract")


@login_required
@require_POST
def override_set(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        return _fail(request, record, "override", form)
    try:
        services.phase_override_set(
            actor=actor,
            episode=record.episode,
            phase=form.cleaned_data["phase"],
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        return _fail(request, record, "override", form, exc)
    return _done(request, record, "Phase override recorded.", "phase")


@login_required
@require_POST
def override_clear(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    try:
        services.phase_override_clear(actor=actor, episode=record.episode)
    except DomainError as exc:
        if exc.status in {403, 404}:
            raise
        messages.error(request, exc.message)
        return _render(request, record, status=400)
    return _done(request, record, "Override cleared: the computed phase applies.", "phase")


@login_required
@require_POST
def conclusion_save(request: HttpRequest, episode_id: UUID) -> HttpResponse:
    actor = _actor(request)
    record = ipt_record(actor=actor, episode_id=episode_id)
    form = ConclusionForm(request.POST)
    if not form.is_valid():
        return _fail(request, record, "conclusion", form)
    try:
        services.conclusion_plan_save(
            actor=actor,
            episode=record.episode,
            based_on=form.cleaned_data["based_on"],
            **{f: form.cleaned_data[f] for f in CONCLUSION_FIELDS},
        )
    except DomainError as exc:
        return _fail(request, record, "conclusion", form, exc)
    return _done(request, record, "Conclusion plan saved as a new version.", "conclusion")
