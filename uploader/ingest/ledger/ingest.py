"""Ledger, first half: messages from any source in, each distinct event stored once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from uploader.ingest.events import ObjectEvent, parse_s3_message
from uploader.ingest.models import EventOutcome, UploadEvent

logger = logging.getLogger(__name__)



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


def events_ingest_many(*, bodies: list[str | bytes], source: str) -> list[IngestResult]:
    """Store the events of several messages (an SQS batch) in one transaction; one
    result per message, in order, each naming its rows still pending. Enqueueing
    them is the caller's (`ingest.tasks.events_receive_many`)."""
    return _record_many(bodies=bodies, source=source)


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


def as_json(rows: list[dict[str, Any]]) -> str:
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
        as_json([{c: getattr(row, c) for c in _INGEST_COLUMNS} for row in rows]),
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

