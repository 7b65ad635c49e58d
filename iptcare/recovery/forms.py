"""Page forms. They check the shape of the input; the rules live in the services."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from iptcare.recovery.models import MAX_AMOUNT, MAX_NOTE, Specimen, UseDay, UseDaySource
from iptcare.recovery.services import ResultInput, UseDayInput
from iptcare.recovery.substances import DEFAULT_PANEL, Analyte, Substance

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NOT_TESTED = ""
POSITIVE_EXPECTED = "positive_expected"
RESULT_CHOICES = [
    (NOT_TESTED, "Not tested"),
    ("negative", "Negative"),
    ("positive", "Positive"),
    (POSITIVE_EXPECTED, "Positive, expected (prescribed)"),
    ("invalid", "Invalid"),
]
DAY_CHOICES = [("", "—"), ("no", "No use"), ("yes", "Used")]


def _analytes() -> list[str]:
    """The default panel first, then the rest of the list."""
    return [*DEFAULT_PANEL, *(a for a in Analyte.values if a not in DEFAULT_PANEL)]


class DrugScreenForm(forms.Form):
    collected_at = forms.DateTimeField(label="Collected at", widget=DATETIME_WIDGET)
    specimen = forms.ChoiceField(choices=Specimen.choices, initial=Specimen.URINE)
    expected_reason = forms.CharField(
        max_length=200,
        required=False,
        label="Why expected",
        help_text="For results marked “expected”: the prescription that explains them. "
        "Buprenorphine and methadone in the client's active plan are recognised by themselves.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(Analyte.choices)
        for analyte in _analytes():
            self.fields[f"result_{analyte}"] = forms.ChoiceField(
                choices=RESULT_CHOICES, required=False, label=labels[analyte]
            )
        if not self.is_bound:
            self.initial.setdefault("collected_at", timezone.localtime().replace(second=0))

    def result_fields(self) -> list[forms.BoundField]:
        return [self[f"result_{a}"] for a in _analytes()]

    def clean_notes(self) -> str:
        notes: str = self.cleaned_data["notes"]
        if len(notes) > MAX_NOTE:
            raise forms.ValidationError(f"Keep the notes under {MAX_NOTE} characters.")
        return notes

    def results(self) -> list[ResultInput]:
        reason = self.cleaned_data.get("expected_reason", "")
        out = []
        for analyte in _analytes():
            value = self.cleaned_data.get(f"result_{analyte}", NOT_TESTED)
            if value == NOT_TESTED:
                continue
            expected = value == POSITIVE_EXPECTED
            out.append(
                ResultInput(
                    analyte=analyte,
                    result="positive" if expected else value,
                    expected=expected,
                    expected_reason=reason if expected else "",
                )
            )
        return out


class UseDaysForm(forms.Form):
    """One month of one substance: per day, no use / used (and how much), or not asked."""

    substance = forms.ChoiceField(choices=Substance.choices, widget=forms.HiddenInput)
    month = forms.CharField(widget=forms.HiddenInput)
    source = forms.ChoiceField(
        choices=UseDaySource.choices, initial=UseDaySource.CLINICIAN_INTERVIEW
    )

    def __init__(
        self,
        *args: Any,
        days: list[date],
        recorded: dict[date, UseDay],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.days = days
        for day in days:
            row = recorded.get(day)
            key = day.isoformat()
            self.fields[f"day_{key}"] = forms.ChoiceField(
                choices=DAY_CHOICES,
                required=False,
                label=f"{day:%a %d}",
                initial=("yes" if row.used else "no") if row else "",
            )
            self.fields[f"amount_{key}"] = forms.CharField(
                max_length=MAX_AMOUNT,
                required=False,
                label=f"Amount on {day:%a %d}",
                initial=row.amount if row else "",
            )
            self.fields[f"version_{key}"] = forms.IntegerField(
                required=False, widget=forms.HiddenInput, initial=row.version if row else None
            )

    def rows(self) -> list[tuple[date, forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (
                d,
                self[f"day_{d.isoformat()}"],
                self[f"amount_{d.isoformat()}"],
                self[f"version_{d.isoformat()}"],
            )
            for d in self.days
        ]

    def entries(self) -> list[UseDayInput]:
        substance = self.cleaned_data["substance"]
        out = []
        for day in self.days:
            key = day.isoformat()
            value = self.cleaned_data.get(f"day_{key}", "")
            if not value:
                continue
            out.append(
                UseDayInput(
                    day=day,
                    substance=substance,
                    used=value == "yes",
                    amount=self.cleaned_data.get(f"amount_{key}", ""),
                    version=self.cleaned_data.get(f"version_{key}"),
                )
            )
        return out


class ReturnToUseForm(forms.Form):
    date = forms.DateField(widget=DATE_WIDGET)
    substance = forms.ChoiceField(choices=Substance.choices)
    after_abstinent_days = forms.IntegerField(
        min_value=0,
        max_value=36_500,
        required=False,
        label="Abstinent days before",
        help_text="If known from the interview; left empty, it is counted from the calendar.",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class MarkExpectedForm(forms.Form):
    analytes = forms.MultipleChoiceField(
        choices=(), widget=forms.CheckboxSelectMultiple, label="Positive results to mark expected"
    )
    reason = forms.CharField(max_length=200, label="Why they are expected")
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, positives: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["analytes"].choices = positives  # type: ignore[attr-defined]
