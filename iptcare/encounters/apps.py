from django.apps import AppConfig


class EncountersConfig(AppConfig):
    name = "iptcare.encounters"
    label = "encounters"
    verbose_name = "Session notes"
