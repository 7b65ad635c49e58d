from django.urls import path

from iptcare.recovery import views

app_name = "recovery"

urlpatterns = [
    path("clients/<uuid:client_id>/recovery/", views.client_recovery, name="client"),
    path("clients/<uuid:client_id>/recovery/screens/", views.screen_new, name="screen_new"),
    path("clients/<uuid:client_id>/recovery/days/", views.use_days, name="use_days"),
    path(
        "clients/<uuid:client_id>/recovery/return-to-use/",
        views.return_report,
        name="return_report",
    ),
    path("screens/<uuid:screen_id>/", views.screen_detail, name="screen"),
]
