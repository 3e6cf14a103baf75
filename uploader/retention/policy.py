"""Retention per portal and per document request: the stored files of a portal, or
of a request's items, are deleted its `retention_days` after they arrived
(`stored_at`), unless they are on a legal hold. Each such rule is a `RetentionRule`
(whose, how many days, which uploads); the run, the dry run and the portal page all
work from rules, so portals and requests take the same path.

Each file goes through `uploads.deletion.upload_delete` (object, then row through the
state writer; derived files follow), with one audit entry per file
(`upload.deleted_by_retention`, actor "retention", the rule as the reason).
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
from uploader.requests.models import DocumentRequest
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


@dataclass(frozen=True)
class RetentionRule:
    """One rule about keeping files: whose it is (`label`, "portal acme" or "request 12
    (Jane Doe)"), how many days its files are kept (None: forever), and the uploads it
    covers, in any state (`files`)."""

    label: str
    days: int | None
    files: QuerySet[Upload]

    @property
    def reason(self) -> str:
        """The audit entry's reason for a file this rule deleted."""
        return f"retention: {self.label} keeps files {self.days} days"

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        """Files that arrived before this are due."""
        assert self.days is not None
        return now - dt.timedelta(days=self.days)


def portal_rule(portal: Portal) -> RetentionRule:
    return RetentionRule(
        label=f"portal {portal.slug}", days=portal.retention_days, files=Upload.objects.filter(portal=portal)
    )


def request_rule(request: DocumentRequest) -> RetentionRule:
    return RetentionRule(
        label=f"request {request.pk} ({request.client_name})",
        days=request.retention_days,
        files=Upload.objects.filter(request_item__request=request),
    )


def retention_rules() -> Iterator[RetentionRule]:
    """Every rule that deletes files: each portal's, then each document request's, with
    a retention period."""
    for portal in Portal.objects.filter(retention_days__isnull=False).order_by("pk"):
        yield portal_rule(portal)
    for request in DocumentRequest.objects.filter(retention_days__isnull=False).order_by("pk"):
        yield request_rule(request)


def uploads_due(
    rule: RetentionRule, *, now: dt.datetime | None = None, within: dt.timedelta | None = None
) -> QuerySet[Upload]:
    """The rule's stored files past its retention and not on hold (or due within
    `within` from now), oldest first; none when the rule keeps files forever."""
    if rule.days is None:
        return Upload.objects.none()
    cutoff = rule.cutoff(now or timezone.now()) + (within or dt.timedelta())
    return rule.files.filter(state=UploadState.STORED, legal_hold=False, stored_at__lt=cutoff).order_by(
        "stored_at", "pk"
    )


def held_past_retention(rule: RetentionRule, *, now: dt.datetime | None = None) -> int:
    """Files past the rule's retention kept only by their legal hold."""
    if rule.days is None:
        return 0
    cutoff = rule.cutoff(now or timezone.now())
    return rule.files.filter(state=UploadState.STORED, legal_hold=True, stored_at__lt=cutoff).count()


@dataclass(frozen=True)
class RuleDue:
    rule: RetentionRule
    files: int
    bytes: int
    held: int


def retention_report(*, now: dt.datetime | None = None, within: dt.timedelta | None = None) -> list[RuleDue]:
    """Per rule (portal or request) with retention: how many files and bytes are due,
    and how many more only a legal hold keeps (the dry run)."""
    now = now or timezone.now()
    report = []
    for rule in retention_rules():
        totals = uploads_due(rule, now=now, within=within).aggregate(files=Count("pk"), bytes=Sum("stored_size"))
        report.append(
            RuleDue(
                rule=rule,
                files=totals["files"] or 0,
                bytes=totals["bytes"] or 0,
                held=held_past_retention(rule, now=now),
            )
        )
    return report


@dataclass
class RetentionRun:
    deleted: int = 0
    deleted_bytes: int = 0
    # Due files that were not deleted this run (S3 refused; held or gone meanwhile).
    skipped: int = 0
    attempted: int = 0
    full: bool = False
    errors: list[str] = field(default_factory=list)


def _due_batches(rule: RetentionRule, now: dt.datetime, size: int) -> Iterator[list[Upload]]:
    """The rule's due files in pages by (stored_at, id), so a file that could not
    be deleted is not met again in the same run."""
    files = uploads_due(rule, now=now).only("pk", "stored_at", "stored_size", "original_filename", "key")
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
    on_deleted: Callable[[Upload, RetentionRule], None] | None = None,
) -> RetentionRun:
    """Delete up to `limit` due files, rule by rule (portals, then requests), oldest
    first. A storage outage
    stops the run (StorageUnavailable: the task retries later); a file S3 refuses is
    skipped and tried again on the next run. `full`: the run stopped at `limit`."""
    now = now or timezone.now()
    run = RetentionRun()
    for rule in retention_rules():
        for batch in _due_batches(rule, now, min(limit, 200)):
            for upload in batch:
                if run.attempted >= limit:
                    run.full = True
                    return run
                run.attempted += 1
                try:
                    _, changed = deletion.upload_delete(
                        actor=RETENTION, upload=upload, reason=rule.reason, action=RETENTION_ACTION
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
                        on_deleted(upload, rule)
    return run
