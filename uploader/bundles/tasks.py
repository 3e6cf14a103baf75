"""Celery tasks of bundles: they take ids and are idempotent (a ready or failed bundle
is not built again; a retry after a crash aborts the old multipart upload and starts
over). Names stay `uploader.tasks.<name>` like the others."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from config.request_context import acting_as_system
from uploader import s3
from uploader.bundles import build
from uploader.bundles.models import Bundle, BundleState


@shared_task(
    bind=True,
    name="uploader.tasks.build_bundle",
    acks_late=True,
    max_retries=5,
    soft_time_limit=settings.INTAKE_BUNDLE_TIME_LIMIT_SECONDS,
    time_limit=settings.INTAKE_BUNDLE_TIME_LIMIT_SECONDS + 60,
)
def build_bundle(self: Any, bundle_id: str) -> str:
    with acting_as_system("bundles"):
        try:
            bundle = build.bundle_build(bundle_id)
        except s3.StorageUnavailable as exc:
            if self.request.retries < self.max_retries:
                raise self.retry(exc=exc, countdown=min(300, 15 * 2**self.request.retries)) from exc
            Bundle.objects.filter(pk=bundle_id).update(
                state=BundleState.FAILED,
                error="File storage was not reachable; ask for a new zip.",
                finished_at=timezone.now(),
            )
            return BundleState.FAILED
    return bundle.state if bundle else "unchanged"


@shared_task(
    name="uploader.tasks.expire_bundles", acks_late=True, autoretry_for=(s3.StorageUnavailable,), max_retries=3
)
def expire_bundles() -> int:
    """Celery beat, hourly: delete zips past INTAKE_BUNDLE_EXPIRES_HOURS."""
    with acting_as_system("bundles"):
        return build.bundles_expire()
