"""Deleting a file for good, at a person's request: the object in S3, then the row.

`upload_delete` removes the object first and only then moves the upload to `deleted`
(through the state writer, with one audit entry naming who asked and why): when S3
refuses or is down, the row stays as it was and the caller hears why (a 4xx or a
503), so the page never claims a file is gone that is still in the bucket. The
derived files (thumbnail, text) follow through `uploads.followups` (processing's
`discard_derivatives`, after the move commits). The ObjectRemoved event S3 sends
afterwards finds the upload deleted already and changes nothing.

`deletion_blocked_reason` is the one place that may refuse a deletion for the file's
own sake (a legal hold, a retention period): nothing does yet.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from uploader import s3
from uploader.access.roles import Permission, require_permission
from uploader.uploads.errors import UploadError, WrongState, storage_errors
from uploader.uploads.models import ALLOWED_TRANSITIONS, Upload, UploadState
from uploader.uploads.storing import upload_close

logger = logging.getLogger(__name__)

DELETED_ACTION = "upload.deleted_by_staff"
REASON_MAX_LENGTH = 500


class DeletionBlocked(UploadError):
    """Something about the file itself forbids deleting it (see deletion_blocked_reason)."""

    status = 409
    code = "deletion_blocked"


def deletion_blocked_reason(upload: Upload) -> str | None:
    """Why this file may not be deleted now, or None. The hook for a legal hold or a
    retention period; every file may be deleted today."""
    return None


def upload_delete(*, actor: Any, upload: Upload, reason: str = "") -> tuple[Upload, bool]:
    """Delete the file's object and mark the upload `deleted`; returns the upload and
    whether this call deleted it (False: it was deleted already, a repeat is harmless).

    Admins only (`Permission.DELETE_FILES`). A rejected or aborted upload has no
    object to delete and stays as it is (WrongState, 409)."""
    require_permission(actor, Permission.DELETE_FILES)
    if upload.state == UploadState.DELETED:
        return upload, False
    if UploadState.DELETED not in ALLOWED_TRANSITIONS[upload.state]:
        raise WrongState(f"This file is {upload.state}; there is nothing in storage to delete.")
    if blocked := deletion_blocked_reason(upload):
        raise DeletionBlocked(f"This file cannot be deleted: {blocked}.")
    reason = " ".join(reason.split())[:REASON_MAX_LENGTH]
    with storage_errors("delete the file"):
        if upload.is_multipart and upload.multipart_upload_id and upload.state != UploadState.STORED:
            # Completed or aborted already: the object (if any) is deleted below.
            with contextlib.suppress(s3.MultipartUploadNotFound):
                s3.abort_multipart_upload(key=upload.key, upload_id=upload.multipart_upload_id)
        # Deleting a missing key succeeds in S3, so a repeat after a half-done call works.
        s3.delete_object(key=upload.key)
    upload, changed = upload_close(
        upload_id=upload.pk,
        state=UploadState.DELETED,
        action=DELETED_ACTION,
        detail={"reason": reason, "key": upload.key},
        user=actor,
    )
    if changed:
        logger.info("upload %s deleted at a person's request", upload.pk)
    return upload, changed
