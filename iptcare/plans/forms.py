from __future__ import annotations

from typing import Any

from django import forms

from iptcare.measures import engine
from iptcare.plans.measure_targets import TARGET_HELP
from iptcare.plans.models import (
    AsamDimension,
    IptProblemArea,
    MedicationIndication,
    Modality,
    SuggestionDecisionKind,
)

DATE = forms.DateInput(attrs={"type": "date"})


class _Versioned(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


class _Child(_Versioned):
    parent = forms.ChoiceField(label="Under")

    def __init__(self, *args: Any, parents: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = parents  # type: ignore[attr-defined]


class ProblemForm(_Versioned):
    text = forms.CharField(label="Problem", max_length=2000, widget=forms.Textarea({"rows": 2}))
    diagnosis = forms.ChoiceField(label="Linked diagnosis", required=False)
    ipt_problem_area = forms.ChoiceField(
        label="IPT problem area", required=False, choices=[("", "—"), *IptProblemArea.choices]
    )
    asam_dimension = forms.TypedChoiceField(
        label="ASAM dimension",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—"), *AsamDimension.choices],
    )

    def __init__(self, *args: Any, diagnoses: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["diagnosis"].choices = [("", "—"), *diagnoses]  # type: ignore[attr-defined]


class GoalForm(_Child):
    text = forms.CharField(
        label="Goal, in the client's words", max_length=2000, widget=forms.Textarea({"rows": 2})
    )


class ObjectiveForm(_Child):
    text = forms.CharField(label="Measurable objective", max_length=2000)
    target_date = forms.DateField(widget=DATE)
    measure_code = forms.ChoiceField(
        label="Measure (optional)",
        required=False,
        choices=(),
        help_text="Link the objective to a measure's score.",
    )
    target_text = forms.CharField(
        label="Target on the measure", max_length=200, required=False, help_text=TARGET_HELP
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instruments = sorted(engine.load_all().values(), key=lambda i: i.title)
        self.fields["measure_code"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (i.code, i.title) for i in instruments if i.total is not None
        ]


class InterventionForm(_Child):
    modality = forms.ChoiceField(choices=Modality.choices)
    frequency = forms.CharField(max_length=100)
    description = forms.CharField(max_length=2000, required=False)
    responsible = forms.ChoiceField(label="Responsible team member", required=False)

    def __init__(self, *args: Any, staff: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["responsible"].choices = [("", "—"), *staff]  # type: ignore[attr-defined]


class MedicationForm(_Versioned):
    name = forms.CharField(label="Medication", max_length=120)
    dose = forms.CharField(max_length=120, required=False)
    indication = forms.ChoiceField(label="For", choices=MedicationIndication.choices)
    prescriber = forms.ChoiceField(label="Prescriber (this program)", required=False)
    outside_prescriber = forms.CharField(
        label="…or prescriber outside the program", max_length=200, required=False
    )
    start_date = forms.DateField(widget=DATE, required=False)
    stop_date = forms.DateField(widget=DATE, required=False)

    def __init__(self, *args: Any, staff: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prescriber"].choices = [("", "—"), *staff]  # type: ignore[attr-defined]


class RemoveForm(_Versioned):
    key = forms.UUIDField(widget=forms.HiddenInput)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=SuggestionDecisionKind.choices)
    note = forms.CharField(max_length=500, required=False)
