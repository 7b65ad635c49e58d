from django.urls import path

from iptcare.clients import views

app_name = "clients"

urlpatterns = [
    path("programs/<uuid:program_id>/clients/", views.program_clients, name="program_clients"),
    path("clients/<uuid:client_id>/", views.client_summary, name="summary"),
]
