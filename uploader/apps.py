from django.apps import AppConfig


class UploaderConfig(AppConfig):
    name = "uploader"
    verbose_name = "Uploads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from uploader.s3 import cloudfront

        # A mistyped CloudFront setting or an unusable key stops start-up (every
        # process: web, worker, beat, consumer) naming the variable, instead of failing
        # the first download. Settings themselves import no app code.
        cloudfront.check_configuration(
            domain=settings.INTAKE_CLOUDFRONT_DOMAIN,
            key_id=settings.INTAKE_CLOUDFRONT_KEY_ID,
            inline_key=settings.INTAKE_CLOUDFRONT_PRIVATE_KEY,
            key_path=settings.INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE,
        )
        # Wiring done once the models are loaded: scanning (which hands a file to
        # processing once its scan releases it) and document requests answer the uploads
        # package's state changes (uploader.uploads.followups says why it is not an import).
        from uploader.requests.services import RequestFollowups
        from uploader.scanning.tasks import ScanningFollowups
        from uploader.uploads import followups

        followups.install(ScanningFollowups(), RequestFollowups())
        # The document requests API describes its calls in the one OpenAPI document
        # (uploader.api.openapi says why it is installed, not imported).
        from uploader.api import openapi
        from uploader.requests.api.openapi import SECTION as REQUESTS_API

        openapi.install(REQUESTS_API)
        # Celery's task_failure/task_retry signals, counted for /metrics.
        from uploader.ops.metrics import task_counts  # noqa: F401
