"""Celery tasks of scanning, and what follows an upload's state change once scanning
sits between storing and processing.

Tasks take ids and are idempotent (a settled file is left as it is). A scanner or S3
that cannot be reached is retried with backoff, and the file stays pending meanwhile
(fail closed); after the retries the beat task `scan_pending_uploads` enqueues it again.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.request_context import acting_as_system
from uploader import s3
from uploader.processing.tasks import ProcessingFollowups
from uploader.scanning import services as scanning
from uploader.scanning.scanners import ScannerUnavailable
from uploader.uploads.models import Upload


@shared_task(
    name="uploader.tasks.scan_upload",
    acks_late=True,
    autoretry_for=(ScannerUnavailable, s3.StorageUnavailable),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
)
def scan_upload(upload_id: str) -> str:
    """Scan one stored upload (INTAKE_SCANNER=clamd) and apply the verdict; returns
    its scan state."""
    with acting_as_system("scanner"):
        return scanning.upload_scan(upload_id=upload_id)


@shared_task(name="uploader.tasks.scan_pending_uploads", acks_late=True)
def scan_pending_uploads() -> int:
    """Celery beat: enqueue `scan_upload` for files stored over 5 minutes ago that are
    still pending (clamd was down past the task's retries, a task was lost)."""
    if settings.INTAKE_SCANNER != "clamd":
        return 0
    waiting = scanning.uploads_awaiting_scan(stored_before=timezone.now() - dt.timedelta(minutes=5))
    for upload_id in waiting:
        scan_upload.delay(upload_id)
    return len(waiting)


class ScanningFollowups:
    """Installed into uploader.uploads.followups by uploader.apps: a stored file is
    scanned first, and only a file the scan releases goes on to processing
    (uploader.scanning.services). Called inside the transaction of the change."""

    def __init__(self) -> None:
        self.processing = ProcessingFollowups()

    def stored(self, upload: Upload) -> None:
        if settings.INTAKE_SCANNER == "none":
            scanning.upload_mark_not_scanned(upload)
        elif settings.INTAKE_SCANNER == "clamd":
            upload_id = str(upload.pk)
            transaction.on_commit(lambda: scan_upload.delay(upload_id), robust=True)
        # guardduty: its result event settles the file (uploader.scanning.guardduty).

    def gone(self, upload: Upload) -> None:
        self.processing.gone(upload)
