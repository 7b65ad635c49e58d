from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "iptcare.core"
    label = "core"
    verbose_name = "Organisations and programs"
