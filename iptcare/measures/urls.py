from django.urls import path

from iptcare.measures import kiosk, views

app_name = "measures"

urlpatterns = [
    path("m/<str:secret>/", views.link_page, name="link"),  # first: see config/urls.py
    path("clients/<uuid:client_id>/measures/", views.measures_page, name="client"),
    path(
        "clients/<uuid:client_id>/measures/<slug:code>/new/",
        views.administer_page,
        name="administer",
    ),
    path("clients/<uuid:client_id>/measures/link/", views.link_issue_page, name="link_issue"),
    path("clients/<uuid:client_id>/measures/<slug:code>/kiosk/", kiosk.kiosk_page, name="kiosk"),
    path(
        "episodes/<uuid:episode_id>/measures/schedule/",
        views.schedule_page,
        name="schedule",
    ),
    path("alerts/", views.alert_inbox_page, name="inbox"),
    path("alerts/<uuid:alert_id>/", views.alert_page, name="alert"),
]
