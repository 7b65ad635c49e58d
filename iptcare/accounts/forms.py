from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from iptcare.access.vocabulary import Role
from iptcare.core.models import Organisation, Program


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong email or password. Accounts lock after repeated failures.",
    }


class TOTPCodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from your authenticator app",
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9]{6}",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        if not code.isdigit():
            raise forms.ValidationError("The code is 6 digits.")
        return code


class StaffForm(forms.Form):
    email = forms.EmailField(max_length=254)
    full_name = forms.CharField(max_length=200)
    roles = forms.MultipleChoiceField(
        choices=Role.choices, widget=forms.CheckboxSelectMultiple, required=True
    )
    programs = forms.ModelMultipleChoiceField(
        queryset=Program.objects.none(), widget=forms.CheckboxSelectMultiple, required=False
    )
    is_trainee = forms.BooleanField(
        required=False, label="Trainee (notes need a supervisor's co-signature)"
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self, *args: Any, organisation: Organisation, editing: bool = False, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.fields["programs"].queryset = Program.objects.filter(  # type: ignore[attr-defined]
            organisation=organisation, is_active=True
        )
        if editing:
            self.fields["email"].disabled = True
        else:
            del self.fields["is_active"]
            del self.fields["version"]

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()
