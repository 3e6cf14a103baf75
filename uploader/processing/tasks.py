"""Celery tasks of processing, and the one place that enqueues them.

Tasks take ids, reload, call one service; idempotent, so acks_late is safe. Their
names stay `uploader.tasks.<name>` (where they were first defined) so messages
already queued and beat's schedule keep working across deploys.
"""

import datetime as dt

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.request_context import acting_as_system
from uploader import s3
from uploader.portals.models import Portal
from uploader.processing import services as processing
from uploader.processing.derivatives import wanted_kinds
from uploader.processing.models import Derivative
from uploader.uploads.models import Upload


@shared_task(
    name="uploader.tasks.process_upload",
    acks_late=True,
    autoretry_for=(s3.StorageUnavailable,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=settings.INTAKE_PROCESSING_TIME_LIMIT_SECONDS,
    time_limit=settings.INTAKE_PROCESSING_TIME_LIMIT_SECONDS + 30,
)
def process_upload(upload_id: str) -> dict[str, str]:
    """Make a stored portal upload's derivatives (thumbnail, document text). Takes the
    upload's id; a derivative that exists, or a failure already recorded, is not
    tried again, so a repeat (acks_late redelivery) is harmless. S3 outages are
    retried with backoff; a file that takes longer than the soft limit is recorded
    as failed instead of being tried forever. One run at a time per upload (a lease):
    a duplicate answers `busy`. A run that died on the way (the worker was killed for
    its memory, or by the hard limit) left its attempt open and its lease until it
    runs out: the next run after that (the catch-up task, `process_pending_uploads`)
    records the failure rather than killing another worker."""
    with acting_as_system("processor"):
        try:
            return processing.upload_process(upload_id=upload_id)
        except SoftTimeLimitExceeded:
            processing.upload_processing_failed(upload_id=upload_id, reason="processing took too long")
            return {"timed_out": "failed"}


@shared_task(name="uploader.tasks.discard_derivatives", acks_late=True, autoretry_for=(s3.StorageUnavailable,), retry_backoff=5, retry_jitter=True, max_retries=8)
def discard_derivatives(upload_id: str) -> int:
    """Remove the derivatives of an upload that was replaced or deleted. Takes the
    upload's id; a repeat finds nothing left, and an upload stored again keeps its
    derivatives."""
    with acting_as_system("processor"):
        return processing.upload_discard_derivatives(upload_id=upload_id)


@shared_task(name="uploader.tasks.process_pending_uploads", acks_late=True)
def process_pending_uploads() -> int:
    """Celery beat: enqueue `process_upload` for stored portal uploads whose processing
    never ran (stored over 10 minutes ago, within 7 times INTAKE_RECONCILE_AFTER_HOURS),
    or whose run died without a word over 10 minutes ago (enqueued once more, the
    task records the failure; an upload with a recorded failure is never enqueued)."""
    now = timezone.now()
    awaiting = processing.uploads_awaiting_processing(
        stored_before=now - dt.timedelta(minutes=10),
        stored_after=now - dt.timedelta(hours=settings.INTAKE_RECONCILE_AFTER_HOURS * 7),
    )
    for upload_id in awaiting:
        process_upload.delay(upload_id)
    return len(awaiting)


class ProcessingFollowups:
    """What processing does when an upload's state changes (installed into
    `uploader.uploads.followups` by `uploader.apps`). Called inside the transaction of
    the change; the task is enqueued once that commits, and a broker failure then is
    logged, never undoes the change."""

    def stored(self, upload: Upload) -> None:
        """An upload gets `process_upload` when its options (its portal's, or
        INTAKE_STAFF_PROCESSING for a staff upload) want something of a file like it."""
        if upload.portal_id is None:
            options = list(settings.INTAKE_STAFF_PROCESSING)
        else:
            options = Portal.objects.filter(pk=upload.portal_id).values_list("processing", flat=True).first() or []
        if not wanted_kinds(options, filename=upload.original_filename, content_type=upload.declared_content_type):
            return
        upload_id = str(upload.pk)
        transaction.on_commit(lambda: process_upload.delay(upload_id), robust=True)

    def gone(self, upload: Upload) -> None:
        """Derivatives of a replaced, deleted or aborted upload describe bytes that are
        gone: `discard_derivatives` removes them."""
        if not Derivative.objects.filter(upload_id=upload.pk).exists():
            return
        upload_id = str(upload.pk)
        transaction.on_commit(lambda: discard_derivatives.delay(upload_id), robust=True)
