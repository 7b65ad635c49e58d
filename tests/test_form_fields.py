"""The shared form template (templates/form_fields.html): what a screen reader is pointed to."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_a_field_rendered_on_its_own_points_to_its_errors_too() -> None:
    """Tables and fieldsets render ``{{ field }}`` themselves and their errors through
    templates/field_errors.html: the widget's aria-describedby finds them."""
    form = _Form({"hours": "x"})
    assert not form.is_valid()
    html = str(form["hours"]) + render_to_string("field_errors.html", {"field": form["hours"]})
    assert 'aria-describedby="id_hours_helptext id_hours_error"' in html
    assert '<div id="id_hours_error"><p class="field-error">Enter a whole number.</p></div>' in html
    assert render_to_string("field_errors.html", {"field": _Form({"hours": "3"})["hours"]}) == ""


def test_every_template_shows_field_errors_through_the_one_snippet() -> None:
    root = Path(__file__).resolve().parent.parent / "templates"
    elsewhere = [
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        if path.name != "field_errors.html" and 'class="field-error"' in path.read_text()
    ]
    assert elsewhere == []
