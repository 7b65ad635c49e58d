from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "iptcare.recovery"
    label = "recovery"
    verbose_name = "Drug screens, days of use and return to use"
