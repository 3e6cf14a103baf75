"""Celery tasks of retention and legal holds. They take ids, call one service and are
idempotent (acks_late is safe); names stay `uploader.tasks.<name>` like the others."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from config.request_context import acting_as_system
from uploader import s3
from uploader.retention import holds, policy

logger = logging.getLogger(__name__)


@shared_task(
    name="uploader.tasks.apply_retention",
    acks_late=True,
    autoretry_for=(s3.StorageUnavailable,),
    retry_backoff=60,
    retry_jitter=True,
    max_retries=8,
)
def apply_retention() -> int:
    """Celery beat, daily: delete up to INTAKE_RETENTION_BATCH files past their
    portal's retention; enqueue itself again when that many were tried, so a large
    backlog is worked off in runs that each stay inside the task time limit."""
    with acting_as_system("retention"):
        run = policy.retention_apply(limit=settings.INTAKE_RETENTION_BATCH)
    if run.deleted or run.skipped:
        logger.info("retention deleted %s files (%s bytes), skipped %s", run.deleted, run.deleted_bytes, run.skipped)
    if run.full and run.deleted:
        apply_retention.delay()
    return run.deleted


@shared_task(
    name="uploader.tasks.hold_portal_files",
    acks_late=True,
    autoretry_for=(s3.StorageUnavailable,),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=8,
)
def hold_portal_files(portal_id: int, hold: bool, actor_id: int, reason: str = "", after: str = "") -> int:
    """Place (`hold`) or lift the legal hold on a batch of a portal's files for the
    admin `actor_id`, then enqueue the next batch; a repeat skips files already done."""
    with acting_as_system("legal-hold"):
        changed, cursor = holds.portal_holds_apply(
            portal_id=portal_id, hold=hold, actor_id=actor_id, reason=reason, after=after
        )
    if cursor:
        hold_portal_files.delay(portal_id, hold, actor_id, reason, cursor)
    return changed
