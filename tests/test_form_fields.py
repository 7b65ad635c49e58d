"""The shared form template (templates/form_fields.html): what a screen reader is pointed to."""

from __future__ import annotations

import re

from django import forms
from django.template.loader import render_to_string


class _Form(forms.Form):
    hours = forms.IntegerField(min_value=1, help_text="How long the link works.")
    email = forms.EmailField(required=False)


def test_every_id_named_by_aria_describedby_is_on_the_page() -> None:
    form = _Form({"hours": "0", "email": "not-an-email"})
    assert not form.is_valid()
    html = render_to_string("form_fields.html", {"form": form})
    described = re.findall(r'aria-describedby="([^"]+)"', html)
    assert len(described) == 2  # both fields are invalid
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    for names in described:
        for name in names.split():
            assert name in ids, f"aria-describedby names {name!r}, which is not on the page"
    assert html.count('id="id_hours_error"') == 1
    assert "Ensure this value is greater than or equal to 1." in html
    assert "Enter a valid email address." in html
