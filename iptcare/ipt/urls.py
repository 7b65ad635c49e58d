from django.urls import URLPattern

app_name = "ipt"

urlpatterns: list[URLPattern] = []
