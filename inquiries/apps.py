from django.apps import AppConfig


class InquiriesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inquiries"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web, commands, worker), not only where
        # the worker's autodiscovery imports them: services enqueue them by name from the
        # app's registry (`inquiries.services.queue`) and never import this module.
        from inquiries import tasks  # noqa: F401
