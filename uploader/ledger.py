"""The event ledger: S3 object events in, each effect exactly once.

Every source (SQS, SNS, the webhook) hands its raw message to `events_ingest`, which
parses it, stores each distinct event once (the unique `dedupe_key` turns repeated
deliveries into no-ops) and enqueues `apply_object_event` for new rows after the
transaction commits. `event_apply` is idempotent and orders events per key by S3's
sequencer; where a server sends none it asks S3 (HEAD) what is true now.

Both halves are set-based, because S3 sends an event per object and a busy bucket
sends thousands a second: an SQS batch is stored with one INSERT ... ON CONFLICT DO
NOTHING ... RETURNING, and `events_apply` applies the common case of a whole batch
(a create, with a sequencer and a size, for an upload waiting for its object) in one
transaction of five statements. Everything else goes through `event_apply`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.request_context import ActorContext, current
from uploader import s3
from uploader.events import ObjectEvent, parse_s3_message, sequencer_is_newer, sequencer_order
from uploader.limits import UploadLimits, check_stored
from uploader.models import AuditEntry, EventOutcome, Upload, UploadEvent, UploadState
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
        raw=_raw(event),
    )


def _raw(event: ObjectEvent) -> dict[str, object]:
    """The event as JSON-ready fields. A shallow copy: its values are all scalars, and
    `dataclasses.asdict` (a recursive deep copy) was a tenth of the consumer's time."""
    raw = dict(vars(event))
    if event.event_time is not None:
        raw["event_time"] = event.event_time.isoformat()
    return raw


def _record_many(*, bodies: list[str | bytes], source: str) -> list[IngestResult]:
    """Store a whole batch at once: every event inserted with conflicts ignored (a
    concurrent delivery inserting the same event is fine); ids, outcomes and which
    rows this call inserted come back (one statement on PostgreSQL)."""
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
    store = _store_postgresql if connection.vendor == "postgresql" else _store_portable
    # Inserted in dedupe-key order: two consumers inserting overlapping batches (the
    # same message delivered to both) then wait for each other in one order, never
    # in a cycle (a deadlock, seen in benchmark 5 with unordered batches).
    stored = store(sorted(wanted.values(), key=lambda row: row.dedupe_key), batch)
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


Stored = dict[str, tuple[int, str, bool]]  # dedupe key -> (ledger id, outcome, inserted by this call)


def _store_portable(rows: list[UploadEvent], batch: uuid.UUID) -> Stored:
    """Insert with conflicts ignored, then read ids and outcomes back (two queries)."""
    UploadEvent.objects.bulk_create(rows, ignore_conflicts=True)
    return {
        key: (pk, outcome, inserted_by == batch)
        for pk, key, outcome, inserted_by in UploadEvent.objects.filter(
            dedupe_key__in=[row.dedupe_key for row in rows]
        ).values_list("pk", "dedupe_key", "outcome", "ingest_batch")
    }


# The ledger columns a consumer writes, with their PostgreSQL types.
_INGEST_COLUMNS = {
    "dedupe_key": "text", "bucket": "text", "key": "text", "kind": "text", "event_name": "text",
    "sequencer": "text", "etag": "text", "size": "bigint", "event_time": "timestamptz", "raw": "jsonb",
}


def _as_json(rows: list[dict[str, Any]]) -> str:
    """A batch as one JSON parameter for jsonb_to_recordset: json's C encoder, where
    psycopg's text-array quoting of ten arrays cost a tenth of the consumer."""
    return json.dumps(rows, default=lambda value: value.isoformat() if isinstance(value, dt.datetime) else str(value))


def _store_postgresql(rows: list[UploadEvent], batch: uuid.UUID) -> Stored:
    """One statement: insert what is new (RETURNING its ids) and, from the same
    snapshot, read the rows that already existed. A row a concurrent delivery
    committed after that snapshot is in neither half; a second read finds it."""
    quote = connection.ops.quote_name
    table = quote(UploadEvent._meta.db_table)
    columns = ", ".join(quote(c) for c in _INGEST_COLUMNS)
    record = ", ".join(f"{quote(c)} {kind}" for c, kind in _INGEST_COLUMNS.items())
    sql = (
        "WITH v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(" + record + ")), "  # noqa: S608 - table and column names from the model; values are parameters
        "ins AS (INSERT INTO " + table + " (" + columns + ", source, received_at, outcome, detail, ingest_batch) "
        "SELECT " + columns + ", %s, %s, %s, '', %s FROM v ORDER BY dedupe_key ON CONFLICT (dedupe_key) DO NOTHING "
        "RETURNING id, dedupe_key) "
        "SELECT id, dedupe_key, %s, true FROM ins UNION ALL "
        "SELECT e.id, e.dedupe_key, e.outcome, false FROM " + table + " AS e WHERE e.dedupe_key = ANY(%s)"
    )
    keys = [row.dedupe_key for row in rows]
    params: list[Any] = [
        _as_json([{c: getattr(row, c) for c in _INGEST_COLUMNS} for row in rows]),
        rows[0].source,
        timezone.now(),
        EventOutcome.PENDING,
        batch,
        EventOutcome.PENDING,
        keys,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        stored: Stored = {key: (pk, outcome, inserted) for pk, key, outcome, inserted in cursor.fetchall()}
    missing = [key for key in keys if key not in stored]
    if missing:
        stored.update(
            (key, (pk, outcome, False))
            for pk, key, outcome in UploadEvent.objects.filter(dedupe_key__in=missing).values_list(
                "pk", "dedupe_key", "outcome"
            )
        )
    return stored


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
    broken limits) then goes through `event_apply` one by one, in sequencer order.
    If the batch transaction fails, nothing of it is kept and a retry starts again.
    Returns how many events got each outcome ("unchanged": applied before).
    """
    ids = sorted(set(event_ids))
    outcomes: Counter[str] = Counter()
    rest = _apply_common_case(ids, outcomes)
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
            .only("pk", "key", "state", "declared_size", "last_sequencer", "portal_id")
        }
        applied: list[tuple[UploadEvent, Upload]] = []
        for event in candidates:
            upload = uploads.get(event.key)
            if (
                upload is not None
                # A portal's uploads have the portal's own limits (per file and in
                # total, under its row lock): upload_apply_stored_object checks them.
                and upload.portal_id is None
                and upload.state in _WAITING
                and sequencer_is_newer(event.sequencer, upload.last_sequencer)
                and not check_stored(limits, declared_size=upload.declared_size, stored_size=event.size or 0)
            ):
                applied.append((event, upload))
        if applied:
            _write_stored(applied, timezone.now())
    outcomes[EventOutcome.APPLIED] += len(applied)
    for event, upload in applied:
        logger.info("event %s %s %s: %s (%s)", event.pk, event.event_name, upload.pk, EventOutcome.APPLIED, _STORED_DETAIL)
    done = {event.pk for event, _ in applied}
    # The rest in S3's order per key (a batch may hold a delete before its create).
    rest = sorted((e for e in events if e.pk not in done), key=lambda e: (sequencer_order(e.sequencer), e.pk))
    return [event.pk for event in rest]


def _write_stored(applied: list[tuple[UploadEvent, Upload]], now: dt.datetime) -> None:
    """Uploads -> stored, one audit entry each, events -> applied: on PostgreSQL
    three statements for the lot (UPDATE ... FROM jsonb_to_recordset; Django's
    bulk_update builds a CASE per row and column and costs more than the per-event
    path). Audit entries are built as `audit_record` builds them, for a task."""
    context = current() or ActorContext(request_id="")
    AuditEntry.objects.bulk_create(
        AuditEntry(
            action="upload.stored",
            actor_label=context.system_actor,
            upload_id=upload.pk,
            request_id=context.request_id,
            ip_address=context.ip_address,
            detail={"stored_size": event.size, "etag": event.etag, "reason": "", "sequencer": event.sequencer},
        )
        for event, upload in applied
    )
    if connection.vendor != "postgresql":
        for event, upload in applied:
            Upload.objects.filter(pk=upload.pk).update(
                state=UploadState.STORED, stored_at=now, updated_at=now,
                stored_size=event.size, etag=event.etag, last_sequencer=event.sequencer,
            )
            UploadEvent.objects.filter(pk=event.pk).update(
                outcome=EventOutcome.APPLIED, detail=_STORED_DETAIL, applied_at=now, upload_id=upload.pk
            )
        return
    uploads = connection.ops.quote_name(Upload._meta.db_table)
    events = connection.ops.quote_name(UploadEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE " + uploads + " AS u SET state = %s, stored_at = %s, updated_at = %s, "  # noqa: S608 - table names from the models; values are parameters
            "stored_size = v.size, etag = v.etag, last_sequencer = v.seq "
            "FROM jsonb_to_recordset(%s::jsonb) AS v(id uuid, size bigint, etag text, seq text) WHERE u.id = v.id",
            [
                UploadState.STORED, now, now,
                _as_json([{"id": u.pk, "size": e.size, "etag": e.etag, "seq": e.sequencer} for e, u in applied]),
            ],
        )
        cursor.execute(
            "UPDATE " + events + " AS e SET outcome = %s, detail = %s, applied_at = %s, upload_id = v.upload "  # noqa: S608 - as above
            "FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, upload uuid) WHERE e.id = v.id",
            [EventOutcome.APPLIED, _STORED_DETAIL, now, _as_json([{"id": e.pk, "upload": u.pk} for e, u in applied])],
        )
