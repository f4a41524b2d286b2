from django.apps import AppConfig


class MediaworkerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mediaworker"
    verbose_name = "Media worker and recordings"
