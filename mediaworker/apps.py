from django.apps import AppConfig


class MediaworkerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mediaworker"
    verbose_name = "Media worker and recordings"

    def ready(self) -> None:
        from mediaworker import (
            metrics,  # noqa: F401 - registers the metrics at start-up
            signals,  # noqa: F401 - a deleted recording's files go with it
        )
