from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "omni.insights"
    label = "insights"
    verbose_name = "Insights"
