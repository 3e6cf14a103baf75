"""Reads of Upload rows, always scoped to who is asking."""

import uuid

from django.db.models import QuerySet

from uploader.access.principals import UploadPrincipal
from uploader.uploads.errors import UploadNotFound
from uploader.uploads.models import Upload


def uploads_visible_to(*, principal: UploadPrincipal) -> QuerySet[Upload]:
    """Only what the principal may address; someone else's upload is a 404, not a 403,
    so upload ids cannot be probed."""
    return principal.uploads()


def upload_get_by_key(*, principal: UploadPrincipal, key: str) -> Upload:
    try:
        return uploads_visible_to(principal=principal).get(key=key)
    except Upload.DoesNotExist:
        raise UploadNotFound("No such upload.") from None


def upload_get_multipart(*, principal: UploadPrincipal, upload_id: str, key: str) -> Upload:
    try:
        return uploads_visible_to(principal=principal).get(key=key, multipart_upload_id=upload_id, is_multipart=True)
    except Upload.DoesNotExist:
        raise UploadNotFound("No such multipart upload.") from None


def upload_get(*, principal: UploadPrincipal, upload_id: uuid.UUID) -> Upload:
    try:
        return uploads_visible_to(principal=principal).get(pk=upload_id)
    except Upload.DoesNotExist:
        raise UploadNotFound("No such upload.") from None


def uploads_readable_by(*, principal: UploadPrincipal, state: str | None = None) -> QuerySet[Upload]:
    """The read API's list: newest first, optionally one state."""
    uploads = principal.readable_uploads().order_by("-created_at")
    return uploads.filter(state=state) if state else uploads


def upload_get_readable(*, principal: UploadPrincipal, upload_id: uuid.UUID) -> Upload:
    try:
        return principal.readable_uploads().get(pk=upload_id)
    except Upload.DoesNotExist:
        raise UploadNotFound("No such upload.") from None
