"""Reads for the staff pages."""

from typing import Any

from django.db.models import QuerySet

from uploader.access.roles import Permission, has_permission
from uploader.uploads.models import Upload

RECENT_LIMIT = 20


def recent_uploads_for(*, user: Any) -> QuerySet[Upload]:
    """Someone who uploads sees their own latest uploads; a viewer sees the business's."""
    if not has_permission(user, Permission.BROWSE):
        return Upload.objects.none()
    uploads = Upload.objects.all() if not has_permission(user, Permission.UPLOAD) else Upload.objects.filter(owner=user)
    return uploads.order_by("-created_at")[:RECENT_LIMIT]
