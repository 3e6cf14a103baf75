"""Ledger, second half: stored events applied to their uploads, each effect once."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.request_context import log_about
from uploader import s3
from uploader.ingest.events import sequencer_is_newer, sequencer_order
from uploader.ingest.ledger.ingest import as_json
from uploader.ingest.ledger.scan_results import apply_scan_result, scan_results_waiting
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.portals.models import Portal
from uploader.uploads.limits import UploadLimits, check_stored
from uploader.uploads.models import ScanState, Upload, UploadState
from uploader.uploads.storing import (
    StoredObject,
    upload_apply_stored_object,
    upload_close,
    upload_record_unregistered,
    uploads_mark_stored,
)

logger = logging.getLogger(__name__)

def _finish(event: UploadEvent, outcome: str, detail: str, upload: Upload | None) -> str:
    event.outcome = outcome
    event.detail = detail[:255]
    event.upload = upload
    event.applied_at = timezone.now()
    event.save(update_fields=["outcome", "detail", "upload", "applied_at"])
    logger.info(
        "event %s %s %s: %s (%s)", event.pk, event.event_name, upload.id if upload else "-", outcome, detail
    )
    return outcome


def _digest_unsettled(upload: Upload, event: UploadEvent) -> bool:
    """The browser checksummed this upload and the event's ETag is not that MD5. An
    event does not say how the object is encrypted (under SSE-KMS the ETag is not the
    MD5), so only a HEAD can tell a mismatch from a KMS ETag."""
    return bool(upload.content_md5) and event.etag != upload.content_md5


def _type_restricted(upload: Upload) -> bool:
    """Only some types are accepted (site-wide, or by the upload's portal): an event
    does not say the stored Content-Type, so only a HEAD can show a server that
    stored another type than the one signed."""
    if settings.INTAKE_ALLOWED_CONTENT_TYPES:
        return True
    if upload.portal_id is None:
        return False
    return bool(Portal.objects.filter(pk=upload.portal_id).values_list("allowed_content_types", flat=True).first())


def events_pending_before(*, cutoff: dt.datetime, limit: int = 500) -> list[int]:
    """Ledger rows still pending that arrived before `cutoff`, oldest first: their task
    was lost (a worker killed with tasks it had fetched, a broker that lost them) or
    keeps failing."""
    rows = UploadEvent.objects.filter(outcome=EventOutcome.PENDING, received_at__lt=cutoff)
    return list(rows.order_by("received_at", "pk").values_list("pk", flat=True)[:limit])


class _S3Now:
    """What S3 holds for a key now, asked at most once. The event's transaction holds
    locks (on SQLite, the database's write lock), so the HEAD is made before it
    whenever the event will need one: a slow or paused S3 must not hold every other
    writer for the length of its timeouts."""

    _UNASKED = object()

    def __init__(self, key: str) -> None:
        self.key = key
        self._head: object = self._UNASKED

    def head(self) -> s3.ObjectHead | None:
        if self._head is self._UNASKED:
            # When S3 is down this raises StorageUnavailable and the task retries.
            self._head = s3.head_object_or_none(key=self.key)
        return self._head  # type: ignore[return-value]


def _needs_head(event: UploadEvent, upload: Upload | None) -> bool:
    if event.kind == "scanned":
        return False
    if event.kind == "created":
        return not _event_says_enough(event, upload)
    return not event.sequencer


def _event_says_enough(event: UploadEvent, upload: Upload | None) -> bool:
    """Ordered by its sequencer, a create with a size says what S3 held then (a later
    delete carries a newer sequencer): no round trip to S3 needed."""
    return bool(
        event.sequencer
        and event.size is not None
        and upload is not None
        and not _digest_unsettled(upload, event)
        and not _type_restricted(upload)
    )


def event_apply(*, event_id: int) -> str:
    """Apply one ledger event to its upload; running it again changes nothing.

    The event row stays locked while it is applied, so two workers handed the same
    event (a redelivered message, a retried task) apply it once.
    """
    first_look = UploadEvent.objects.filter(pk=event_id).first()
    if first_look is None:
        raise UploadEvent.DoesNotExist(event_id)
    if first_look.outcome != EventOutcome.PENDING:
        return first_look.outcome
    s3_now = _S3Now(first_look.key)
    if _needs_head(first_look, Upload.objects.filter(key=first_look.key).first()):
        s3_now.head()
    with transaction.atomic():
        event = UploadEvent.objects.select_for_update().get(pk=event_id)
        if event.outcome != EventOutcome.PENDING:
            return event.outcome
        return _apply(event, s3_now)


def _apply(event: UploadEvent, s3_now: _S3Now) -> str:
    upload = Upload.objects.filter(key=event.key).first()
    if upload is not None:
        log_about(upload_id=upload.pk, portal=upload.portal_id)
    if event.kind == "scanned":
        outcome, detail = apply_scan_result(event, upload)
        if outcome == EventOutcome.PENDING:
            return outcome  # applied once the object is stored
        return _finish(event, outcome, detail, upload)
    if upload and event.sequencer and upload.last_sequencer and not sequencer_is_newer(event.sequencer, upload.last_sequencer):
        return _finish(event, EventOutcome.STALE, f"sequencer {upload.last_sequencer} already applied", upload)
    if event.kind == "created":
        if _event_says_enough(event, upload):
            head: s3.ObjectHead | None = s3.ObjectHead(size=event.size or 0, etag=event.etag, content_type="")
        else:
            # No order to rely on (or no row yet): what S3 holds now (asked before the lock).
            head = s3_now.head()
        if head is None:
            return _finish(event, EventOutcome.IGNORED, "object no longer exists", upload)
        if upload is None:
            upload = upload_record_unregistered(key=event.key, head=head)
        upload = upload_apply_stored_object(upload_id=upload.pk, head=head, sequencer=event.sequencer)
        _apply_waiting_scan_results([event.key])
        return _finish(event, EventOutcome.APPLIED, f"upload is {upload.state}", upload)
    # removed
    if upload is None:
        return _finish(event, EventOutcome.IGNORED, "no upload for this key", None)
    if upload.scan_state == ScanState.INFECTED:
        return _finish(event, EventOutcome.IGNORED, "the infected object was moved out (quarantine)", upload)
    if not event.sequencer and s3_now.head() is not None:
        return _finish(event, EventOutcome.STALE, "object exists again", upload)
    closed, _ = upload_close(
        upload_id=upload.pk,
        state=UploadState.DELETED,
        action="upload.deleted",
        detail={"sequencer": event.sequencer},
        sequencer=event.sequencer,
    )
    return _finish(event, EventOutcome.APPLIED, f"upload is {closed.state}", closed)


def _apply_waiting_scan_results(keys: list[str]) -> None:
    """Scan results that waited for their object: applied after this commits."""
    waiting = scan_results_waiting(keys)
    if waiting:
        from uploader.ingest import tasks  # the task module imports the ledger

        transaction.on_commit(lambda: tasks.events_apply_enqueue(waiting), robust=True)


# --- A batch at once ---------------------------------------------------------------------------------------------

# The common case, applied set-based: a create with a sequencer and a size (so no HEAD
# is needed), alone for its key in the batch, for an upload still waiting for its
# object and not from a portal, newer than what was applied, and within the limits.
_WAITING = frozenset({UploadState.REGISTERED, UploadState.UPLOADING})
_STORED_DETAIL = f"upload is {UploadState.STORED}"


def events_apply(*, event_ids: Iterable[int]) -> dict[str, int]:
    """Apply a batch of ledger events (the task of one SQS batch); idempotent.

    The common case is applied in one transaction for the whole batch: its events
    are locked (pending only, in id order), then their uploads (in primary-key
    order), so two batches, or a batch and `event_apply` (one event, then its
    upload), always lock in the same order and cannot deadlock. Every other event
    (a delete, no sequencer or size, an object nobody registered, a second event for
    the same key, a portal's upload, an upload already stored, a stale sequencer,
    broken limits, an ETag that is not the browser's MD5) then goes through `event_apply` one by one, in sequencer order.
    If the batch transaction fails, nothing of it is kept and a retry starts again.
    Returns how many events got each outcome ("unchanged": applied before).
    """
    ids = sorted(set(event_ids))
    outcomes: Counter[str] = Counter()
    rest = _apply_common_case(ids, outcomes)
    if settings.INTAKE_SCANNER == "guardduty":
        # Scan results that arrived before these objects' stored events.
        keys = list(UploadEvent.objects.filter(pk__in=ids).values_list("key", flat=True))
        rest += [pk for pk in scan_results_waiting(keys) if pk not in rest]
    for event_id in rest:
        outcomes[event_apply(event_id=event_id)] += 1
    return dict(outcomes)


def _apply_common_case(ids: list[int], outcomes: Counter[str]) -> list[int]:
    """Apply what the batch path can; return the pending events it left."""
    limits = UploadLimits.from_settings()
    with transaction.atomic():
        events = list(
            UploadEvent.objects.select_for_update()
            .filter(pk__in=ids, outcome=EventOutcome.PENDING)
            .order_by("pk")
            .only("pk", "key", "kind", "sequencer", "size", "etag", "event_name")
        )
        if len(events) < len(ids):
            outcomes["unchanged"] += len(ids) - len(events)
        if not events:
            return []
        per_key = Counter(event.key for event in events)
        candidates = [
            e for e in events if per_key[e.key] == 1 and e.kind == "created" and e.sequencer and e.size is not None
        ]
        uploads = {
            upload.key: upload
            for upload in Upload.objects.select_for_update()
            .filter(key__in=[e.key for e in candidates])
            .order_by("pk")
            .only("pk", "key", "state", "declared_size", "last_sequencer", "portal_id", "request_item_id", "content_md5")
        }
        applied: list[tuple[UploadEvent, Upload]] = []
        for event in candidates:
            upload = uploads.get(event.key)
            if (
                upload is not None
                # A portal's uploads have the portal's own limits (per file and in
                # total, under its row lock): upload_apply_stored_object checks them.
                and upload.portal_id is None
                # A request item's file moves its item (the followups), which only
                # the per-event path tells.
                and upload.request_item_id is None
                and upload.state in _WAITING
                and sequencer_is_newer(event.sequencer, upload.last_sequencer)
                and not check_stored(limits, declared_size=upload.declared_size, stored_size=event.size or 0)
                and not limits.allowed_content_types  # restricted types need a HEAD: event_apply
                # A checksummed upload whose ETag is not its MD5 needs a HEAD (KMS, or
                # other bytes): event_apply decides.
                and not _digest_unsettled(upload, event)
            ):
                applied.append((event, upload))
        done = _write_stored(applied, timezone.now()) if applied else set()
    outcomes[EventOutcome.APPLIED] += len(done)
    for event, upload in applied:
        if event.pk in done:
            logger.info("event %s %s %s: %s (%s)", event.pk, event.event_name, upload.pk, EventOutcome.APPLIED, _STORED_DETAIL)
    # The rest in S3's order per key (a batch may hold a delete before its create).
    rest = sorted((e for e in events if e.pk not in done), key=lambda e: (sequencer_order(e.sequencer), e.pk))
    return [event.pk for event in rest]


def _write_stored(applied: list[tuple[UploadEvent, Upload]], now: dt.datetime) -> set[int]:
    """Uploads -> stored through the uploads services (one statement and one audit
    insert for the lot on PostgreSQL), then their events -> applied (likewise: Django's
    bulk_update builds a CASE per row and column and costs more than the per-event
    path). Returns the events applied; an upload the writer did not move (none, under
    the row locks taken) leaves its event pending for `event_apply`."""
    moved = set(
        uploads_mark_stored(
            objects=[
                StoredObject(upload_id=upload.pk, size=event.size or 0, etag=event.etag, sequencer=event.sequencer)
                for event, upload in applied
            ]
        )
    )
    done = [(event, upload) for event, upload in applied if upload.pk in moved]
    if connection.vendor != "postgresql":
        for event, upload in done:
            UploadEvent.objects.filter(pk=event.pk).update(
                outcome=EventOutcome.APPLIED, detail=_STORED_DETAIL, applied_at=now, upload_id=upload.pk
            )
        return {event.pk for event, _ in done}
    events = connection.ops.quote_name(UploadEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE " + events + " AS e SET outcome = %s, detail = %s, applied_at = %s, upload_id = v.upload "  # noqa: S608 - table name from the model; values are parameters
            "FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, upload uuid) WHERE e.id = v.id",
            [EventOutcome.APPLIED, _STORED_DETAIL, now, as_json([{"id": e.pk, "upload": u.pk} for e, u in done])],
        )
    return {event.pk for event, _ in done}
