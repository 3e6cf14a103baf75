"""Periodic reconciliation: make the rows agree with the bucket, whatever was missed.

Events can be lost (a queue purged, a webhook down past its retries) and browsers
abandon uploads. This walks the bucket prefix and the open multipart uploads and
fixes, each with an audit entry by the "reconcile" actor:
- objects with no row, or whose row never heard it was stored → recorded/stored
  (limits checked as always);
- stored rows whose object is gone → `deleted`;
- objects of rejected uploads still in the bucket → removed;
- multipart uploads older than the cut-off → aborted in S3 and marked `aborted`;
- single-upload registrations older than the cut-off with no object → `aborted`
  (expired).
Running it twice in a row fixes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from uploader import s3
from uploader.uploads.models import ScanState, Upload, UploadState
from uploader.uploads.storing import upload_apply_stored_object, upload_close, upload_record_unregistered

logger = logging.getLogger(__name__)

OPEN_STATES = (UploadState.REGISTERED, UploadState.UPLOADING)


@dataclass
class ReconcileReport:
    recorded: int = 0
    marked_deleted: int = 0
    removed_rejected: int = 0
    aborted_multipart: int = 0
    expired_registrations: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def fixed(self) -> int:
        return self.recorded + self.marked_deleted + self.removed_rejected + self.aborted_multipart + self.expired_registrations


def _prefix() -> str:
    return f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/"


def _close(upload_id: uuid.UUID, state: str, action: str, detail: dict[str, object]) -> bool:
    return upload_close(upload_id=upload_id, state=state, action=action, detail=detail)[1]


def reconcile(*, older_than: dt.timedelta, report: Callable[[str], None] = lambda line: None) -> ReconcileReport:
    result = ReconcileReport()

    def say(line: str) -> None:
        result.lines.append(line)
        report(line)
        logger.info("reconcile: %s", line)

    cutoff = timezone.now() - older_than
    report(f"listing {settings.INTAKE_S3_BUCKET}/{_prefix()}")
    present: dict[str, s3.ObjectSummary] = {item.key: item for item in s3.list_objects(prefix=_prefix())}
    report(f"{len(present)} object(s) found; comparing with the uploads")
    rows = {u.key: u for u in Upload.objects.filter(key__in=list(present)).only("id", "key", "state", "content_md5")}
    for key, item in present.items():
        upload = rows.get(key)
        if upload is None or upload.state in OPEN_STATES:
            if upload is None:
                upload = upload_record_unregistered(key=key, head=s3.head_object(key=key))
            head = s3.ObjectHead(size=item.size, etag=item.etag, content_type="")
            if upload.content_md5 and item.etag != upload.content_md5:
                head = s3.head_object(key=key)  # a listing does not say whether KMS made the ETag
            stored = upload_apply_stored_object(upload_id=upload.pk, head=head)
            result.recorded += 1
            say(f"recorded {key} as {stored.state}")
        elif upload.state == UploadState.REJECTED:
            s3.delete_object(key=key)
            result.removed_rejected += 1
            say(f"removed the object of rejected upload {upload.pk}")

    # An infected file's object was moved to quarantine (or deleted) on purpose.
    missing = Upload.objects.filter(state=UploadState.STORED).exclude(scan_state=ScanState.INFECTED)
    for upload in missing.exclude(key__in=list(present)).iterator():
        if _close(upload.pk, UploadState.DELETED, "upload.deleted", {"reason": "object missing from the bucket (reconcile)"}):
            result.marked_deleted += 1
            say(f"marked {upload.pk} deleted: its object is gone")

    for open_upload in s3.list_open_multipart_uploads(prefix=_prefix()):
        row = Upload.objects.filter(key=open_upload.key, multipart_upload_id=open_upload.upload_id).first()
        # Young by either clock is young: some S3-compatible servers report a
        # placeholder `Initiated`, and our registration time is known for our own.
        if open_upload.initiated >= cutoff or (row is not None and row.created_at >= cutoff):
            continue
        s3.abort_multipart_upload(key=open_upload.key, upload_id=open_upload.upload_id)
        result.aborted_multipart += 1
        if row is not None:
            _close(row.pk, UploadState.ABORTED, "upload.aborted", {"reason": "abandoned multipart upload (reconcile)"})
        say(f"aborted the multipart upload of {open_upload.key} (started {open_upload.initiated:%Y-%m-%d %H:%M})")

    stale = Upload.objects.filter(state=UploadState.REGISTERED, is_multipart=False, created_at__lt=cutoff).exclude(
        key__in=list(present)
    )
    for upload in stale.iterator():
        if _close(upload.pk, UploadState.ABORTED, "upload.expired", {"reason": "registered but never uploaded"}):
            result.expired_registrations += 1
            say(f"expired registration {upload.pk} ({upload.original_filename})")
    return result
