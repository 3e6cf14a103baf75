"""Celery tasks: take ids, reload, call one service; idempotent, so acks_late is safe."""

import datetime as dt

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from config.request_context import acting_as_system
from uploader import s3
from uploader.ingest import ledger, reconcile
from uploader.notify import services as notifications
from uploader.portals.models import Portal
from uploader.processing import services as processing
from uploader.uploads.models import Upload


@shared_task(
    acks_late=True,
    autoretry_for=(s3.StorageUnavailable,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def apply_object_events(event_ids: list[int]) -> dict[str, int]:
    """Apply a batch of ledger events (one SQS batch) in one task: the common case
    in one transaction for the lot, the rest one by one (`ledger.events_apply`).
    What committed stays applied, so a retry re-applies only what is left."""
    with acting_as_system("s3-event"):
        return ledger.events_apply(event_ids=event_ids)


@shared_task(acks_late=True, autoretry_for=(s3.StorageUnavailable,), retry_backoff=30, max_retries=3)
def reconcile_uploads() -> dict[str, int]:
    """Celery beat runs this every INTAKE_RECONCILE_INTERVAL_MINUTES."""
    with acting_as_system("reconcile"):
        report = reconcile.reconcile(older_than=dt.timedelta(hours=settings.INTAKE_RECONCILE_AFTER_HOURS))
    return {"fixed": report.fixed}


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def notify_portal_uploads() -> dict[str, int]:
    """Celery beat runs this every INTAKE_NOTIFY_INTERVAL_SECONDS: one digest e-mail
    per portal for the files stored since the last run. A mail server that cannot be
    reached (OSError) is retried; nothing is marked sent until it was."""
    with acting_as_system("notifier"):
        report = notifications.portal_notify_pending()
    return {"portals": report.portals, "files": report.files, "emails": report.emails}


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def send_portal_receipt(portal_id: int, visitor_id: str) -> int:
    """The receipt a client asked for on the confirmation page. Takes ids; reads the
    address the visitor gave from their uploads, never from the task's arguments."""
    portal = Portal.objects.get(pk=portal_id)
    latest = (
        Upload.objects.filter(portal=portal, portal_visitor=visitor_id).exclude(uploader_email="").order_by("-created_at").first()
    )
    if latest is None:
        return 0
    with acting_as_system("notifier"):
        return notifications.portal_send_receipt(
            portal=portal, visitor_id=visitor_id, email=latest.uploader_email, name=latest.uploader_name
        )


@shared_task(
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


@shared_task(acks_late=True, autoretry_for=(s3.StorageUnavailable,), retry_backoff=5, retry_jitter=True, max_retries=8)
def discard_derivatives(upload_id: str) -> int:
    """Remove the derivatives of an upload that was replaced or deleted. Takes the
    upload's id; a repeat finds nothing left, and an upload stored again keeps its
    derivatives."""
    with acting_as_system("processor"):
        return processing.upload_discard_derivatives(upload_id=upload_id)


@shared_task(acks_late=True)
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


@shared_task(acks_late=True)
def deliver_portal_webhook(delivery_id: str) -> str:
    """One attempt at a portal webhook delivery (made by the digest run). Takes the
    delivery's id; a delivered, given-up or not-yet-due delivery is left alone, so a
    repeat is harmless. After a failure the next attempt is scheduled here, at the
    time the delivery records (backoff doubling from INTAKE_WEBHOOK_RETRY_SECONDS)."""
    with acting_as_system("notifier"):
        result = notifications.webhook_deliver(delivery_id=delivery_id)
    if result.outcome == "retry" and result.retry_at is not None:
        deliver_portal_webhook.apply_async(args=[delivery_id], eta=result.retry_at)
    return result.outcome


@shared_task(acks_late=True)
def retry_overdue_portal_webhooks() -> int:
    """Celery beat: enqueue deliveries whose attempt is over 5 minutes late (their
    task was lost); `deliver_portal_webhook` ignores a delivery already done."""
    overdue = notifications.webhook_deliveries_overdue(due_before=timezone.now() - dt.timedelta(minutes=5))
    for delivery_id in overdue:
        deliver_portal_webhook.delay(delivery_id)
    return len(overdue)
