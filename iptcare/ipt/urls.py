from django.urls import URLPattern, path

from iptcare.ipt import views

app_name = "ipt"

P = "episodes/<uuid:episode_id>/ipt/"

urlpatterns: list[URLPattern] = [
    path(P, views.episode_ipt, name="episode"),
    path(P + "circle/print/", views.circle_print, name="circle_print"),
    path(P + "people/", views.person_save, name="person_save"),
    path(P + "people/<uuid:person_key>/remove/", views.person_remove, name="person_remove"),
    path(P + "formulation/", views.formulation_save, name="formulation_save"),
    path(P + "problem-areas/", views.problem_area_add, name="problem_area_add"),
    path(P + "problem-areas/<uuid:area_id>/end/", views.problem_area_end, name="problem_area_end"),
    path(
        P + "problem-areas/<uuid:area_id>/stages/",
        views.dispute_stage_add,
        name="dispute_stage_add",
    ),
    path(P + "contract/", views.contract_save, name="contract_save"),
    path(P + "phase/override/", views.override_set, name="override_set"),
    path(P + "phase/override/clear/", views.override_clear, name="override_clear"),
    path(P + "conclusion/", views.conclusion_save, name="conclusion_save"),
]
