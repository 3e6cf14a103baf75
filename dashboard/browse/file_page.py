"""What a file's page shows: the upload (if the user may browse it), its stored
object, its preview and its audit trail in words. The list pages' selectors are in
dashboard.browse.selectors."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from dashboard.audit.readable import ReadableEntry, readable_entries
from uploader import s3
from uploader.access.principals import signed_in_principal
from uploader.access.roles import Permission, has_permission
from uploader.audit.models import AuditEntry
from uploader.processing.models import Derivative, DerivativeKind
from uploader.uploads import downloads, selectors
from uploader.uploads.errors import UploadError, UploadNotFound
from uploader.uploads.models import Upload

logger = logging.getLogger(__name__)

TEXT_EXCERPT_CHARS = 2_000
AUDIT_TRAIL_SHOWN = 200


def upload_for_browsing(*, user: Any, upload_id: uuid.UUID) -> Upload:
    """One upload the user may browse, with its sender and portal; UploadNotFound otherwise."""
    if not has_permission(user, Permission.BROWSE):
        raise UploadNotFound("No such upload.")
    upload = selectors.upload_get_readable(principal=signed_in_principal(user), upload_id=upload_id)
    # Reload with the joins the page shows (the scoped lookup above decided access).
    return Upload.objects.select_related("owner", "portal").get(pk=upload.pk)


def upload_audit_trail(*, upload: Upload) -> list[ReadableEntry]:
    """The upload's audit entries, newest first (the latest AUDIT_TRAIL_SHOWN), in words."""
    entries = AuditEntry.objects.filter(upload=upload).order_by("-created_at", "-id")[:AUDIT_TRAIL_SHOWN]
    return readable_entries(entries)


@dataclass(frozen=True)
class StoredObject:
    """What S3 holds under the upload's key right now (a HEAD), or why that is unknown."""

    size: int | None = None
    content_type: str = ""
    etag: str = ""
    missing: bool = False
    problem: str = ""


def stored_object(*, upload: Upload) -> StoredObject:
    """HEAD the upload's object: the stored type is only known to S3."""
    try:
        head = s3.head_object_or_none(key=upload.key)
    except s3.StorageError:
        logger.warning("could not HEAD the object of upload %s", upload.pk)
        return StoredObject(problem="File storage could not be reached, so what it holds is not shown.")
    if head is None:
        return StoredObject(missing=True)
    return StoredObject(size=head.size, content_type=head.content_type, etag=head.etag)


@dataclass(frozen=True)
class UploadPreview:
    """What the detail page can show of a file's content, made by uploader.processing.services."""

    thumbnail_url: str = ""
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    pages: int | None = None
    document_title: str = ""
    document_author: str = ""
    text_excerpt: str = ""
    text_cut: bool = False  # the excerpt is not all of the extracted text
    text_url: str = ""
    # Extracted text exists but this role may not read it (it is the file's content).
    text_withheld: bool = False
    problem: str = ""  # a preview exists but could not be fetched

    @property
    def has_document(self) -> bool:
        return self.pages is not None or bool(self.text_excerpt)


def _excerpt(derivative: Derivative) -> tuple[str, bool]:
    """The first TEXT_EXCERPT_CHARS characters of an extracted-text file, from a ranged
    read of at most 4 bytes per character (UTF-8's longest), so a page load reads a few
    KiB whatever the text's size."""
    data, more = s3.get_object_prefix_bytes(key=derivative.key, max_bytes=4 * TEXT_EXCERPT_CHARS)
    # A cut may split the last character: drop its remains rather than show a "?".
    text = data.decode("utf-8", "ignore" if more else "replace")
    return text[:TEXT_EXCERPT_CHARS], more or len(text) > TEXT_EXCERPT_CHARS


def upload_preview(*, user: Any, upload: Upload) -> UploadPreview:
    """URLs of the upload's thumbnail and text, signed by the service staff pages use
    (`downloads.derived_file_url`: CloudFront when configured, valid
    INTAKE_DERIVATIVE_URL_SECONDS), and the start of its text. Nothing made → an
    empty preview (the page says so). A role that may browse but not download sees the
    thumbnail and the page count, never the text, its title or author."""
    # Through the reverse relation, so each derivative already knows its upload.
    derivatives = {d.kind: d for d in upload.derivatives.all()}
    thumbnail, text = derivatives.get(DerivativeKind.THUMBNAIL), derivatives.get(DerivativeKind.TEXT)
    if thumbnail is None and text is None:
        return UploadPreview()
    principal = signed_in_principal(user)
    may_read_text = principal.may(Permission.DOWNLOAD)
    fields: dict[str, Any] = {}
    try:
        if thumbnail is not None:
            fields["thumbnail_url"] = downloads.derived_file_url(principal=principal, derivative=thumbnail)
            fields["thumbnail_width"] = thumbnail.detail.get("width")
            fields["thumbnail_height"] = thumbnail.detail.get("height")
        if text is not None and not may_read_text:
            fields["pages"] = text.detail.get("pages")
            fields["text_withheld"] = True
        elif text is not None:
            fields["pages"] = text.detail.get("pages")
            fields["document_title"] = str(text.detail.get("title") or "")
            fields["document_author"] = str(text.detail.get("author") or "")
            fields["text_url"] = downloads.derived_file_url(principal=principal, derivative=text)
            excerpt, cut = _excerpt(text)
            fields["text_excerpt"], fields["text_cut"] = excerpt, cut or bool(text.detail.get("truncated"))
    except s3.ObjectTooLarge:
        fields["problem"] = "The extracted text is larger than expected, so it is not shown here."
    except s3.ObjectNotFound:
        fields["problem"] = "A preview was made but is no longer in storage."
    except (s3.StorageError, UploadError):
        logger.warning("could not fetch the preview of upload %s", upload.pk)
        fields["problem"] = "File storage could not be reached, so the preview is not shown. Try again shortly."
    return UploadPreview(**fields)
