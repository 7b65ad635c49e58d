from django.urls import path

from iptcare.chart import settings_views, views

app_name = "chart"

urlpatterns = [
    path("caseload/", views.caseload_page, name="caseload"),
    path(
        "programs/<uuid:program_id>/settings/",
        settings_views.program_settings,
        name="program_settings",
    ),
]
