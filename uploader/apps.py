from django.apps import AppConfig


class UploaderConfig(AppConfig):
    name = "uploader"
    verbose_name = "Uploads"
    default_auto_field = "django.db.models.BigAutoField"
