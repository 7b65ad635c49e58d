from django.urls import path

from iptcare.chart import views as chart_views
from iptcare.clients import views

app_name = "clients"

urlpatterns = [
    path("programs/<uuid:program_id>/clients/", views.program_clients, name="program_clients"),
    path("clients/", views.client_search_page, name="search"),
    path("clients/new/", views.client_create_page, name="create"),
    # The chart composes clients, scheduling and notes (iptcare/chart).
    path("clients/<uuid:client_id>/", chart_views.chart_page, name="summary"),
    path("clients/<uuid:client_id>/edit/", views.client_edit_page, name="edit"),
    path("clients/<uuid:client_id>/episodes/new/", views.episode_refer_page, name="episode_refer"),
    path("clients/<uuid:client_id>/diagnoses/new/", views.diagnosis_add_page, name="diagnosis_add"),
    path("episodes/<uuid:episode_id>/admit/", views.episode_admit_page, name="episode_admit"),
    path(
        "episodes/<uuid:episode_id>/discharge/",
        views.episode_discharge_page,
        name="episode_discharge",
    ),
    path("episodes/<uuid:episode_id>/cancel/", views.episode_cancel_page, name="episode_cancel"),
    path(
        "episodes/<uuid:episode_id>/sud-assessments/new/",
        views.sud_assessment_create_page,
        name="sud_assessment_create",
    ),
    path(
        "sud-assessments/<uuid:assessment_id>/",
        views.sud_assessment_page,
        name="sud_assessment",
    ),
    path(
        "diagnoses/<uuid:diagnosis_id>/entered-in-error/",
        views.diagnosis_entered_in_error_page,
        name="diagnosis_entered_in_error",
    ),
    path("episodes/<uuid:episode_id>/asam/new/", views.asam_create_page, name="asam_create"),
]
