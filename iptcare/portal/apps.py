from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "iptcare.portal"
    label = "portal"
    verbose_name = "Client portal"
