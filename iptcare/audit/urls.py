from django.urls import path

from iptcare.audit import views

app_name = "audit"

urlpatterns = [
    path("audit/", views.report, name="report"),
    path("audit/export.csv", views.export_csv, name="export"),
]
