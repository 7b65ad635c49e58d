from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.api import api

admin.site.site_header = "iptcare platform administration"

urlpatterns = [
    # First: Django tries patterns in order, and a client's questionnaire link (m/<secret>/) is
    # the busiest public route. No other app's route overlaps measures' own.
    path("", include("iptcare.measures.urls")),
    path("", include("iptcare.core.urls")),
    path("", include("iptcare.accounts.urls")),
    path("", include("iptcare.audit.urls")),
    path("", include("iptcare.clients.urls")),
    path("", include("iptcare.scheduling.urls")),
    path("", include("iptcare.encounters.urls")),
    path("", include("iptcare.ipt.urls")),
    path("", include("iptcare.plans.urls")),
    path("", include("iptcare.recovery.urls")),
    path("", include("iptcare.portal.urls")),
    path("", include("iptcare.chart.urls")),
    path("api/v1/", api.urls),
    path("django-admin/", admin.site.urls),
]

if settings.IPTCARE_BENCH:
    # Benchmark floor F0: a minimal Django JSON view under the same server and middleware.
    from django.http import HttpRequest, JsonResponse

    def f0(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"ok": True})

    urlpatterns += [path("_bench/f0", f0)]  # type: ignore[list-item]
