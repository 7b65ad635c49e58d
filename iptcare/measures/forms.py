from __future__ import annotations

from typing import Any

from django import forms

from iptcare.measures import engine


def field_name(number: str) -> str:
    return f"item_{number}"


class QuestionnaireForm(forms.Form):
    """One radio group per item, built from the instrument's data. Items may be skipped: the
    engine then applies the instrument's missing-item rule (often: no total, marked incomplete)."""

    def __init__(self, *args: Any, instrument: engine.Instrument, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        for item in instrument.items:
            self.fields[field_name(item.number)] = forms.ChoiceField(
                label=f"{item.number}. {item.text}",
                choices=[(o.code, o.display) for o in item.options],
                widget=forms.RadioSelect,
                required=False,
            )

    def answers(self) -> dict[str, str]:
        return {
            item.number: self.cleaned_data[field_name(item.number)]
            for item in self.instrument.items
            if self.cleaned_data.get(field_name(item.number))
        }

    def add_answer_errors(self, errors: dict[str, str]) -> None:
        for number, message in errors.items():
            name = field_name(number)
            self.add_error(name if name in self.fields else None, message)


class LinkForm(forms.Form):
    instrument = forms.ChoiceField(choices=())
    hours = forms.IntegerField(
        min_value=1, max_value=24 * 14, initial=72, help_text="How long the link works (hours)."
    )
    email = forms.EmailField(
        required=False,
        help_text="Optional. The email says only that the care team asks for a short "
        "questionnaire — nothing clinical.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [  # type: ignore[attr-defined]
            (i.code, i.title) for i in sorted(engine.load_all().values(), key=lambda i: i.title)
        ]


class AlertActionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Action note")
