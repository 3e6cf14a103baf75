"""Turn S3 event notification messages into plain, frozen records. No side effects.

S3 (event message structure 2.x), MinIO and Ceph RGW send the same shape with small
differences this module absorbs:
- AWS and MinIO URL-encode object keys (form encoding: `+` for space); Ceph RGW
  (`eventSource` `ceph:s3`) sends them as they are.
- Ceph RGW's sequencer is its event timestamp as two little-endian 32-bit words
  (seconds, nanoseconds) in hex, which does not sort; it is rewritten here to the
  big-endian form, which sorts by S3's rule like AWS's sequencers do.
- `s3:TestEvent` messages carry no records.
- A message may hold several records, or arrive wrapped in an SNS envelope.
- Amazon EventBridge delivers one event per message in its own envelope
  (`source` `aws.s3`, `detail-type` "Object Created"/"Object Deleted", the object
  under `detail`); its keys are not URL-encoded. An EventBridge rule with an SQS
  target feeds the same consumer; the same object event from both paths dedupes
  (the ledger keys on bucket, key, kind and sequencer, not on the source).
Anything malformed becomes a reason in `ParsedMessage.skipped`, never an exception,
so one bad message cannot stall a consumer.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus

MAX_MESSAGE_BYTES = 256 * 1024  # SQS's own limit; anything larger is not from S3
SUPPORTED_MAJOR_VERSION = "2"
URL_ENCODING_SOURCES = frozenset({"aws:s3", "minio:s3"})

# "scanned": a malware scanner's verdict on the object (uploader.ingest.guardduty).
EventKind = Literal["created", "removed", "scanned"]


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    key: str
    kind: EventKind
    event_name: str
    source: str
    size: int | None
    etag: str
    sequencer: str
    version_id: str
    event_time: dt.datetime | None
    # A scan result's threat names (kind "scanned" only).
    detail: str = ""


@dataclass(frozen=True)
class ParsedMessage:
    events: tuple[ObjectEvent, ...] = ()
    skipped: tuple[str, ...] = ()
    is_test_event: bool = False


@dataclass
class _Collector:
    events: list[ObjectEvent] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _event_kind(event_name: str) -> EventKind | None:
    name = event_name.removeprefix("s3:")
    if name.startswith("ObjectCreated:"):
        return "created"
    if name.startswith("ObjectRemoved:"):
        return "removed"
    return None


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _sortable_sequencer(source: str, sequencer: str) -> str:
    if source == "ceph:s3" and len(sequencer) == 16:
        try:
            raw = bytes.fromhex(sequencer)
        except ValueError:
            return sequencer
        seconds, nanoseconds = int.from_bytes(raw[:4], "little"), int.from_bytes(raw[4:], "little")
        return f"{seconds:08X}{nanoseconds:08X}"
    return sequencer


def _parse_record(record: Any, index: int, out: _Collector) -> None:
    if not isinstance(record, dict):
        out.skipped.append(f"record {index}: not an object")
        return
    version = str(record.get("eventVersion", ""))
    if version.split(".", 1)[0] != SUPPORTED_MAJOR_VERSION:
        out.skipped.append(f"record {index}: unsupported eventVersion {version[:20]!r}")
        return
    event_name = str(record.get("eventName", ""))
    kind = _event_kind(event_name)
    if kind is None:
        out.skipped.append(f"record {index}: event {event_name[:60]!r} is not an object create/remove")
        return
    s3_part = record.get("s3")
    bucket = s3_part.get("bucket", {}) if isinstance(s3_part, dict) else None
    obj = s3_part.get("object", {}) if isinstance(s3_part, dict) else None
    if not isinstance(bucket, dict) or not isinstance(obj, dict) or not bucket.get("name") or not obj.get("key"):
        out.skipped.append(f"record {index}: no bucket name or object key")
        return
    source = str(record.get("eventSource", ""))
    raw_key = str(obj["key"])
    key = unquote_plus(raw_key) if source in URL_ENCODING_SOURCES else raw_key
    if len(key.encode("utf-8", errors="surrogatepass")) > MAX_KEY_BYTES:
        out.skipped.append(f"record {index}: object key longer than S3's {MAX_KEY_BYTES} bytes")
        return
    size = obj.get("size")
    out.events.append(
        ObjectEvent(
            bucket=str(bucket["name"]),
            key=key,
            kind=kind,
            event_name=event_name,
            source=source,
            size=_size(size),
            etag=str(obj.get("eTag", "")).strip('"'),
            sequencer=_sortable_sequencer(source, str(obj.get("sequencer", ""))),
            version_id=str(obj.get("versionId", "") or ""),
            event_time=_parse_time(record.get("eventTime")),
        )
    )


# S3's longest key, in UTF-8 bytes; the ledger's column holds no more.
MAX_KEY_BYTES = 1024
# S3's largest object (5 TiB); a bigger or negative size is not a real event's, and
# must not reach a BIGINT column (10**40 raised OverflowError there).
MAX_OBJECT_SIZE = 5 * 1024**4


def _size(value: Any) -> int | None:
    """An event's object size, or None when it is absent or not a plausible size (the
    event is then applied with a HEAD, which says what is true)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_OBJECT_SIZE:
        return None
    return value


EVENTBRIDGE_SOURCE = "aws.s3"
EVENTBRIDGE_KINDS: dict[str, EventKind] = {"Object Created": "created", "Object Deleted": "removed"}


def _parse_eventbridge(document: dict[str, Any]) -> ParsedMessage:
    detail_type = str(document.get("detail-type", ""))
    kind = EVENTBRIDGE_KINDS.get(detail_type)
    if kind is None:
        return ParsedMessage(skipped=(f"EventBridge event {detail_type[:60]!r} is not an object create/delete",))
    detail = document.get("detail")
    bucket = detail.get("bucket") if isinstance(detail, dict) else None
    obj = detail.get("object") if isinstance(detail, dict) else None
    if not isinstance(bucket, dict) or not isinstance(obj, dict) or not bucket.get("name") or not obj.get("key"):
        return ParsedMessage(skipped=("EventBridge event: no bucket name or object key",))
    if len(str(obj["key"]).encode("utf-8", errors="surrogatepass")) > MAX_KEY_BYTES:
        return ParsedMessage(skipped=(f"EventBridge event: object key longer than S3's {MAX_KEY_BYTES} bytes",))
    assert isinstance(detail, dict)
    size = obj.get("size")
    what = detail.get("reason") if kind == "created" else detail.get("deletion-type")
    return ParsedMessage(
        events=(
            ObjectEvent(
                bucket=str(bucket["name"]),
                key=str(obj["key"]),  # EventBridge sends keys as they are
                kind=kind,
                event_name=f"{'ObjectCreated' if kind == 'created' else 'ObjectRemoved'}:{str(what or '')[:40]}",
                source=EVENTBRIDGE_SOURCE,
                size=_size(size),
                etag=str(obj.get("etag", "")).strip('"'),
                sequencer=str(obj.get("sequencer", "")),
                version_id=str(obj.get("version-id", "") or ""),
                event_time=_parse_time(document.get("time")),
            ),
        )
    )


def _holds_nul(document: Any) -> bool:
    """Any NUL in the parsed document's keys or strings; iterative, since json accepted
    a nesting as deep as the interpreter's recursion allows."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_s3_message(body: str | bytes) -> ParsedMessage:
    """Parse one queue/webhook message body (possibly an SNS envelope)."""
    if len(body) > MAX_MESSAGE_BYTES:
        return ParsedMessage(skipped=(f"message of {len(body)} bytes exceeds {MAX_MESSAGE_BYTES}",))
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ParsedMessage(skipped=("message is not valid JSON",))
    except RecursionError:
        # json's decoder recurses per nesting level: a message nested thousands deep is
        # not from S3, and must not crash (and so re-deliver) in the consumer.
        return ParsedMessage(skipped=("message is nested too deeply",))
    if _holds_nul(document):
        # No S3 key or field holds NUL, and PostgreSQL text cannot: such a message is
        # not from S3, and storing it would fail its whole batch.
        return ParsedMessage(skipped=("message contains NUL characters",))
    if isinstance(document, dict) and document.get("Type") == "Notification" and isinstance(document.get("Message"), str):
        return parse_s3_message(document["Message"])  # SNS envelope
    if not isinstance(document, dict):
        return ParsedMessage(skipped=("message is not a JSON object",))
    if document.get("Event") == "s3:TestEvent":
        return ParsedMessage(is_test_event=True)
    if document.get("source") == "aws.guardduty" and "detail-type" in document:
        from uploader.ingest.guardduty import parse_guardduty  # it builds on this module

        return parse_guardduty(document)
    if document.get("source") == EVENTBRIDGE_SOURCE and "detail-type" in document:
        return _parse_eventbridge(document)
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        return ParsedMessage(skipped=("message has no Records",))
    out = _Collector()
    for index, record in enumerate(records):
        _parse_record(record, index, out)
    return ParsedMessage(events=tuple(out.events), skipped=tuple(out.skipped))


SEQUENCER_WIDTH = 64


def sequencer_order(sequencer: str) -> str:
    """Sort key for sequencers of one object key. S3's documented rule: right-pad
    the shorter with zeros, then compare lexicographically (as upper-case hex)."""
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


def sequencer_is_newer(candidate: str, applied: str) -> bool:
    """An empty candidate is never newer; anything is newer than nothing applied."""
    if not candidate:
        return False
    return not applied or sequencer_order(candidate) > sequencer_order(applied)
