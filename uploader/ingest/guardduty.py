"""Amazon GuardDuty Malware Protection for S3: its result events, as ledger events.

GuardDuty scans each new object under the protected prefix and publishes one
EventBridge event per scan (detail-type "GuardDuty Malware Protection Object Scan
Result", source "aws.guardduty"), which the stack routes to the events queue. Its
documented shape: `detail.s3ObjectDetails` {bucketName, objectKey, eTag, versionId}
and `detail.scanResultDetails` {scanResultStatus: NO_THREATS_FOUND | THREATS_FOUND |
UNSUPPORTED | ACCESS_DENIED | FAILED, threats: [{name}]}. Each becomes an
`ObjectEvent` of kind "scanned" (its ledger identity: bucket, key, ETag and version,
so a repeated delivery is one row); `uploader.ingest.ledger.apply` hands it to
uploader.scanning once the object's upload is stored.
"""

from __future__ import annotations

from typing import Any

from uploader.ingest.events import MAX_KEY_BYTES, ObjectEvent, ParsedMessage, _parse_time
from uploader.scanning.scanners import Verdict

GUARDDUTY_SOURCE = "aws.guardduty"
SCAN_RESULT = "GuardDuty Malware Protection Object Scan Result"
STATUSES = frozenset({"NO_THREATS_FOUND", "THREATS_FOUND", "UNSUPPORTED", "ACCESS_DENIED", "FAILED"})
EVENT_PREFIX = "GuardDutyScan:"


def parse_guardduty(document: dict[str, Any]) -> ParsedMessage:
    if document.get("detail-type") != SCAN_RESULT:
        return ParsedMessage(
            skipped=(f"GuardDuty event {str(document.get('detail-type'))[:60]!r} is not a scan result",)
        )
    detail = document.get("detail")
    obj = detail.get("s3ObjectDetails") if isinstance(detail, dict) else None
    result = detail.get("scanResultDetails") if isinstance(detail, dict) else None
    if (
        not isinstance(obj, dict)
        or not obj.get("bucketName")
        or not obj.get("objectKey")
        or not isinstance(result, dict)
    ):
        return ParsedMessage(skipped=("GuardDuty event: no bucket, object key or result",))
    if len(str(obj["objectKey"]).encode("utf-8", errors="surrogatepass")) > MAX_KEY_BYTES:
        return ParsedMessage(skipped=(f"GuardDuty event: object key longer than S3's {MAX_KEY_BYTES} bytes",))
    status = str(result.get("scanResultStatus", ""))
    if status not in STATUSES:
        return ParsedMessage(skipped=(f"GuardDuty event: unknown result {status[:40]!r}",))
    threats = result.get("threats") or []
    names = [str(t.get("name", ""))[:100] for t in threats if isinstance(t, dict)] if isinstance(threats, list) else []
    return ParsedMessage(
        events=(
            ObjectEvent(
                bucket=str(obj["bucketName"]),
                key=str(obj["objectKey"]),
                kind="scanned",
                event_name=f"{EVENT_PREFIX}{status}",
                source=GUARDDUTY_SOURCE,
                size=None,
                etag=str(obj.get("eTag", "") or "").strip('"'),
                sequencer="",
                version_id=str(obj.get("versionId", "") or ""),
                event_time=_parse_time(document.get("time")),
                detail=", ".join(name for name in names if name)[:200],
            ),
        )
    )


def verdict_of(event_name: str, detail: str) -> Verdict:
    """A stored GuardDuty event's verdict. ACCESS_DENIED and FAILED mean GuardDuty did
    not scan the file: like UNSUPPORTED it is held as "not scannable" (an admin may
    release it), never clean."""
    status = event_name.removeprefix(EVENT_PREFIX)
    if status == "NO_THREATS_FOUND":
        return Verdict("clean")
    if status == "THREATS_FOUND":
        return Verdict("infected", detail or "GuardDuty found a threat")
    return Verdict("unscannable", f"GuardDuty could not scan it ({status})")
