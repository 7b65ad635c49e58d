from django.urls import path

from iptcare.portal import views

app_name = "portal"

urlpatterns = [
    path("portal/", views.portal_home_page, name="home"),
    path(
        "portal/questionnaires/<uuid:link_id>/",
        views.portal_questionnaire_page,
        name="questionnaire",
    ),
    path("portal/due/<slug:code>/", views.portal_due_page, name="due"),
    path("clients/<uuid:client_id>/portal/invite/", views.portal_invite_page, name="invite"),
]
