"""An item's own limits on what the client sends it: accepted types (the
principal's UploadLimits, checked before signing and, as the declared type, again
against what S3 stored), accepted file name endings, and how many files per round.

A round starts when the item is made and again each time staff ask for changes, so
an item that takes one file takes one new file after it is sent back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from uploader.portals.limits import extension_of
from uploader.requests.errors import ItemWrongState
from uploader.requests.models import ItemState, RequestItem
from uploader.uploads.errors import LimitExceeded
from uploader.uploads.limits import UploadLimits
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.sizes import format_bytes

COUNTED_STATES = (UploadState.REGISTERED, UploadState.UPLOADING, UploadState.STORED)


def item_upload_limits(item: RequestItem) -> UploadLimits:
    """Per-file limits: the item's types, else the site's; the site's size."""
    site = UploadLimits.from_settings()
    types = tuple(t.strip().lower() for t in item.allowed_content_types if t.strip()) or site.allowed_content_types
    return UploadLimits(max_bytes=site.max_bytes, allowed_content_types=types)


def item_limits_summary(item: RequestItem) -> list[str]:
    """The limits in words, shown beside the item's upload area."""
    limits = item_upload_limits(item)
    lines = [f"Each file can be up to {format_bytes(limits.max_bytes)}."]
    if item.max_files:
        lines.append(f"Up to {item.max_files} file{'s' if item.max_files != 1 else ''}.")
    if item.allowed_extensions:
        lines.append(f"Accepted file names end in {', '.join(item.allowed_extensions)}.")
    if limits.allowed_content_types:
        lines.append(f"Accepted file types: {', '.join(limits.allowed_content_types)}.")
    return lines


def item_round_files(item: RequestItem, *, exclude: Upload | None = None) -> int:
    """Files of this round: stored, or in flight while their signed URL can still be used."""
    uploads = Upload.objects.filter(request_item=item, state__in=COUNTED_STATES)
    if item.changes_requested_at is not None:
        uploads = uploads.filter(created_at__gte=item.changes_requested_at)
    signed_until = timezone.now() - dt.timedelta(seconds=settings.INTAKE_PRESIGN_EXPIRES_SECONDS)
    uploads = uploads.exclude(state=UploadState.REGISTERED, is_multipart=False, created_at__lt=signed_until)
    if exclude is not None:
        uploads = uploads.exclude(pk=exclude.pk)
    return uploads.count()


def item_files_left(item: RequestItem) -> int | None:
    return max(item.max_files - item_round_files(item), 0) if item.max_files else None


def _check(item: RequestItem, upload: Upload) -> None:
    if item.state == ItemState.ACCEPTED:
        raise ItemWrongState(f"'{item.title[:80]}' has been accepted; nothing more is needed for it.")
    if item.allowed_extensions and extension_of(upload.original_filename) not in item.allowed_extensions:
        raise LimitExceeded(
            f"Files named like '{upload.original_filename[:80]}' are not accepted for '{item.title[:80]}'; "
            f"accepted: {', '.join(item.allowed_extensions)}.",
            field="filename",
        )
    if item.max_files is not None and item_round_files(item, exclude=upload) + 1 > item.max_files:
        raise LimitExceeded(
            f"'{item.title[:80]}' takes at most {item.max_files} file{'s' if item.max_files != 1 else ''}, "
            "and that many have already been sent.",
            field="count",
        )


@dataclass(frozen=True)
class ItemAdmission:
    """The uploads services' hook (uploader.access.principals.Admission) for one item."""

    item: RequestItem

    def check(self, upload: Upload) -> None:
        _check(self.item, upload)

    def admit(self, upload: Upload) -> None:
        # Under the item's row lock, so concurrent registrations queue and count each other.
        item = RequestItem.objects.select_for_update().filter(pk=self.item.pk).first()
        if item is None:  # staff removed it meanwhile (uploader.requests.editing)
            raise ItemWrongState(f"'{self.item.title[:80]}' was removed from this request; nothing is needed for it.")
        _check(item, upload)
