from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "iptcare.measures"
    label = "measures"
    verbose_name = "Measurement-based care"
