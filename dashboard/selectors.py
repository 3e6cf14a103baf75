"""Reads for the staff pages."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from uploader.models import Upload

RECENT_LIMIT = 20


def recent_uploads_for(*, user: User | AnonymousUser) -> QuerySet[Upload]:
    if not user.is_authenticated:
        return Upload.objects.none()
    return Upload.objects.filter(owner=user).order_by("-created_at")[:RECENT_LIMIT]
