from django.apps import AppConfig


class OmniConfig(AppConfig):
    name = "omni"
    verbose_name = "Omni"

    def ready(self) -> None:
        from omni.health import register_checks

        register_checks()
