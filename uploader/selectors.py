"""Reads of Upload rows, always scoped to who is asking."""

import uuid

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from uploader.errors import UploadNotFound
from uploader.models import Upload


def uploads_visible_to(*, user: User | AnonymousUser) -> QuerySet[Upload]:
    """Staff see their own uploads through the API; someone else's is a 404, not a 403,
    so upload ids cannot be probed."""
    if not user.is_authenticated:
        return Upload.objects.none()
    return Upload.objects.filter(owner=user)


def upload_get_by_key(*, user: User | AnonymousUser, key: str) -> Upload:
    try:
        return uploads_visible_to(user=user).get(key=key)
    except Upload.DoesNotExist:
        raise UploadNotFound("No such upload.") from None


def upload_get_multipart(*, user: User | AnonymousUser, upload_id: str, key: str) -> Upload:
    try:
        return uploads_visible_to(user=user).get(key=key, multipart_upload_id=upload_id, is_multipart=True)
    except Upload.DoesNotExist:
        raise UploadNotFound("No such multipart upload.") from None


def upload_get(*, user: User | AnonymousUser, upload_id: uuid.UUID) -> Upload:
    try:
        return uploads_visible_to(user=user).get(pk=upload_id)
    except Upload.DoesNotExist:
        raise UploadNotFound("No such upload.") from None
