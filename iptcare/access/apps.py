from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "iptcare.access"
    label = "access"
    verbose_name = "Access policy"
