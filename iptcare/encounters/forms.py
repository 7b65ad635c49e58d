from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from iptcare.encounters import sections
from iptcare.encounters.models import NoteKind


class NewNoteForm(forms.Form):
    kind = forms.ChoiceField(choices=NoteKind.choices, initial=NoteKind.INDIVIDUAL)
    session_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    sections = forms.MultipleChoiceField(
        label="Modality sections",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(c, sections.REGISTRY[c].label) for c in sections.MODALITY_SECTIONS],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        for code in data.get("sections") or []:
            allowed = sections.REGISTRY[code].kinds
            if kind and allowed and kind not in allowed:
                self.add_error(
                    "sections",
                    f"{sections.REGISTRY[code].label} does not belong "
                    f"in a {NoteKind(kind).label.lower()} note.",
                )
        return data

    def content(self) -> dict[str, dict[str, Any]]:
        kind = self.cleaned_data["kind"]
        if kind == NoteKind.COUNSELLING:
            return {"counselling": {"text": ""}}
        base: dict[str, dict[str, Any]] = {"group": {}} if kind == NoteKind.GROUP else {}
        base["dap"] = {}
        return base | {code: {} for code in self.cleaned_data.get("sections") or []}

    def clean_session_date(self) -> Any:
        value = self.cleaned_data["session_date"]
        if value > timezone.localdate():
            raise forms.ValidationError("The session date cannot be in the future.")
        return value


def section_codes_for(kind: str, content: dict[str, Any]) -> list[str]:
    """The sections an editor shows: those in the note, or the defaults for its kind."""
    if kind == NoteKind.COUNSELLING:
        return ["counselling"]
    codes = ["group", "dap"] if kind == NoteKind.GROUP else ["dap"]
    return codes + [c for c in content if c not in codes and c in sections.REGISTRY]


class NoteEditorForm(forms.Form):
    """Fields named ``<section>__<field>``, built from the section registry."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    session_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, kind: str, content: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section_codes = section_codes_for(kind, content)
        for code in self.section_codes:
            section = sections.REGISTRY[code]
            for spec in section.fields:
                name = f"{code}__{spec.name}"
                if spec.choices and spec.multiple:
                    field: forms.Field = forms.MultipleChoiceField(
                        choices=spec.choices, required=False, widget=forms.CheckboxSelectMultiple
                    )
                elif spec.choices:
                    field = forms.ChoiceField(choices=[("", "—"), *spec.choices], required=False)
                else:
                    field = forms.CharField(
                        required=False,
                        max_length=spec.max_length,
                        widget=forms.Textarea(
                            attrs={"rows": 5, "data-section": code, "data-field": spec.name}
                        ),
                    )
                field.label = f"{spec.label}"
                field.help_text = spec.help_text
                self.fields[name] = field
                self.initial.setdefault(name, content.get(code, {}).get(spec.name, ""))

    def content(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for code in self.section_codes:
            out[code] = {
                spec.name: self.cleaned_data.get(f"{code}__{spec.name}")
                or ([] if spec.multiple else "")
                for spec in sections.REGISTRY[code].fields
            }
        return out


class AddendumForm(forms.Form):
    text = forms.CharField(
        label="Addendum", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000
    )


class EnteredInErrorForm(forms.Form):
    reason = forms.CharField(label="Why is this note in error?", max_length=500)


class AmendmentRequestForm(forms.Form):
    requested_change = forms.CharField(
        label="The client's requested change",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )


class AmendmentDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("accept", "Accept"), ("deny", "Deny")], widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label="Reason (required to deny)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
