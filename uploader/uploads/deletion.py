"""Deleting a file for good, at a person's request: the object in S3, then the row.

`upload_delete` removes the object first and only then moves the upload to `deleted`
(through the state writer, with one audit entry naming who asked and why): when S3
refuses or is down, the row stays as it was and the caller hears why (a 4xx or a
503), so the page never claims a file is gone that is still in the bucket. The
derived files (thumbnail, text) follow through `uploads.followups` (processing's
`discard_derivatives`, after the move commits). The ObjectRemoved event S3 sends
afterwards finds the upload deleted already and changes nothing.

`deletion_blocked_reason` is the one place that may refuse a deletion for the file's
own sake: a legal hold (uploader.retention.holds). The check and the delete happen
under the row's lock, which placing a hold takes too, so a hold placed at the same
moment either comes first (and the delete is refused) or finds the file deleted.
With INTAKE_S3_OBJECT_LOCK the bucket is versioned, so every version of the key is
deleted, not just hidden behind a delete marker.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.conf import settings
from django.db import transaction

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
    """Why this file may not be deleted now, or None."""
    if upload.legal_hold:
        return "it is under a legal hold; an admin must lift the hold first"
    return None


def upload_delete(
    *, actor: Any, upload: Upload, reason: str = "", action: str = DELETED_ACTION
) -> tuple[Upload, bool]:
    """Delete the file's object and mark the upload `deleted`; returns the upload and
    whether this call deleted it (False: it was deleted already, a repeat is harmless).

    Admins only (`Permission.DELETE_FILES`; retention acts with that permission too and
    its own `action`). A rejected or aborted upload has no object to delete and stays
    as it is (WrongState, 409); a held one is refused (DeletionBlocked, 409)."""
    require_permission(actor, Permission.DELETE_FILES)
    reason = " ".join(reason.split())[:REASON_MAX_LENGTH]
    with transaction.atomic():
        # The row as it is now, locked: a hold or another deletion waits for this one.
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if upload.state == UploadState.DELETED:
            return upload, False
        if UploadState.DELETED not in ALLOWED_TRANSITIONS[upload.state]:
            raise WrongState(f"This file is {upload.state}; there is nothing in storage to delete.")
        if blocked := deletion_blocked_reason(upload):
            raise DeletionBlocked(f"This file cannot be deleted: {blocked}.")
        with storage_errors("delete the file"):
            if upload.is_multipart and upload.multipart_upload_id and upload.state != UploadState.STORED:
                # Completed or aborted already: the object (if any) is deleted below.
                with contextlib.suppress(s3.MultipartUploadNotFound):
                    s3.abort_multipart_upload(key=upload.key, upload_id=upload.multipart_upload_id)
            # Deleting a missing key succeeds in S3, so a repeat after a half-done call works.
            if settings.INTAKE_S3_OBJECT_LOCK:
                s3.delete_object_versions(key=upload.key)
            else:
                s3.delete_object(key=upload.key)
        upload, changed = upload_close(
            upload_id=upload.pk,
            state=UploadState.DELETED,
            action=action,
            detail={"reason": reason, "key": upload.key},
            user=actor,
        )
    if changed:
        logger.info("upload %s deleted (%s)", upload.pk, action)
    return upload, changed
