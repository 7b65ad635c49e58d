from django.urls import path

from iptcare.scheduling import views

app_name = "scheduling"

urlpatterns = [
    path("schedule/week/", views.week, name="week"),
    path(
        "clients/<uuid:client_id>/appointments/",
        views.client_appointments,
        name="client_appointments",
    ),
    path(
        "clients/<uuid:client_id>/appointments/new/",
        views.appointment_new,
        name="appointment_new",
    ),
    path(
        "appointments/<uuid:appointment_id>/attendance/",
        views.appointment_attendance,
        name="appointment_attendance",
    ),
    path(
        "appointments/<uuid:appointment_id>/attendance/correct/",
        views.appointment_attendance_correct,
        name="appointment_attendance_correct",
    ),
    path("programs/<uuid:program_id>/groups/new/", views.group_new, name="group_new"),
    path("groups/<uuid:session_id>/", views.group_detail, name="group_detail"),
    path("groups/<uuid:session_id>/roster/", views.group_roster_add, name="group_roster_add"),
    path(
        "groups/<uuid:session_id>/roster/<uuid:client_id>/remove/",
        views.group_roster_remove,
        name="group_roster_remove",
    ),
    path("groups/<uuid:session_id>/attendance/", views.group_attendance, name="group_attendance"),
]
