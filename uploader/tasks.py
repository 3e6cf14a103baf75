"""Celery tasks: take ids, reload, call one service; idempotent, so acks_late is safe."""

import datetime as dt

from celery import shared_task
from django.conf import settings

from config.request_context import acting_as_system
from uploader import ledger, reconcile, s3


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
