from django.urls import path

from iptcare.encounters import views

app_name = "encounters"

urlpatterns = [
    path("clients/<uuid:client_id>/notes/new/", views.note_new, name="note_new"),
    path("notes/<uuid:public_id>/", views.note_detail, name="note"),
    path("notes/<uuid:public_id>/addendum/", views.note_addendum, name="addendum"),
    path("notes/<uuid:public_id>/cosign/", views.note_cosign, name="cosign"),
    path(
        "notes/<uuid:public_id>/entered-in-error/",
        views.note_entered_in_error,
        name="entered_in_error",
    ),
    path(
        "notes/<uuid:public_id>/amendment-requests/",
        views.note_amendment_request,
        name="amendment_request",
    ),
    path(
        "amendment-requests/<uuid:public_id>/decision/",
        views.amendment_decide,
        name="amendment_decide",
    ),
    path("notes/cosign-queue/", views.cosign_list, name="cosign_queue"),
    path("groups/<uuid:session_id>/notes/", views.group_notes_new, name="group_notes"),
]
