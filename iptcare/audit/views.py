from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from iptcare.access.policy import authorize
from iptcare.access.vocabulary import Action, DataCategory, Purpose
from iptcare.accounts.models import User
from iptcare.audit.forms import AuditFilterForm
from iptcare.audit.selectors import SORTABLE, audit_events
from iptcare.core.errors import NotFound

CSV_COLUMNS = (
    "chain",
    "seq",
    "occurred_at",
    "actor_email",
    "actor_role",
    "organisation_id",
    "client_id",
    "data_category",
    "action",
    "resource_type",
    "resource_id",
    "purpose",
    "outcome",
    "reason",
    "request_id",
    "ip",
    "user_agent",
    "hash",
)


def _organisation(user: User):  # type: ignore[no-untyped-def]
    if user.organisation is None:
        raise NotFound("No organisation.")
    return user.organisation


@login_required
def report(request: HttpRequest) -> HttpResponse:
    """ONC 170.315(d)(3): audit report by time range, user, client and action, sortable."""
    user: User = request.user  # type: ignore[assignment]
    org = _organisation(user)
    form = AuditFilterForm(request.GET or None)
    valid = form.is_valid() if form.is_bound else True
    if not form.is_bound:
        form = AuditFilterForm({})
        form.is_valid()
    authorize(
        user,
        Action.LIST,
        org,
        DataCategory.AUDIT_TRAIL,
        Purpose.AUDIT,
        detail={"filters": {k: str(v) for k, v in request.GET.items()}},
    )
    page = None
    sort = "-occurred_at"
    if valid:
        filt = form.to_filter(org.public_id)
        sort = filt.sort
        page = Paginator(audit_events(filt), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    columns = [
        {
            "field": f,
            "label": "chain:seq" if f == "chain" else f.replace("_", " "),
            "next_sort": f if sort == f"-{f}" else f"-{f}",
            "active": sort.lstrip("-") == f,
            "desc": sort.startswith("-"),
        }
        for f in SORTABLE
    ]
    return render(
        request,
        "audit/report.html",
        {"form": form, "page": page, "columns": columns, "query": query.urlencode(), "sort": sort},
        status=200 if valid else 400,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def export_csv(request: HttpRequest) -> HttpResponseBase:
    """The report's rows as CSV. The export itself is an audited event."""
    user: User = request.user  # type: ignore[assignment]
    org = _organisation(user)
    form = AuditFilterForm(request.GET or {})
    if not form.is_valid():
        return render(
            request, "audit/report.html", {"form": form, "page": None, "columns": []}, status=400
        )
    filt = form.to_filter(org.public_id)
    authorize(
        user,
        Action.EXPORT,
        org,
        DataCategory.AUDIT_TRAIL,
        Purpose.AUDIT,
        detail={"filters": {k: str(v) for k, v in request.GET.items()}, "format": "csv"},
    )
    writer = csv.writer(_Echo())

    def rows():  # type: ignore[no-untyped-def]
        yield writer.writerow(CSV_COLUMNS)
        for event in audit_events(filt).iterator(chunk_size=2000):
            yield writer.writerow([_csv_safe(getattr(event, c)) for c in CSV_COLUMNS])

    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="iptcare-audit-{stamp}.csv"'
    return response


def _csv_safe(value: object) -> str:
    """Neutralise spreadsheet formula injection (a user agent like '=HYPERLINK(...)')."""
    text = (
        "" if value is None else (value.isoformat() if hasattr(value, "isoformat") else str(value))
    )
    if text[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + text
    return text
