"""Retention per portal: a portal's stored files are deleted `retention_days` after
they arrived (`stored_at`), unless they are on a legal hold.

Each file goes through `uploads.deletion.upload_delete` (object, then row through the
state writer; derived files follow), with one audit entry per file
(`upload.deleted_by_retention`, actor "retention", the portal's rule as the reason).
That call locks the row and reads it again, so two runs at once (two beat processes,
or the command while the task runs) delete each file once and record it once, and a
hold placed meanwhile wins. A run does at most `limit` files; the task enqueues
itself again while runs come back full.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from uploader.access.roles import Permission
from uploader.portals.models import Portal
from uploader.uploads import deletion
from uploader.uploads.errors import InvalidInput, WrongState
from uploader.uploads.models import Upload, UploadState

logger = logging.getLogger(__name__)

RETENTION_ACTION = "upload.deleted_by_retention"


class RetentionActor:
    """Who deletes for retention: a principal with the delete permission and no person
    behind it, so the audit entry names the system actor the run acts as ("retention")."""

    intake_permissions = frozenset({Permission.DELETE_FILES})
    is_authenticated = False
    pk = None


RETENTION = RetentionActor()


def retention_cutoff(portal: Portal, now: dt.datetime) -> dt.datetime:
    """Files that arrived before this are due."""
    assert portal.retention_days is not None
    return now - dt.timedelta(days=portal.retention_days)


def portals_with_retention() -> QuerySet[Portal]:
    return Portal.objects.filter(retention_days__isnull=False).order_by("pk")


def uploads_due(
    portal: Portal, *, now: dt.datetime | None = None, within: dt.timedelta | None = None
) -> QuerySet[Upload]:
    """The portal's stored files past its retention and not on hold (or due within
    `within` from now), oldest first; none when the portal keeps files forever."""
    if portal.retention_days is None:
        return Upload.objects.none()
    cutoff = retention_cutoff(portal, now or timezone.now()) + (within or dt.timedelta())
    return Upload.objects.filter(
        portal=portal, state=UploadState.STORED, legal_hold=False, stored_at__lt=cutoff
    ).order_by("stored_at", "pk")


@dataclass(frozen=True)
class PortalDue:
    portal: Portal
    files: int
    bytes: int


def retention_report(*, now: dt.datetime | None = None, within: dt.timedelta | None = None) -> list[PortalDue]:
    """Per portal with retention: how many files and bytes are due (the dry run)."""
    now = now or timezone.now()
    report = []
    for portal in portals_with_retention():
        totals = uploads_due(portal, now=now, within=within).aggregate(files=Count("pk"), bytes=Sum("stored_size"))
        report.append(PortalDue(portal=portal, files=totals["files"] or 0, bytes=totals["bytes"] or 0))
    return report


def held_past_retention(portal: Portal, *, now: dt.datetime | None = None) -> int:
    """Files past the portal's retention kept only by their legal hold."""
    if portal.retention_days is None:
        return 0
    cutoff = retention_cutoff(portal, now or timezone.now())
    return Upload.objects.filter(
        Q(portal=portal, state=UploadState.STORED, legal_hold=True, stored_at__lt=cutoff)
    ).count()


@dataclass
class RetentionRun:
    deleted: int = 0
    deleted_bytes: int = 0
    # Due files that were not deleted this run (S3 refused; held or gone meanwhile).
    skipped: int = 0
    attempted: int = 0
    full: bool = False
    errors: list[str] = field(default_factory=list)


def _due_batches(portal: Portal, now: dt.datetime, size: int) -> Iterator[list[Upload]]:
    """The portal's due files in pages by (stored_at, id), so a file that could not
    be deleted is not met again in the same run."""
    files = uploads_due(portal, now=now).only("pk", "stored_at", "stored_size", "original_filename", "key")
    after: tuple[dt.datetime, str] | None = None
    while True:
        page = files
        if after is not None:
            page = page.filter(Q(stored_at__gt=after[0]) | Q(stored_at=after[0], pk__gt=after[1]))
        batch = list(page[:size])
        if not batch:
            return
        yield batch
        last = batch[-1]
        assert last.stored_at is not None
        after = (last.stored_at, str(last.pk))


def retention_apply(
    *,
    limit: int,
    now: dt.datetime | None = None,
    on_deleted: Callable[[Upload, Portal], None] | None = None,
) -> RetentionRun:
    """Delete up to `limit` due files, portal by portal, oldest first. A storage outage
    stops the run (StorageUnavailable: the task retries later); a file S3 refuses is
    skipped and tried again on the next run. `full`: the run stopped at `limit`."""
    now = now or timezone.now()
    run = RetentionRun()
    for portal in portals_with_retention():
        reason = f"retention: portal {portal.slug} keeps files {portal.retention_days} days"
        for batch in _due_batches(portal, now, min(limit, 200)):
            for upload in batch:
                if run.attempted >= limit:
                    run.full = True
                    return run
                run.attempted += 1
                try:
                    _, changed = deletion.upload_delete(
                        actor=RETENTION, upload=upload, reason=reason, action=RETENTION_ACTION
                    )
                except (deletion.DeletionBlocked, WrongState, InvalidInput) as exc:
                    run.skipped += 1
                    run.errors.append(f"{upload.pk}: {exc}")
                    logger.warning("retention did not delete upload %s: %s", upload.pk, exc)
                    continue
                if changed:
                    run.deleted += 1
                    run.deleted_bytes += upload.stored_size or 0
                    if on_deleted is not None:
                        on_deleted(upload, portal)
    return run
