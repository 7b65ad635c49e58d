"""Page forms. They check the shape of the input; the rules live in the services."""

from __future__ import annotations

from typing import Any

from django import forms

from iptcare.core.errors import DomainError
from iptcare.ipt.models import (
    DEFAULT_CONTRACT_SESSIONS,
    MAX_CONTRACT_SESSIONS,
    MIN_CONTRACT_SESSIONS,
    Answer,
    ContactFrequency,
    DisputeStage,
    InventoryPerson,
    Phase,
    ProblemAreaKind,
    Ring,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TEXT = forms.Textarea(attrs={"rows": 2})


class PersonForm(forms.ModelForm):
    person_key = forms.UUIDField(required=False, widget=forms.HiddenInput)
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    class Meta:
        model = InventoryPerson
        fields = [
            "name",
            "relation",
            "ring",
            "contact_frequency",
            "satisfying",
            "unsatisfying",
            "expectations",
            "expectations_met",
            "conflicts",
            "conflicts_resolve",
            "can_discuss",
            "cannot_discuss",
            "knows_about_use",
            "uses_with_client",
            "supports_recovery",
            "is_risk",
        ]
        widgets = {
            f: TEXT
            for f in (
                "satisfying",
                "unsatisfying",
                "expectations",
                "conflicts",
                "can_discuss",
                "cannot_discuss",
            )
        }
        help_texts = {"name": "A first name or an alias is enough."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ring"].choices = Ring.choices  # type: ignore[attr-defined]
        self.fields["contact_frequency"].choices = ContactFrequency.choices  # type: ignore[attr-defined]
        for name in ("expectations_met", "conflicts_resolve", "knows_about_use"):
            self.fields[name].choices = Answer.choices  # type: ignore[attr-defined]


class RemovePersonForm(forms.Form):
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class FormulationForm(forms.Form):
    text = forms.CharField(
        label="Interpersonal formulation",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Link the symptoms and the substance use to the chosen problem area.",
    )
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class ProblemAreaForm(forms.Form):
    kind = forms.ChoiceField(label="Problem area", choices=ProblemAreaKind.choices)
    dispute_person_key = forms.TypedChoiceField(
        label="Role dispute with (from the inventory)",
        required=False,
        choices=[("", "—")],
        empty_value=None,
    )
    dispute_with = forms.CharField(label="…or with (free text)", max_length=80, required=False)
    stage = forms.ChoiceField(
        label="Stage of the dispute", choices=[("", "—"), *DisputeStage.choices], required=False
    )
    transition_from = forms.CharField(label="Role transition from", max_length=120, required=False)
    transition_to = forms.CharField(label="Role transition to", max_length=120, required=False)
    note = forms.CharField(widget=TEXT, required=False)

    def __init__(self, *args: Any, people: list[InventoryPerson], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dispute_person_key"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            *((str(p.person_key), f"{p.name} ({p.relation})") for p in people),
        ]


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=DisputeStage.choices)
    recorded_on = forms.DateField(label="Date", widget=DATE)
    note = forms.CharField(max_length=500, required=False)


class ContractForm(forms.Form):
    sessions = forms.IntegerField(
        label="Agreed IPT sessions",
        initial=DEFAULT_CONTRACT_SESSIONS,
        help_text=f"{MIN_CONTRACT_SESSIONS}-{MAX_CONTRACT_SESSIONS}; 16 is usual.",
    )
    start_date = forms.DateField(label="Start date", widget=DATE)
    planned_end_date = forms.DateField(
        label="Planned end date",
        widget=DATE,
        required=False,
        help_text="Empty: weekly sessions from the start date.",
    )
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class OverrideForm(forms.Form):
    phase = forms.ChoiceField(choices=Phase.choices)
    reason = forms.CharField(max_length=500)


class ConclusionForm(forms.Form):
    gains = forms.CharField(label="Gains made", widget=TEXT, required=False)
    depression_warning_signs = forms.CharField(
        label="Warning signs of depression", widget=TEXT, required=False
    )
    use_warning_signs = forms.CharField(
        label="Warning signs of a return to use", widget=TEXT, required=False
    )
    continuation_plan = forms.CharField(
        label="Continuation / maintenance plan", widget=TEXT, required=False
    )
    other_treatment = forms.CharField(
        label="Another treatment, if not improved", widget=TEXT, required=False
    )
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


def add_domain_errors(form: forms.BaseForm, exc: DomainError) -> None:
    """Put a service's field errors on the form's fields (or on the form as a whole)."""
    if not exc.field_errors:
        form.add_error(None, exc.message)
        return
    for name, messages in exc.field_errors.items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)
