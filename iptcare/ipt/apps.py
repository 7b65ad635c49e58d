from django.apps import AppConfig


class IptConfig(AppConfig):
    name = "iptcare.ipt"
    label = "ipt"
    verbose_name = "Interpersonal psychotherapy"
