from django.apps import AppConfig


class OmniConfig(AppConfig):
    name = "omni"
    verbose_name = "Omni"
