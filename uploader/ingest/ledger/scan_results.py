"""Ledger events of kind "scanned" (GuardDuty's results) applied to their uploads.

Safe in any order: a result that arrives before its object's stored event waits
(stays pending) and is applied right after that event (`scan_results_waiting`), or
by the stuck-events sweep; a result for another version of the object (its ETag is
not the upload's) is stale; a repeat is one ledger row; and the scan state machine
keeps the first verdict (uploader.scanning.state), so each file has one outcome.
"""

from __future__ import annotations

from django.db import transaction

from uploader.ingest.guardduty import verdict_of
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.scanning import services as scanning
from uploader.scanning import tasks as scanning_tasks
from uploader.uploads.models import ScanState, Upload, UploadState

WAITING_FOR_OBJECT = "waiting for the object's stored event"


def apply_scan_result(event: UploadEvent, upload: Upload | None) -> tuple[str, str]:
    """(outcome, detail) for a scan result; PENDING leaves the row to be applied later."""
    if upload is None or upload.state in {UploadState.REGISTERED, UploadState.UPLOADING}:
        return EventOutcome.PENDING, WAITING_FOR_OBJECT
    if upload.state != UploadState.STORED:
        return EventOutcome.IGNORED, f"upload is {upload.state}"
    if event.etag and upload.etag and event.etag != upload.etag:
        return EventOutcome.STALE, f"result for ETag {event.etag}, the upload is {upload.etag}"
    verdict = verdict_of(event.event_name, str(event.raw.get("detail", "")))
    state = scanning.scan_verdict_apply(upload_id=upload.pk, verdict=verdict, scanner="guardduty", contain=False)
    if state == ScanState.INFECTED:
        # Moving the object and telling people reach S3 and the mail server: after
        # this transaction, by the scan task (which contains infected files, once).
        upload_id = str(upload.pk)
        transaction.on_commit(lambda: scanning_tasks.scan_upload.delay(upload_id), robust=True)
    return EventOutcome.APPLIED, f"scan is {state}"


def scan_results_waiting(keys: list[str]) -> list[int]:
    """Pending scan results of these keys (to apply once their object is stored)."""
    if not keys:
        return []
    rows = UploadEvent.objects.filter(key__in=keys, kind="scanned", outcome=EventOutcome.PENDING)
    return list(rows.order_by("pk").values_list("pk", flat=True))
