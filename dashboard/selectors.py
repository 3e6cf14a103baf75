"""Reads for the staff pages."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from uploader.models import Upload

RECENT_LIMIT = 20


def recent_uploads_for(*, user: AbstractBaseUser) -> QuerySet[Upload]:
    return Upload.objects.filter(owner=user).order_by("-created_at")[:RECENT_LIMIT]
