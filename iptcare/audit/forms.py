from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from iptcare.access.vocabulary import Action
from iptcare.audit.selectors import SORTABLE, AuditFilter

# Report links written before the trail had several chains sorted by "seq"; that order is now
# "chain" (chain, then seq within it: ADR 0014), so an old bookmark still works.
LEGACY_SORT = {"seq": "chain", "-seq": "-chain"}


class AuditFilterForm(forms.Form):
    since = forms.DateField(
        required=False, label="From (date)", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To (date, inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    user = forms.EmailField(required=False, label="User email")
    client = forms.UUIDField(required=False, label="Client id")
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *Action.choices])
    # Set by the column links, not typed: an order the report does not offer (a hand-edited
    # address) falls back to the default, newest first, rather than refusing the whole report
    # with an error on a field nobody sees.
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_sort(self) -> str:
        sort = LEGACY_SORT.get(self.cleaned_data["sort"], self.cleaned_data["sort"])
        return sort if sort.lstrip("-") in SORTABLE else ""

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data

    def to_filter(self, organisation_id: object) -> AuditFilter:
        data = self.cleaned_data
        tz = timezone.get_current_timezone()

        def start(d: object) -> datetime | None:
            return timezone.make_aware(datetime.combine(d, time.min), tz) if d else None  # type: ignore[arg-type]

        until = start(data.get("until"))
        return AuditFilter(
            organisation_id=organisation_id,  # type: ignore[arg-type]
            since=start(data.get("since")),
            until=until + timedelta(days=1) if until else None,
            actor_email=data.get("user") or "",
            client_id=data.get("client"),
            action=data.get("action") or "",
            sort=data.get("sort") or "-occurred_at",
        )
