"""Malware scanning of stored files: scan, apply a verdict, contain what is infected,
release what could not be scanned (docs/scanning.md).

A stored file starts `pending` and is not downloaded, previewed, processed or
announced until its scan state says it may be (`Upload.scan_allows_use`): a scanner
that is down leaves files pending (fail closed), never clean. The scan state is
written only through uploader.scanning.state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from uploader import s3
from uploader.access.roles import Permission, require_permission
from uploader.audit.models import AuditEntry
from uploader.audit.services import audit_record
from uploader.notify.infected import notify_infected
from uploader.processing.tasks import ProcessingFollowups
from uploader.scanning.scanners import Scanner, Verdict, configured_scanner
from uploader.scanning.state import scan_move, scan_set_quarantine_key
from uploader.uploads.errors import InvalidInput, UploadNotFound, WrongState
from uploader.uploads.models import ScanState, Upload, UploadState

logger = logging.getLogger(__name__)

CONTAINED_ACTIONS = ("upload.quarantined", "upload.infected_deleted")
RELEASE_REASON_MAX = 500


def upload_scan(*, upload_id: uuid.UUID | str, scanner: Scanner | None = None) -> str:
    """Scan a stored, pending upload with the configured scanner, streaming its object
    from S3 a chunk at a time, and apply the verdict; returns the scan state after.
    Idempotent: a file already settled is left as it is (an infected one not yet
    contained is contained). Raises ScannerUnavailable or StorageUnavailable when the
    scan cannot run now: the file stays pending and the task retries."""
    upload = Upload.objects.filter(pk=upload_id).first()
    if upload is None or upload.state != UploadState.STORED:
        return "not stored"
    if upload.scan_state == ScanState.INFECTED:
        upload_contain(upload)
        return upload.scan_state
    if upload.scan_state != ScanState.PENDING or (scanner is None and settings.INTAKE_SCANNER != "clamd"):
        return upload.scan_state  # settled, or GuardDuty's result event settles it
    if (upload.stored_size or 0) > settings.INTAKE_SCAN_MAX_BYTES:
        verdict = Verdict("unscannable", f"larger than INTAKE_SCAN_MAX_BYTES ({settings.INTAKE_SCAN_MAX_BYTES} bytes)")
        return scan_verdict_apply(upload_id=upload.pk, verdict=verdict, scanner="size check")
    scanner = scanner or configured_scanner()
    chunks = s3.iter_object_chunks(key=upload.key, chunk_size=settings.INTAKE_SCAN_CHUNK_BYTES, if_match=upload.etag)
    try:
        verdict = scanner.scan(chunks)
    except s3.ObjectNotFound:
        return "object gone"  # its delete event (or reconciliation) closes the upload
    except s3.StorageRefused as exc:
        if exc.code != "PreconditionFailed":
            raise
        return "object replaced"  # another ETag: the replace check rejects the upload
    return scan_verdict_apply(upload_id=upload.pk, verdict=verdict, scanner=scanner.name)


def scan_verdict_apply(*, upload_id: uuid.UUID, verdict: Verdict, scanner: str, contain: bool = True) -> str:
    """Record a scanner's verdict on a pending (or not scannable) file and do what
    follows: a clean file is released to processing; an infected one is contained
    and people are told (unless `contain` is False: the caller then runs the scan
    task, which contains it, after its transaction); one that could not be scanned is
    held, or released when its portal's policy says so. A verdict on a settled file
    changes nothing."""
    detail: dict[str, Any] = {"scanner": scanner, "detail": verdict.detail}
    values = {"scan_detail": verdict.detail[:255]}
    if verdict.outcome == "clean":
        moved = scan_move(upload_id=upload_id, to=ScanState.CLEAN, detail=detail, values=values)
        if moved:
            _released(moved)
    elif verdict.outcome == "infected":
        moved = scan_move(upload_id=upload_id, to=ScanState.INFECTED, detail=detail, values=values)
        if moved:
            logger.warning("upload %s is infected: %s", upload_id, verdict.detail)
            if contain:
                upload_contain(moved)
    else:
        upload = Upload.objects.select_related("portal").filter(pk=upload_id).first()
        if upload is not None and upload.portal is not None and upload.portal.release_unscannable:
            detail["policy"] = "the portal releases files that cannot be scanned"
            moved = scan_move(upload_id=upload_id, to=ScanState.RELEASED, detail=detail, values=values)
            if moved:
                _released(moved)
        else:
            scan_move(upload_id=upload_id, to=ScanState.UNSCANNABLE, detail=detail, values=values)
    now = Upload.objects.filter(pk=upload_id).values_list("scan_state", flat=True).first()
    return now or "gone"


def _released(upload: Upload) -> None:
    """A file that may now be used gets what waited for it (its derivatives)."""
    with transaction.atomic():
        ProcessingFollowups().stored(upload)


def upload_contain(upload: Upload) -> None:
    """Move an infected file's object to the quarantine prefix (or delete it, when
    INTAKE_SCAN_INFECTED is "delete") and tell staff and admins; once, however often
    it is asked (a retry after a mail server failure only tells people). The destination is recorded before the move, so the object's delete
    event, which may come first, finds the upload already infected."""
    if AuditEntry.objects.filter(upload_id=upload.pk, action__in=CONTAINED_ACTIONS).exists():
        notify_infected(upload)  # once: it checks its own audit entry
        return
    if settings.INTAKE_SCAN_INFECTED == "delete":
        with contextlib.suppress(s3.ObjectNotFound):
            s3.delete_object(key=upload.key)
        with transaction.atomic():
            scan_set_quarantine_key(upload_id=upload.pk, key="")
            audit_record(action="upload.infected_deleted", upload=upload, detail={"key": upload.key})
    else:
        destination = f"{settings.INTAKE_SCAN_QUARANTINE_PREFIX}/{upload.key}"
        scan_set_quarantine_key(upload_id=upload.pk, key=destination)
        try:
            s3.move_object(source_key=upload.key, destination_key=destination)
        except s3.ObjectNotFound:
            if s3.head_object_or_none(key=destination) is None:
                raise  # neither here nor there: let the task retry and say so
        audit_record(action="upload.quarantined", upload=upload, detail={"from": upload.key, "to": destination})
    upload.refresh_from_db()
    notify_infected(upload)


def upload_release(*, user: Any, upload_id: uuid.UUID | str, reason: str) -> Upload:
    """An admin releases a file the scanner could not scan, with a reason (audited
    `upload.scan_released`). Only a file that is "not scannable" can be released:
    a pending file waits for its scan, and an infected one is never released."""
    require_permission(user, Permission.RELEASE_FILES)
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("Say why this file may be used without a scan.", field="reason")
    if len(reason) > RELEASE_REASON_MAX:
        raise InvalidInput(f"Keep the reason under {RELEASE_REASON_MAX} characters.", field="reason")
    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None:
            raise UploadNotFound("No such file.")
        if upload.scan_state != ScanState.UNSCANNABLE:
            raise WrongState(f"Only files the scanner could not scan can be released; this one is {upload.scan_state}.")
        moved = scan_move(
            upload_id=upload.pk, to=ScanState.RELEASED, user=user, detail={"reason": reason, "by": "admin"}
        )
        assert moved is not None  # under the row lock, from unscannable
        _released(moved)
    return moved


def upload_mark_not_scanned(upload: Upload) -> None:
    """Scanning is off (INTAKE_SCANNER=none): the file is released as "not scanned".
    Not audited: it is the setting's doing, the same for every file (the file's page
    says scanning is off)."""
    moved = scan_move(upload_id=upload.pk, to=ScanState.NOT_SCANNED, audited=False)
    if moved:
        _released(moved)


def uploads_awaiting_scan(*, stored_before: dt.datetime, limit: int = 500) -> list[str]:
    """Stored files still pending a verdict, stored before `stored_before`, oldest first."""
    rows = Upload.objects.filter(state=UploadState.STORED, scan_state=ScanState.PENDING, stored_at__lt=stored_before)
    return [str(pk) for pk in rows.order_by("stored_at").values_list("pk", flat=True)[:limit]]
