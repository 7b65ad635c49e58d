"""Page forms. They validate input at the edge; the services validate again and decide."""

from __future__ import annotations

from typing import Any

from django import forms

from iptcare.accounts.models import User
from iptcare.clients import dsm5
from iptcare.clients.choices import (
    ASAM_DIMENSIONS,
    Arrests,
    AsamRisk,
    DischargeReason,
    Employment,
    Frequency,
    LevelOfCare,
    LivingArrangement,
    PriorTreatment,
    ReferralSource,
    Route,
    TedsSubstance,
)
from iptcare.clients.icd10_sud import SubstanceClass
from iptcare.clients.models import Client, Episode
from iptcare.clients.services import CLIENT_FIELDS, SubstanceIn
from iptcare.core.models import Organisation, Program

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _blank(choices: list[tuple[Any, str]], label: str = "—") -> list[tuple[Any, str]]:
    return [("", label), *choices]


class ClientForm(forms.ModelForm):
    program = forms.ModelChoiceField(queryset=Program.objects.none(), required=True)
    confirm_duplicate = forms.BooleanField(
        required=False,
        label="This is a different person: create anyway",
        widget=forms.HiddenInput,
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Client
        fields = list(CLIENT_FIELDS)
        widgets = {"date_of_birth": DATE}
        help_texts = {"record_number": "Leave empty to number the client automatically."}

    def __init__(
        self,
        *args: Any,
        programs: list[Program] | None = None,
        editing: bool = False,
        show_confirm: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["record_number"].required = False
        if editing:
            del self.fields["program"]
            del self.fields["confirm_duplicate"]
        else:
            del self.fields["version"]
            ids = [p.pk for p in programs or []]
            self.fields["program"].queryset = Program.objects.filter(  # type: ignore[attr-defined]
                pk__in=ids
            )
            if show_confirm:
                self.fields["confirm_duplicate"].widget = forms.CheckboxInput()

    def client_data(self) -> dict[str, Any]:
        return {k: self.cleaned_data.get(k) for k in CLIENT_FIELDS if k in self.cleaned_data}


def _staff_choices(organisation: Organisation) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=User.objects.staff()
        .filter(organisation=organisation, is_active=True)
        .order_by("full_name"),
        required=False,
        label="Primary clinician",
    )


class EpisodeReferForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    referral_date = forms.DateField(widget=DATE)
    referral_source = forms.ChoiceField(choices=_blank(ReferralSource.choices))
    primary_clinician = forms.ModelChoiceField(queryset=User.objects.none(), required=False)

    def __init__(
        self, *args: Any, organisation: Organisation, programs: list[Program], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(  # type: ignore[attr-defined]
            pk__in=[p.pk for p in programs]
        )
        self.fields["primary_clinician"] = _staff_choices(organisation)


def _substance_fields(rank: int, required: bool) -> dict[str, forms.Field]:
    name = {1: "Primary", 2: "Secondary", 3: "Tertiary"}[rank]
    return {
        f"substance_{rank}": forms.ChoiceField(
            choices=_blank(TedsSubstance.choices), required=required, label=f"{name} substance"
        ),
        f"route_{rank}": forms.ChoiceField(
            choices=_blank(Route.choices), required=False, label=f"{name}: route"
        ),
        f"frequency_{rank}": forms.ChoiceField(
            choices=_blank(Frequency.choices), required=False, label=f"{name}: frequency"
        ),
        f"age_{rank}": forms.IntegerField(
            min_value=0, max_value=100, required=False, label=f"{name}: age at first use"
        ),
    }


class EpisodeAdmitForm(forms.Form):
    admission_date = forms.DateField(widget=DATE)
    level_of_care = forms.ChoiceField(choices=_blank(LevelOfCare.choices), label="Level of care")
    prior_treatment_episodes = forms.TypedChoiceField(
        choices=_blank(PriorTreatment.choices), coerce=int, empty_value=None, required=False
    )
    employment_status = forms.ChoiceField(choices=_blank(Employment.choices), required=False)
    living_arrangement = forms.ChoiceField(
        choices=_blank(LivingArrangement.choices), required=False
    )
    arrests_past_30_days = forms.TypedChoiceField(
        choices=_blank(Arrests.choices),
        coerce=int,
        empty_value=None,
        required=False,
        label="Arrests in the past 30 days",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["primary_clinician"] = _staff_choices(organisation)
        for rank in (1, 2, 3):
            self.fields.update(_substance_fields(rank, required=rank == 1))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for rank in (1, 2, 3):
            if data.get(f"substance_{rank}"):
                for part in ("route", "frequency"):
                    if not data.get(f"{part}_{rank}"):
                        self.add_error(f"{part}_{rank}", "Required for this substance.")
        return data

    def substances(self) -> list[SubstanceIn]:
        d = self.cleaned_data
        return [
            SubstanceIn(
                rank=rank,
                substance=d[f"substance_{rank}"],
                route=d[f"route_{rank}"],
                frequency=d[f"frequency_{rank}"],
                age_of_first_use=d.get(f"age_{rank}"),
            )
            for rank in (1, 2, 3)
            if d.get(f"substance_{rank}")
        ]


class EpisodeDischargeForm(forms.Form):
    discharge_date = forms.DateField(widget=DATE)
    discharge_reason = forms.ChoiceField(choices=_blank(DischargeReason.choices))
    discharge_note = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)


class EpisodeCancelForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, label="Why the referral ended")
    version = forms.IntegerField(widget=forms.HiddenInput)


class SudAssessmentForm(forms.Form):
    substance_class = forms.ChoiceField(choices=_blank(SubstanceClass.choices))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, number, text in dsm5.CRITERIA:
            self.fields[name] = forms.BooleanField(required=False, label=f"{number}. {text}")
        self.fields["taken_as_prescribed"] = forms.BooleanField(
            required=False,
            label="Taken only as prescribed under medical supervision "
            "(tolerance and withdrawal then do not count)",
        )
        self.fields["notes"] = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3}), required=False
        )

    def answers(self) -> dict[str, bool]:
        return {name: bool(self.cleaned_data.get(name)) for name in dsm5.CRITERION_FIELDS}


class DiagnosisConfirmForm(forms.Form):
    code = forms.CharField(
        max_length=10,
        required=False,
        label="ICD-10-CM code",
        help_text="Leave as proposed to confirm, or enter another code with a reason.",
    )
    description = forms.CharField(max_length=300, required=False)
    override_reason = forms.CharField(max_length=500, required=False, label="Reason for override")


class CoOccurringDiagnosisForm(forms.Form):
    code = forms.CharField(max_length=10, label="ICD-10-CM code", help_text="For example F41.1")
    description = forms.CharField(max_length=300)
    episode = forms.ModelChoiceField(queryset=Episode.objects.none(), required=False)

    def __init__(self, *args: Any, episodes: list[Episode], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["episode"].queryset = Episode.objects.filter(  # type: ignore[attr-defined]
            pk__in=[e.pk for e in episodes]
        ).select_related("program")
        self.fields["episode"].to_field_name = "public_id"  # type: ignore[attr-defined]


class EnteredInErrorForm(forms.Form):
    reason = forms.CharField(max_length=500)
    version = forms.IntegerField(widget=forms.HiddenInput)


class AsamAssessmentForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for prefix, label in ASAM_DIMENSIONS:
            self.fields[f"{prefix}_rating"] = forms.TypedChoiceField(
                choices=_blank(AsamRisk.choices), coerce=int, label=f"{label}: risk rating"
            )
            self.fields[f"{prefix}_notes"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Notes"
            )
        self.fields["level_of_care"] = forms.ChoiceField(
            choices=_blank(LevelOfCare.choices),
            label="Level of care (the clinician's decision)",
        )
        self.fields["notes"] = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3}), required=False
        )

    def ratings(self) -> dict[str, int]:
        return {p: self.cleaned_data[f"{p}_rating"] for p, _ in ASAM_DIMENSIONS}

    def dimension_notes(self) -> dict[str, str]:
        return {p: self.cleaned_data.get(f"{p}_notes", "") for p, _ in ASAM_DIMENSIONS}
