from django.apps import AppConfig


class OmniConfig(AppConfig):
    name = "omni"
    verbose_name = "Omni"

    def ready(self) -> None:
        from omni.api import schema  # noqa: F401  (registers the partner-token scheme with drf-spectacular)
