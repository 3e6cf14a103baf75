"""Celery tasks: take ids, reload, call one service; idempotent, so acks_late is safe."""

from celery import shared_task

from config.request_context import acting_as_system
from uploader import ledger, s3


@shared_task(
    acks_late=True,
    autoretry_for=(s3.StorageUnavailable,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
)
def apply_object_event(event_id: int) -> str:
    with acting_as_system("s3-event"):
        return ledger.event_apply(event_id=event_id)
