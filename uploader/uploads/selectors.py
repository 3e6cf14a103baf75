"""Reads of Upload rows, always scoped to who is asking."""

import uuid

from django.db import models
from django.db.models import QuerySet
from django.db.models.functions import Coalesce, Lower

from config.request_context import log_about
from uploader.access.principals import UploadPrincipal
from uploader.uploads.errors import UploadNotFound
from uploader.uploads.keyset import Column, Sort, parse_int, parse_text, parse_time
from uploader.uploads.models import Upload

# An upload's size for sorting and size filters: stored, else declared, else -1.
SIZE_KEY = Coalesce("stored_size", "declared_size", -1)
_CREATED = Column("created_at", parse_time, models.DateTimeField())
_ID = Column("id", lambda value: uuid.UUID(parse_text(value)), models.UUIDField())
# The keyset of each sort of a list of uploads, each matching an index on Upload
# (uploader.uploads.models): the size sort puts unknown sizes (-1) last, the name sort
# breaks ties oldest first.
UPLOAD_SORTS: dict[str, Sort] = {
    "newest": Sort((_CREATED, _ID), descending=True),
    "oldest": Sort((_CREATED, _ID), descending=False),
    "largest": Sort(
        (
            Column("sort_size", parse_int, models.BigIntegerField(), SIZE_KEY),
            _CREATED,
            _ID,
        ),
        descending=True,
    ),
    "name": Sort(
        (Column("sort_name", parse_text, models.CharField(), Lower("original_filename")), _CREATED, _ID),
        descending=False,
    ),
}


def uploads_visible_to(*, principal: UploadPrincipal) -> QuerySet[Upload]:
    """Only what the principal may address; someone else's upload is a 404, not a 403,
    so upload ids cannot be probed."""
    return principal.uploads()


def upload_get_by_key(*, principal: UploadPrincipal, key: str) -> Upload:
    try:
        upload = uploads_visible_to(principal=principal).get(key=key)
    except Upload.DoesNotExist:
        raise UploadNotFound("No such upload.") from None
    return _about(upload)


def _about(upload: Upload) -> Upload:
    """The rest of the request's log lines name the upload it works on."""
    log_about(upload_id=upload.pk, portal=upload.portal_id)
    return upload


def upload_get_multipart(*, principal: UploadPrincipal, upload_id: str, key: str) -> Upload:
    try:
        return _about(
            uploads_visible_to(principal=principal).get(key=key, multipart_upload_id=upload_id, is_multipart=True)
        )
    except Upload.DoesNotExist:
        raise UploadNotFound("No such multipart upload.") from None


def upload_get(*, principal: UploadPrincipal, upload_id: uuid.UUID) -> Upload:
    try:
        return _about(uploads_visible_to(principal=principal).get(pk=upload_id))
    except Upload.DoesNotExist:
        raise UploadNotFound("No such upload.") from None


def uploads_readable_by(*, principal: UploadPrincipal, state: str | None = None) -> QuerySet[Upload]:
    """The read API's list, optionally one state (paged newest first by the caller,
    with UPLOAD_SORTS["newest"])."""
    uploads = principal.readable_uploads()
    return uploads.filter(state=state) if state else uploads


def upload_get_readable(*, principal: UploadPrincipal, upload_id: uuid.UUID) -> Upload:
    try:
        return _about(principal.readable_uploads().get(pk=upload_id))
    except Upload.DoesNotExist:
        raise UploadNotFound("No such upload.") from None
