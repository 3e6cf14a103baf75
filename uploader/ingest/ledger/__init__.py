"""The event ledger: S3 object events in, each effect exactly once.

Every source (SQS, SNS, the webhook) hands its raw messages to `ingest.tasks.events_receive_many`, which
parses it, stores each distinct event once (the unique `dedupe_key` turns repeated
deliveries into no-ops, `events_ingest_many`) and enqueues `apply_object_events` for
new rows after the transaction commits. `event_apply` is idempotent and orders events per key by S3's
sequencer; where a server sends none it asks S3 (HEAD) what is true now.

Both halves are set-based, because S3 sends an event per object and a busy bucket
sends thousands a second: an SQS batch is stored with one INSERT ... ON CONFLICT DO
NOTHING ... RETURNING, and `events_apply` applies the common case of a whole batch
(a create, with a sequencer and a size, for an upload waiting for its object) in one
transaction of five statements. Everything else goes through `event_apply`.

The package: `ingest` (messages in, rows stored once) and `apply` (rows to effects).
"""

from uploader.ingest.ledger.apply import event_apply, events_apply, events_pending_before
from uploader.ingest.ledger.ingest import IngestResult, _raw, dedupe_key, events_ingest_many

__all__ = [
    "IngestResult",
    "_raw",
    "dedupe_key",
    "event_apply",
    "events_apply",
    "events_ingest_many",
    "events_pending_before",
]
