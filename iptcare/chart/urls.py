from django.urls import path

from iptcare.chart import views

app_name = "chart"

urlpatterns = [
    path("caseload/", views.caseload_page, name="caseload"),
]
