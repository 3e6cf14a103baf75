"""What S3 holds becomes what the rows say: stored or rejected (the complete call,
S3 events, reconciliation), closed (deleted, aborted), or recorded when an object
nobody registered arrives. Every state change goes through `uploads.state`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.request_context import log_about
from uploader import s3
from uploader.ingest.events import sequencer_is_newer, sequencer_order
from uploader.portals import limits as portal_limits
from uploader.uploads import checksums, followups
from uploader.uploads.errors import ChecksumMismatch, LimitExceeded, WrongState, storage_errors
from uploader.uploads.keys import display_filename
from uploader.uploads.limits import UploadLimits, check_stored
from uploader.uploads.models import ALLOWED_TRANSITIONS, Upload, UploadState
from uploader.uploads.state import Move, upload_move, uploads_move

logger = logging.getLogger(__name__)

REPLACED_REASON = "the file was replaced after it arrived"
EXTERNAL_SCOPE = "external"


def upload_record_stored(*, upload_id: uuid.UUID, limits: UploadLimits | None = None) -> Upload:
    """HEAD the object and move the upload to `stored`, or to `rejected` when the
    stored object breaks its limits (the object is then deleted and the caller
    hears why)."""
    upload = Upload.objects.get(pk=upload_id)
    try:
        with storage_errors("check the stored file"):
            head = s3.head_object(key=upload.key)
    except s3.ObjectNotFound:
        raise WrongState("The file has not arrived in storage yet.") from None
    upload = upload_apply_stored_object(upload_id=upload_id, head=head, limits=limits)
    if upload.state == UploadState.REJECTED:
        if upload.rejection_reason == checksums.MISMATCH_REASON:
            raise ChecksumMismatch(f"The file was refused: {upload.rejection_reason}. Please send it again.", field="md5")
        raise LimitExceeded(f"The file was refused: {upload.rejection_reason}.", field="size")
    return upload


def upload_apply_stored_object(
    *, upload_id: uuid.UUID, head: s3.ObjectHead, limits: UploadLimits | None = None, sequencer: str = ""
) -> Upload:
    """Record what S3 holds for an upload: `stored`, or `rejected` (object deleted)
    when it breaks its limits. The one writer shared by the complete call and S3
    events; a repeat with the same object changes nothing. Portal uploads are held
    to their portal's limits (per file and in total) unless `limits` is given.

    A stored upload whose object now has another ETag was overwritten (its signed
    PUT stays valid for a while after complete), so its row, digests and derivatives
    describe bytes that are gone: it is rejected and the new object deleted."""
    log_about(upload_id=upload_id)
    problem = ""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload_id)
        applied = upload.last_sequencer
        if sequencer:
            upload.last_sequencer = max(upload.last_sequencer, sequencer, key=sequencer_order)
        if upload.state == UploadState.STORED and _replaced(upload, head, sequencer=sequencer, applied=applied):
            problem = REPLACED_REASON
            upload_move(
                upload,
                UploadState.REJECTED,
                action="upload.replaced",
                values={"rejection_reason": problem, "last_sequencer": upload.last_sequencer},
                detail={
                    "old_etag": upload.etag,
                    "new_etag": head.etag,
                    "new_size": head.size,
                    "reason": problem,
                    "sequencer": sequencer,
                },
            )
            followups.after_gone(upload)
        elif upload.state in {UploadState.STORED, UploadState.REJECTED, UploadState.DELETED}:
            upload.save(update_fields=["last_sequencer", "updated_at"])
            return upload
        else:
            problem = _apply_first_object(upload, head, limits=limits, sequencer=sequencer)
    if problem:
        logger.warning("upload %s rejected: %s", upload.id, problem)
        _delete_rejected_object(upload)
    else:
        logger.info("upload %s stored (%s bytes)", upload.id, head.size)
    return upload


def _replaced(upload: Upload, head: s3.ObjectHead, *, sequencer: str, applied: str) -> bool:
    """The stored object's ETag changed: a known, different ETag, from an event newer
    than any applied (when it has a sequencer). The same ETag is a repeat."""
    if not head.etag or not upload.etag or head.etag == upload.etag:
        return False
    return not sequencer or sequencer_is_newer(sequencer, applied)


def _apply_first_object(upload: Upload, head: s3.ObjectHead, *, limits: UploadLimits | None, sequencer: str) -> str:
    """A waiting upload's object arrived: stored, or rejected with the returned reason."""
    own_limits = limits or portal_limits.portal_stored_limits(upload) or UploadLimits.from_settings()
    problem = (
        check_stored(
            own_limits,
            declared_size=upload.declared_size,
            stored_size=head.size,
            declared_type=upload.declared_content_type,
            stored_type=head.content_type,
        )
        or portal_limits.portal_stored_problem(upload, stored_size=head.size)
        or checksums.stored_digest_problem(
            expected_md5_hex=upload.content_md5, etag=head.etag, encryption=head.encryption
        )
    )
    values: dict[str, object] = {"stored_size": head.size, "etag": head.etag, "last_sequencer": upload.last_sequencer}
    if problem:
        values["rejection_reason"] = problem
    else:
        values["stored_at"] = timezone.now()
    upload_move(
        upload,
        UploadState.REJECTED if problem else UploadState.STORED,
        values=values,
        detail={"stored_size": head.size, "etag": head.etag, "reason": problem or "", "sequencer": sequencer},
    )
    if not problem:
        followups.after_stored(upload)  # derivatives, after this commits, if its portal asks
    return problem or ""


def _delete_rejected_object(upload: Upload) -> None:
    try:
        s3.delete_object(key=upload.key)
    except s3.StorageError:
        # The row already says rejected, so nothing serves the object; the periodic
        # reconciliation removes objects of rejected uploads that are still there.
        logger.warning("upload %s: could not delete the rejected object yet", upload.id)


def upload_close(
    *,
    upload_id: uuid.UUID,
    state: str,
    action: str,
    detail: dict[str, object] | None = None,
    sequencer: str = "",
    user: Any = None,
) -> tuple[Upload, bool]:
    """Move an upload to a final state (deleted, aborted) when the state machine
    allows it, with its audit entry, under a row lock; a repeat changes nothing.
    Returns the upload and whether it changed. `user`: who asked (the audit entry's
    actor), when a person did."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload_id)
        if sequencer:
            upload.last_sequencer = max(upload.last_sequencer, sequencer, key=sequencer_order)
        changed = state in ALLOWED_TRANSITIONS[upload.state]
        if changed:
            upload_move(
                upload,
                state,
                action=action,
                detail=detail,
                values={"last_sequencer": upload.last_sequencer},
                user=user,
            )
            followups.after_gone(upload)  # a deleted file's thumbnail goes too
        else:
            upload.save(update_fields=["last_sequencer", "updated_at"])
    return upload, changed


def upload_record_unregistered(*, key: str, head: s3.ObjectHead) -> Upload:
    """An object that arrived by other means (console, CLI) is recorded too, with
    no owner, as a registration the caller then marks stored."""
    parts = key.split("/")
    upload, _ = Upload.objects.get_or_create(
        key=key,
        defaults={
            "scope": parts[1][:64] if len(parts) > 2 else EXTERNAL_SCOPE,
            # Named like a browser's file (no bidirectional overrides and the like).
            "original_filename": display_filename(parts[-1] or key)[:255],
            "declared_size": None,
            "declared_content_type": head.content_type[:255] or "application/octet-stream",
            "state": UploadState.REGISTERED,
        },
    )
    return upload


@dataclass(frozen=True)
class StoredObject:
    """What an S3 event says was stored for one upload (the ledger's batch path)."""

    upload_id: uuid.UUID
    size: int
    etag: str
    sequencer: str


def uploads_mark_stored(*, objects: Sequence[StoredObject]) -> list[uuid.UUID]:
    """The event ledger's common case for a batch: uploads that are not a portal's,
    whose objects arrived within the site-wide limits with a newer sequencer, become
    stored in one statement with one audit entry each (the caller checked the limits
    and the order under row locks). Returns the uploads that moved."""
    now = timezone.now()
    moved = uploads_move(
        moves=[
            Move(
                upload_id=item.upload_id,
                values={"stored_at": now, "stored_size": item.size, "etag": item.etag, "last_sequencer": item.sequencer},
                detail={"stored_size": item.size, "etag": item.etag, "reason": "", "sequencer": item.sequencer},
            )
            for item in objects
        ],
        to=UploadState.STORED,
    )
    # What follows a stored file (its malware scan, then previews, staff uploads included)
    # follows these too.
    for upload in Upload.objects.filter(pk__in=moved).only(
        "pk", "portal_id", "owner_id", "state", "key", "etag", "original_filename", "declared_content_type"
    ):
        followups.after_stored(upload)
    return moved
