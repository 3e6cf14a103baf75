"""Celery tasks of document requests: beat's reminder run, a file's SHA-256, and the
completion receipt. Tasks take ids and are idempotent (uploader.requests.reminders,
uploader.requests.receipts say how)."""

from __future__ import annotations

from celery import shared_task

from config.request_context import acting_as_system
from uploader import s3
from uploader.requests import receipts, reminders


@shared_task(name="uploader.tasks.send_request_reminders", acks_late=True)
def send_request_reminders() -> int:
    """Celery beat: the reminders due now (none outside working hours)."""
    with acting_as_system("reminders"):
        return reminders.reminders_send_due()


@shared_task(
    name="uploader.tasks.compute_upload_digest",
    acks_late=True,
    autoretry_for=(s3.StorageUnavailable,),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=8,
)
def compute_upload_digest(upload_id: str) -> str:
    digest = receipts.upload_digest(upload_id)
    return digest.sha256 if digest else ""


@shared_task(
    name="uploader.tasks.send_request_receipt",
    acks_late=True,
    autoretry_for=(s3.StorageUnavailable,),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=8,
)
def send_request_receipt(request_id: int) -> bool:
    with acting_as_system("receipts"):
        return receipts.receipt_send(request_id)
