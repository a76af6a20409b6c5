from django.apps import AppConfig


class AllocationConfig(AppConfig):
    name = "allocation"
    verbose_name = "Allocation"

    def ready(self) -> None:
        from .sync import tasks  # noqa: F401  (registers the channel-sync Celery tasks: not in <app>.tasks)
