from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from django.conf import settings
        from health_check.plugins import plugin_dir

        if not settings.CELERY_TASK_ALWAYS_EAGER:  # without workers nothing drains the outbox on its own
            from .health import OutboxLagHealthCheck

            plugin_dir.register(OutboxLagHealthCheck)
