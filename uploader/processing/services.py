"""Processing of uploads: thumbnails of images, text of PDF documents.

A portal's `processing` options say what to make from its files; staff uploads (no
portal) get INTAKE_STAFF_PROCESSING (both, unless configured otherwise). When an upload becomes
`stored`, `upload_apply_stored_object` enqueues `tasks.process_upload` on commit;
the task calls `upload_process`, which reads the object (at most
INTAKE_PROCESSING_MAX_BYTES), makes each derived file, writes it to
`derived/<upload id>/<kind>.<ext>` through the app files' storage (STORAGES["intake"];
outside the uploads prefix, so bucket events and reconciliation never see it) and
only then records a `Derivative` row with its
`upload.processed` audit entry. Files it cannot handle (not an image, corrupt or
encrypted PDF, too large) get an `upload.processing_failed` entry with the reason
and nothing else: no retry, no crash. A repeat makes nothing twice: a kind with a
row, or with a recorded failure, is skipped. Each attempt is recorded before the
file is decoded (`upload.processing_started`), so a run that a worker's death cut
short (out of memory, hard time limit) is recorded as failed by the next run
instead of killing that worker too.

The pure parts (`make_thumbnail`, `extract_document_text`, `derived_key`,
`wanted_kinds`) are in uploader.processing.derivatives: they take bytes and raise
`CannotProcess`; they never touch S3 or the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from uploader import s3
from uploader.access.principals import UploadPrincipal
from uploader.access.roles import Permission
from uploader.audit.models import AuditEntry
from uploader.audit.services import audit_record
from uploader.processing.derivatives import (
    CannotProcess,
    Made,
    derived_key,
    extract_document_text,
    make_thumbnail,
    wanted_kinds,
)
from uploader.processing.models import Derivative, DerivativeKind
from uploader.uploads.downloads import derived_file_url
from uploader.uploads.errors import StorageUnavailable
from uploader.uploads.models import SCAN_USABLE, Upload, UploadState

logger = logging.getLogger(__name__)

ATTEMPT_STARTED = "upload.processing_started"
ATTEMPT_INTERRUPTED = "upload.processing_interrupted"
ATTEMPT_CLOSED = (ATTEMPT_INTERRUPTED, "upload.processed", "upload.processing_failed")
CRASHED = "processing stopped before it finished (the worker was killed or timed out)"


class NoLongerStored(Exception):
    """The upload left `stored` (replaced, deleted) while its derivative was made."""


# --- reading, storing, recording ------------------------------------------------------


def processing_options(upload: Upload) -> list[str]:
    """What to make from this upload: its portal's options, or for a staff upload
    (no portal) INTAKE_STAFF_PROCESSING (thumbnails and PDF text unless configured
    otherwise)."""
    if upload.portal_id is None:
        return list(settings.INTAKE_STAFF_PROCESSING)
    assert upload.portal is not None
    return list(upload.portal.processing)


def _read_source(upload: Upload, *, max_bytes: int) -> bytes:
    """At most `max_bytes` of the object, or CannotProcess when it is larger.

    A ranged read cut at the limit: the object may have been replaced since it was
    stored (a signed POST can be used again until it expires), so its recorded size
    is not trusted alone. S3 being down raises s3.StorageUnavailable (retried)."""
    if (upload.stored_size or 0) > max_bytes:
        raise CannotProcess(f"the file is larger than the {max_bytes} bytes processing reads")
    try:
        return s3.get_object_head_bytes(key=upload.key, max_bytes=max_bytes)
    except s3.ObjectTooLarge:
        raise CannotProcess(f"the file is larger than the {max_bytes} bytes processing reads") from None
    except s3.ObjectNotFound:
        raise CannotProcess("the file is no longer in storage") from None
    except s3.StorageRefused as exc:
        raise CannotProcess(f"storage refused to read the file ({exc.code})") from None


def _make(kind: str, data: bytes) -> Made:
    if kind == DerivativeKind.THUMBNAIL:
        return make_thumbnail(data, max_pixels=settings.INTAKE_PROCESSING_MAX_PIXELS)
    return extract_document_text(
        data, max_pages=settings.INTAKE_PROCESSING_TEXT_PAGES, max_bytes=settings.INTAKE_PROCESSING_TEXT_MAX_BYTES
    )


def _failed_before(upload: Upload, kind: str) -> bool:
    return AuditEntry.objects.filter(upload=upload, action="upload.processing_failed", detail__kind=kind).exists()


def _open_attempt(upload: Upload, kind: str) -> AuditEntry | None:
    """The latest `upload.processing_started` entry of this kind when no entry after
    it closed it (made, failed, or interrupted by an S3 outage and retried): the run
    that wrote it never finished."""
    started = AuditEntry.objects.filter(upload=upload, action=ATTEMPT_STARTED, detail__kind=kind).order_by("-id").first()
    if started is None:
        return None
    closed = AuditEntry.objects.filter(
        upload=upload, action__in=ATTEMPT_CLOSED, detail__kind=kind, id__gt=started.pk
    ).exists()
    return None if closed else started


def _record_failure(upload: Upload, kind: str, reason: str) -> None:
    logger.info("upload %s: no %s: %s", upload.pk, kind, reason)
    audit_record(action="upload.processing_failed", upload=upload, detail={"kind": kind, "reason": reason})


def _store(upload: Upload, kind: str, made: Made) -> Derivative | None:
    """Write the object, then its row and audit entry; no row without its object, and
    no object left behind by a row that could not be written (unless a concurrent
    run's row now names it)."""
    key = derived_key(upload.pk, kind, made.extension)
    s3.app_file_save(key=key, body=made.body, content_type=made.content_type)
    try:
        with transaction.atomic():
            # Under the upload's row lock: a file replaced or deleted meanwhile must not
            # get a derivative of the bytes that are gone (upload_discard_derivatives
            # takes the same lock).
            if not Upload.objects.select_for_update().filter(pk=upload.pk, state=UploadState.STORED).exists():
                raise NoLongerStored
            derivative = Derivative(
                upload=upload,
                kind=kind,
                key=key,
                size=len(made.body),
                content_type=made.content_type,
                detail=made.detail,
            )
            derivative.save(force_insert=True)
            audit_record(action="upload.processed", upload=upload, detail={"kind": kind, "key": key})
    except IntegrityError:
        if not Derivative.objects.filter(key=key).exists():
            s3.app_file_delete(key=key)
        return None  # a concurrent run made it first
    except NoLongerStored:
        s3.app_file_delete(key=key)
        raise
    except Exception:
        if not Derivative.objects.filter(key=key).exists():
            s3.app_file_delete(key=key)
        raise
    logger.info("upload %s: %s stored at %s (%s bytes)", upload.pk, kind, key, len(made.body))
    return derivative


def upload_process(*, upload_id: uuid.UUID | str) -> dict[str, str]:
    """Make the derivatives the upload's portal asks for; returns kind → outcome
    (`made`, `exists`, `failed`). S3 outages raise s3.StorageUnavailable (the task
    retries); everything about the file itself is recorded, never raised.

    Each kind's attempt is recorded (`upload.processing_started`) before its file is
    decoded. A run killed on the way (out of memory, the hard time limit) records
    nothing more, and acks_late hands the task to the next worker: that run finds the
    open attempt and records the failure instead of decoding the same file again."""
    upload = Upload.objects.select_related("portal").filter(pk=upload_id).first()
    if upload is None or upload.state != UploadState.STORED:
        return {}
    if not upload.scan_allows_use:
        return {"processing": "waiting for the malware scan"}
    if not _take_lease(upload):
        # Another run of this upload is at work (a duplicate delivery, the catch-up
        # task): its open attempt is not a crash. Whatever it leaves undone, the
        # catch-up task finds once the lease has expired.
        return {"processing": "busy"}
    try:
        return _process(upload)
    finally:
        Upload.objects.filter(pk=upload.pk).update(processing_lease_until=None)


def _take_lease(upload: Upload) -> bool:
    """Hold the upload for one run: a conditional UPDATE, so of two runs one wins, on
    every database, without a transaction open while files are decoded. The lease
    outlives the task's hard time limit, so only a dead run's lease runs out."""
    now = timezone.now()
    until = now + dt.timedelta(seconds=settings.INTAKE_PROCESSING_TIME_LIMIT_SECONDS + 60)
    taken = (
        Upload.objects.filter(pk=upload.pk)
        .filter(Q(processing_lease_until__isnull=True) | Q(processing_lease_until__lt=now))
        .update(processing_lease_until=until)
    )
    return taken == 1


def _process(upload: Upload) -> dict[str, str]:
    kinds = wanted_kinds(
        processing_options(upload), filename=upload.original_filename, content_type=upload.declared_content_type
    )
    done = set(Derivative.objects.filter(upload=upload).values_list("kind", flat=True))
    outcomes = {kind: "exists" for kind in kinds if kind in done}
    todo = [kind for kind in kinds if kind not in done and not _failed_before(upload, kind)]
    outcomes.update({kind: "failed" for kind in kinds if kind not in done and kind not in todo})
    for kind in list(todo):
        if _open_attempt(upload, kind) is not None:
            _record_failure(upload, kind, CRASHED)
            outcomes[kind] = "failed"
            todo.remove(kind)
    if not todo:
        return outcomes
    try:
        data = _read_source(upload, max_bytes=settings.INTAKE_PROCESSING_MAX_BYTES)
    except CannotProcess as exc:
        for kind in todo:
            _record_failure(upload, kind, exc.reason)
            outcomes[kind] = "failed"
        return outcomes
    for kind in todo:
        audit_record(action=ATTEMPT_STARTED, upload=upload, detail={"kind": kind})
        try:
            made = _make(kind, data)
        except CannotProcess as exc:
            _record_failure(upload, kind, exc.reason)
            outcomes[kind] = "failed"
            continue
        try:
            stored = _store(upload, kind, made)
        except NoLongerStored:
            logger.info("upload %s left stored while its %s was made; not kept", upload.pk, kind)
            audit_record(
                action=ATTEMPT_INTERRUPTED, upload=upload, detail={"kind": kind, "reason": "the file was replaced or deleted"}
            )
            outcomes[kind] = "discarded"
            continue
        except s3.StorageUnavailable:
            # Not the file's fault: close the attempt so the retry tries again.
            audit_record(action=ATTEMPT_INTERRUPTED, upload=upload, detail={"kind": kind, "reason": "storage unavailable"})
            raise
        outcomes[kind] = "made" if stored is not None else "exists"
    return outcomes


def upload_processing_failed(*, upload_id: uuid.UUID | str, reason: str) -> None:
    """The task ran out of time (or gave up): record it for each kind not yet made."""
    upload = Upload.objects.select_related("portal").filter(pk=upload_id).first()
    if upload is None:
        return
    kinds = wanted_kinds(
        processing_options(upload), filename=upload.original_filename, content_type=upload.declared_content_type
    )
    done = set(Derivative.objects.filter(upload=upload).values_list("kind", flat=True))
    for kind in kinds:
        if kind not in done and not _failed_before(upload, kind):
            _record_failure(upload, kind, reason)


def upload_discard_derivatives(*, upload_id: uuid.UUID | str) -> int:
    """Remove the derivatives (objects, then rows, each audited) of an upload that is
    no longer `stored`; a stored upload keeps them. Idempotent: a repeat finds
    nothing left. Returns how many were removed. S3 outages raise (the task retries)."""
    removed = 0
    for derivative in Derivative.objects.filter(upload_id=upload_id).order_by("kind"):
        with transaction.atomic():
            upload = Upload.objects.select_for_update().get(pk=upload_id)
            if upload.state == UploadState.STORED:
                return removed
            s3.app_file_delete(key=derivative.key)
            deleted, _ = Derivative.objects.filter(pk=derivative.pk).delete()
            if deleted:
                audit_record(
                    action="upload.derivative_removed",
                    upload=upload,
                    detail={"kind": derivative.kind, "key": derivative.key, "reason": f"the upload is {upload.state}"},
                )
                removed += 1
    return removed


def _awaiting(upload: Upload, kind: str, *, started_before: dt.datetime) -> bool:
    if _failed_before(upload, kind):
        return False
    attempt = _open_attempt(upload, kind)
    return attempt is None or attempt.created_at < started_before


def uploads_awaiting_processing(*, stored_before: dt.datetime, stored_after: dt.datetime) -> list[str]:
    """Stored portal uploads whose processing never ran: some kind their portal wants
    has neither a derivative nor a recorded failure. The safety net for a task that
    was never enqueued (the broker was down when the upload was stored). A kind whose
    attempt is open counts only once that attempt is older than `stored_before`
    (its run is over, whatever became of it): the task then records the failure,
    after which the upload is never enqueued again."""
    wanted = Q(portal__isnull=False) & ~Q(portal__processing=[])
    if settings.INTAKE_STAFF_PROCESSING:
        wanted |= Q(portal__isnull=True)
    candidates = (
        Upload.objects.select_related("portal")
        .prefetch_related("derivatives")  # one query per chunk, not one per upload
        .filter(wanted, state=UploadState.STORED, stored_at__lt=stored_before, stored_at__gte=stored_after)
        .filter(scan_state__in=SCAN_USABLE)
        .order_by("stored_at")
    )
    awaiting = []
    for upload in candidates.iterator(chunk_size=500):
        kinds = wanted_kinds(processing_options(upload), filename=upload.original_filename, content_type=upload.declared_content_type)
        if not kinds:
            continue
        done = {derivative.kind for derivative in upload.derivatives.all()}
        if any(_awaiting(upload, kind, started_before=stored_before) for kind in kinds if kind not in done):
            awaiting.append(str(upload.pk))
    return awaiting


# --- reads for the dashboard ----------------------------------------------------------


@dataclass(frozen=True)
class DerivativeLinks:
    thumbnail_url: str = ""
    text_url: str = ""
    pages: int | None = None


def derivative_links(uploads: list[Upload], *, principal: UploadPrincipal) -> dict[uuid.UUID, DerivativeLinks]:
    """Short-lived signed URLs of each upload's derivatives, for staff pages, signed
    as previews are everywhere (uploads.downloads.derived_file_url: CloudFront when configured).
    The text link only for a principal that may download: extracted text is content."""
    may_read_text = principal.may(Permission.DOWNLOAD)
    by_id = {upload.pk: upload for upload in uploads}
    found: dict[uuid.UUID, dict[str, Derivative]] = {}
    for derivative in Derivative.objects.filter(upload__in=list(by_id)):
        derivative.upload = by_id[derivative.upload_id]  # in hand already: no join, no query per row
        found.setdefault(derivative.upload_id, {})[derivative.kind] = derivative
    links: dict[uuid.UUID, DerivativeLinks] = {}
    for upload_id, kinds in found.items():
        if not by_id[upload_id].scan_allows_use:
            continue
        thumbnail, text = kinds.get(DerivativeKind.THUMBNAIL), kinds.get(DerivativeKind.TEXT)
        try:
            links[upload_id] = DerivativeLinks(
                thumbnail_url=derived_file_url(principal=principal, derivative=thumbnail) if thumbnail else "",
                text_url=(
                    derived_file_url(principal=principal, derivative=text) if text and may_read_text else ""
                ),
                pages=text.detail.get("pages") if text else None,
            )
        except StorageUnavailable:
            logger.warning("could not sign derivative URLs of upload %s", upload_id)
    return links
