from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "iptcare.clients"
    label = "clients"
    verbose_name = "Clients"
