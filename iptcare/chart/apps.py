from django.apps import AppConfig


class ChartConfig(AppConfig):
    """The clinician's views across apps: caseload and client chart (reads only, no models)."""

    name = "iptcare.chart"
    label = "chart"
    verbose_name = "Caseload and chart"
