"""The event ledger: S3 object events in, each effect exactly once.

Every source (SQS, SNS, the webhook) hands its raw message to `events_ingest`, which
parses it, stores each distinct event once (the unique `dedupe_key` turns repeated
deliveries into no-ops) and enqueues `apply_object_event` for new rows after the
transaction commits. `event_apply` is idempotent and orders events per key by S3's
sequencer; where a server sends none it asks S3 (HEAD) what is true now.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from uploader import s3
from uploader.events import ObjectEvent, parse_s3_message, sequencer_is_newer
from uploader.models import EventOutcome, Upload, UploadEvent, UploadState
from uploader.services import upload_apply_stored_object, upload_close

logger = logging.getLogger(__name__)

EXTERNAL_SCOPE = "external"


@dataclass
class IngestResult:
    recorded: list[int] = field(default_factory=list)
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)
    test_event: bool = False
    # Ledger rows of this message not applied yet, new or from an earlier delivery
    # whose task never ran (the broker was down): all of them get (re)enqueued.
    pending: list[int] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return bool(self.recorded or self.duplicates or self.test_event or not self.skipped)


def dedupe_key(event: ObjectEvent) -> str:
    identity = event.sequencer or f"etag:{event.etag}:version:{event.version_id}"
    return hashlib.sha256(f"{event.bucket}\0{event.key}\0{event.kind}\0{identity}".encode()).hexdigest()


def _is_ours(event: ObjectEvent) -> str | None:
    if event.bucket != settings.INTAKE_S3_BUCKET:
        return f"bucket {event.bucket[:64]!r} is not ours"
    if not event.key.startswith(f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/"):
        return f"key outside the {settings.INTAKE_S3_KEY_PREFIX!r} prefix"
    return None


def events_ingest(*, body: str | bytes, source: str) -> IngestResult:
    """Store the events of one message and enqueue every pending one (webhooks)."""
    return events_ingest_many(bodies=[body], source=source)[0]


def events_ingest_many(*, bodies: list[str | bytes], source: str) -> list[IngestResult]:
    """Store the events of several messages (an SQS batch) and enqueue every pending
    one in a single task; one result per message, in order.

    Rows are committed before anything is enqueued. Enqueueing raises when the
    broker is down; callers then keep the messages (SQS redelivers them, webhooks
    answer 503 so the sender retries) and the next delivery enqueues the rows it
    finds still pending. Applying twice is harmless (`event_apply` is idempotent).
    """
    from uploader.tasks import apply_object_events  # tasks import this module

    results = _record_many(bodies=bodies, source=source)
    pending = sorted({event_id for result in results for event_id in result.pending})
    if pending:
        apply_object_events.delay(pending)
    return results


def _row(event: ObjectEvent, source: str, batch: uuid.UUID) -> UploadEvent:
    return UploadEvent(
        ingest_batch=batch,
        source=source,
        dedupe_key=dedupe_key(event),
        bucket=event.bucket,
        key=event.key,
        kind=event.kind,
        event_name=event.event_name[:128],
        sequencer=event.sequencer[:64],
        etag=event.etag[:128],
        size=event.size,
        event_time=event.event_time,
        raw={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(event).items()},
    )


def _record_many(*, bodies: list[str | bytes], source: str) -> list[IngestResult]:
    """Two queries for a whole batch: insert every event with conflicts ignored (a
    concurrent delivery inserting the same event is fine), then read back ids,
    outcomes and which rows this call inserted."""
    batch = uuid.uuid4()
    results: list[IngestResult] = []
    wanted: dict[str, UploadEvent] = {}
    keys_by_message: list[list[str]] = []
    for body in bodies:
        parsed = parse_s3_message(body)
        result = IngestResult(skipped=list(parsed.skipped), test_event=parsed.is_test_event)
        keys: list[str] = []
        for event in parsed.events:
            if reason := _is_ours(event):
                result.skipped.append(reason)
                continue
            row = _row(event, source, batch)
            wanted.setdefault(row.dedupe_key, row)
            keys.append(row.dedupe_key)
        for reason in result.skipped:
            logger.warning("%s event skipped: %s", source, reason)
        results.append(result)
        keys_by_message.append(keys)
    if not wanted:
        return results
    UploadEvent.objects.bulk_create(list(wanted.values()), ignore_conflicts=True)
    stored = {
        key: (pk, outcome, inserted_by == batch)
        for pk, key, outcome, inserted_by in UploadEvent.objects.filter(dedupe_key__in=list(wanted)).values_list(
            "pk", "dedupe_key", "outcome", "ingest_batch"
        )
    }
    first_seen: set[str] = set()
    for result, keys in zip(results, keys_by_message, strict=True):
        for key in keys:
            pk, outcome, inserted_here = stored[key]
            if inserted_here and key not in first_seen:
                first_seen.add(key)
                result.recorded.append(pk)
            else:
                result.duplicates += 1
            if outcome == EventOutcome.PENDING:
                result.pending.append(pk)
    return results


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


def upload_record_unregistered(*, key: str, head: s3.ObjectHead) -> Upload:
    """An object that arrived by other means (console, CLI) is recorded too, with
    no owner, as a registration the caller then marks stored."""
    parts = key.split("/")
    upload, _ = Upload.objects.get_or_create(
        key=key,
        defaults={
            "scope": parts[1][:64] if len(parts) > 2 else EXTERNAL_SCOPE,
            "original_filename": parts[-1][:255] or key[-255:],
            "declared_size": None,
            "declared_content_type": head.content_type[:255] or "application/octet-stream",
            "state": UploadState.REGISTERED,
        },
    )
    return upload


def event_apply(*, event_id: int) -> str:
    """Apply one ledger event to its upload; running it again changes nothing.

    The event row stays locked while it is applied, so two workers handed the same
    event (a redelivered message, a retried task) apply it once.
    """
    with transaction.atomic():
        event = UploadEvent.objects.select_for_update().get(pk=event_id)
        if event.outcome != EventOutcome.PENDING:
            return event.outcome
        return _apply(event)


def _apply(event: UploadEvent) -> str:
    upload = Upload.objects.filter(key=event.key).first()
    if upload and event.sequencer and upload.last_sequencer and not sequencer_is_newer(event.sequencer, upload.last_sequencer):
        return _finish(event, EventOutcome.STALE, f"sequencer {upload.last_sequencer} already applied", upload)
    if event.kind == "created":
        if event.sequencer and event.size is not None and upload is not None:
            # Ordered by its sequencer, the event itself says what S3 held then; a
            # later delete carries a newer sequencer. No round trip to S3 needed.
            head: s3.ObjectHead | None = s3.ObjectHead(size=event.size, etag=event.etag, content_type="")
        else:
            # No order to rely on (or no row yet): ask S3 what is true now. When S3
            # is down this raises StorageUnavailable and the task retries.
            head = s3.head_object_or_none(key=event.key)
        if head is None:
            return _finish(event, EventOutcome.IGNORED, "object no longer exists", upload)
        if upload is None:
            upload = upload_record_unregistered(key=event.key, head=head)
        upload = upload_apply_stored_object(upload_id=upload.pk, head=head, sequencer=event.sequencer)
        return _finish(event, EventOutcome.APPLIED, f"upload is {upload.state}", upload)
    # removed
    if upload is None:
        return _finish(event, EventOutcome.IGNORED, "no upload for this key", None)
    if not event.sequencer and s3.head_object_or_none(key=event.key) is not None:
        return _finish(event, EventOutcome.STALE, "object exists again", upload)
    closed, _ = upload_close(
        upload_id=upload.pk,
        state=UploadState.DELETED,
        action="upload.deleted",
        detail={"sequencer": event.sequencer},
        sequencer=event.sequencer,
    )
    return _finish(event, EventOutcome.APPLIED, f"upload is {closed.state}", closed)
