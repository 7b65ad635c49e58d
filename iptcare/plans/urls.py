from django.urls import path

from iptcare.plans import views

app_name = "plans"

urlpatterns = [
    path("episodes/<uuid:episode_id>/plan/", views.plan_page, name="plan"),
    path(
        "episodes/<uuid:episode_id>/plan/new-version/",
        views.plan_new_version,
        name="new_version",
    ),
    path("plans/<uuid:plan_id>/edit/", views.plan_edit, name="edit"),
    path("plans/<uuid:plan_id>/sign/", views.plan_sign, name="sign"),
    path("plans/<uuid:plan_id>/acknowledge/", views.plan_acknowledge, name="acknowledge"),
    path("plans/<uuid:plan_id>/cosign/", views.plan_cosign, name="cosign"),
    path(
        "plans/<uuid:plan_id>/suggestions/<slug:rule>/",
        views.suggestion_decide,
        name="suggestion_decide",
    ),
    path("plans/<uuid:plan_id>/diff/<uuid:other_id>/", views.plan_diff, name="diff"),
    path("plans/<uuid:plan_id>/print/", views.plan_print, name="print"),
]
