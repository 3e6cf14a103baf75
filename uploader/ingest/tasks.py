"""Celery tasks of the event ledger, and the one place that enqueues them.

Tasks take ids, reload, call one service; idempotent, so acks_late is safe. Their
names stay `uploader.tasks.<name>` (where they were first defined) so messages
already queued and beat's schedule keep working across deploys.
"""

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from config.request_context import acting_as_system
from uploader import s3
from uploader.ingest import reconcile
from uploader.ingest.ledger import IngestResult, events_apply, events_ingest_many, events_pending_before

logger = logging.getLogger(__name__)


@shared_task(
    name="uploader.tasks.apply_object_events",
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
        return events_apply(event_ids=event_ids)


@shared_task(name="uploader.tasks.reconcile_uploads", acks_late=True, autoretry_for=(s3.StorageUnavailable,), retry_backoff=30, max_retries=3)
def reconcile_uploads() -> dict[str, int]:
    """Celery beat runs this every INTAKE_RECONCILE_INTERVAL_MINUTES."""
    with acting_as_system("reconcile"):
        report = reconcile.reconcile(older_than=dt.timedelta(hours=settings.INTAKE_RECONCILE_AFTER_HOURS))
    return {"fixed": report.fixed}


@shared_task(name="uploader.tasks.retry_stuck_events", acks_late=True)
def retry_stuck_events() -> int:
    """Celery beat: ledger rows still pending INTAKE_EVENTS_STUCK_MINUTES after they
    arrived are enqueued again, so a lost task heals by itself (the events page's retry
    button does the same by hand); applying is idempotent."""
    cutoff = timezone.now() - dt.timedelta(minutes=settings.INTAKE_EVENTS_STUCK_MINUTES)
    stuck = events_pending_before(cutoff=cutoff)
    for start in range(0, len(stuck), 50):
        apply_object_events.delay(stuck[start : start + 50])
    if stuck:
        logger.warning("enqueued %s stuck ledger row(s) again", len(stuck))
    return len(stuck)


def events_receive_many(*, bodies: list[str | bytes], source: str) -> list[IngestResult]:
    """Store the events of several messages (an SQS batch) in the ledger and enqueue
    every pending one in a single task; one result per message, in order.

    Rows are committed before anything is enqueued. Enqueueing raises when the
    broker is down; callers then keep the messages (SQS redelivers them, webhooks
    answer 503 so the sender retries) and the next delivery enqueues the rows it
    finds still pending. Applying twice is harmless (`event_apply` is idempotent).
    """
    results = events_ingest_many(bodies=bodies, source=source)
    pending = sorted({event_id for result in results for event_id in result.pending})
    if pending:
        apply_object_events.delay(pending)
    return results


def events_receive(*, body: str | bytes, source: str) -> IngestResult:
    """One message's events (SNS, the push webhook): as `events_receive_many`."""
    return events_receive_many(bodies=[body], source=source)[0]


def events_apply_enqueue(event_ids: list[int]) -> None:
    """Apply these ledger rows in a task (the events page's retry of stuck rows)."""
    apply_object_events.delay(event_ids)
