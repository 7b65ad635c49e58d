from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms

from iptcare.measures import engine, schedules


def field_name(number: str) -> str:
    return f"item_{number}"


def posted_answers(data: Mapping[str, Any], instrument: engine.Instrument) -> dict[str, str]:
    """The answers of a posted questionnaire, exactly as ``QuestionnaireForm.answers()`` reads
    them (item number -> the option code as posted; a skipped item is left out), without
    building the form: the engine validates them."""
    answers: dict[str, str] = {}
    for item in instrument.items:
        value = data.get(field_name(item.number))
        if value:
            answers[item.number] = str(value)
    return answers


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


class ScheduleForm(forms.Form):
    """One row of occasions per shipped instrument; an instrument with none is not scheduled.

    Field names are ``<code>__<occasion>``; the service's errors (``<code>.<occasion>``) map
    back onto them."""

    OCCASIONS = ("at_admission", "every_sessions", "every_days", "at_discharge")

    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(
        self, *args: Any, rules: Sequence[schedules.ScheduleRule] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        current = {r.instrument: r for r in rules}
        self.instruments = sorted(engine.load_all().values(), key=lambda i: i.title)
        for instrument in self.instruments:
            code, rule = instrument.code, current.get(instrument.code)
            name = instrument.code.upper()
            self.fields[f"{code}__at_admission"] = forms.BooleanField(
                required=False,
                label="At admission",
                initial=bool(rule and rule.at_admission),
                widget=forms.CheckboxInput(attrs={"aria-label": f"{name}: at admission"}),
            )
            self.fields[f"{code}__every_sessions"] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=schedules.MAX_EVERY_SESSIONS,
                label="Every N sessions",
                initial=rule.every_sessions if rule else None,
                widget=forms.NumberInput(attrs={"aria-label": f"{name}: every N sessions"}),
            )
            self.fields[f"{code}__every_days"] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=schedules.MAX_EVERY_DAYS,
                label="Every N days",
                initial=rule.every_days if rule else None,
                widget=forms.NumberInput(attrs={"aria-label": f"{name}: every N days"}),
            )
            self.fields[f"{code}__at_discharge"] = forms.BooleanField(
                required=False,
                label="At discharge",
                initial=bool(rule and rule.at_discharge),
                widget=forms.CheckboxInput(attrs={"aria-label": f"{name}: at discharge"}),
            )

    def rows(self) -> list[tuple[engine.Instrument, list[forms.BoundField]]]:
        """For the template: each instrument with its four bound fields."""
        return [
            (i, [self[f"{i.code}__{occasion}"] for occasion in self.OCCASIONS])
            for i in self.instruments
        ]

    def rules(self) -> list[schedules.ScheduleRule]:
        data = self.cleaned_data
        rules = [
            schedules.ScheduleRule(
                instrument=i.code,
                at_admission=bool(data.get(f"{i.code}__at_admission")),
                every_sessions=data.get(f"{i.code}__every_sessions"),
                every_days=data.get(f"{i.code}__every_days"),
                at_discharge=bool(data.get(f"{i.code}__at_discharge")),
            )
            for i in self.instruments
        ]
        return [r for r in rules if not r.is_empty]

    def add_service_errors(self, field_errors: Mapping[str, Sequence[str]]) -> None:
        for key, errors in field_errors.items():
            name = key.replace(".", "__")
            for error in errors:
                self.add_error(name if name in self.fields else None, error)
