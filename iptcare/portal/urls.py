from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from iptcare.portal import views
from iptcare.portal.tokens import invitation_tokens

app_name = "portal"

urlpatterns = [
    path("portal/", views.portal_home_page, name="home"),
    path(
        "portal/welcome/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            token_generator=invitation_tokens,
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="welcome",
    ),
    path(
        "portal/questionnaires/<uuid:link_id>/",
        views.portal_questionnaire_page,
        name="questionnaire",
    ),
    path("portal/due/<slug:code>/", views.portal_due_page, name="due"),
    path("clients/<uuid:client_id>/portal/invite/", views.portal_invite_page, name="invite"),
    path(
        "clients/<uuid:client_id>/portal/invite/again/",
        views.portal_invite_again_page,
        name="invite_again",
    ),
]
