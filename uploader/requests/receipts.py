"""The completion receipt: each accepted file with its size and SHA-256.

Uploads record no full-object SHA-256 (the browser proves its bytes with Content-MD5,
uploader.uploads.checksums), so the worker computes it once per file, streaming the
object from S3 a chunk at a time (bounded memory, any size), pinned to the ETag that
was stored, and keeps it as an UploadDigest. Both steps are idempotent: a digest is
computed once, and the receipt is claimed (receipt_sent_at) before it is sent.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.utils import timezone

from uploader import s3
from uploader.audit.services import audit_record
from uploader.requests import emails
from uploader.requests.models import DocumentRequest, ItemState, RequestState, UploadDigest
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.sizes import format_bytes

logger = logging.getLogger(__name__)


class DigestMismatch(Exception):
    """The object read is not the size that was stored (it changed under us)."""


def upload_digest(upload_id: str) -> UploadDigest | None:
    """The upload's SHA-256, computed from S3 the first time; None when it is not a
    stored file any more. StorageUnavailable (retry later) when S3 cannot be read."""
    found = UploadDigest.objects.filter(upload_id=upload_id).first()
    if found is not None:
        return found
    upload = Upload.objects.filter(pk=upload_id, state=UploadState.STORED).first()
    if upload is None:
        return None
    hasher, size = hashlib.sha256(), 0
    for chunk in s3.iter_object_chunks(
        key=upload.key, chunk_size=settings.INTAKE_SCAN_CHUNK_BYTES, if_match=upload.etag
    ):
        hasher.update(chunk)
        size += len(chunk)
    if upload.stored_size is not None and size != upload.stored_size:
        raise DigestMismatch(f"upload {upload.pk}: read {size} bytes, stored {upload.stored_size}")
    UploadDigest.objects.bulk_create(
        [UploadDigest(upload=upload, sha256=hasher.hexdigest(), size=size, etag=upload.etag)], ignore_conflicts=True
    )
    return UploadDigest.objects.get(upload_id=upload.pk)


def receipt_files(request: DocumentRequest) -> list[Upload]:
    """The stored files of the request's accepted items, item by item."""
    return list(
        Upload.objects.filter(
            request_item__request=request, request_item__state=ItemState.ACCEPTED, state=UploadState.STORED
        )
        .select_related("request_item")
        .order_by("request_item__position", "request_item_id", "stored_at", "id")
    )


def receipt_send(request_id: int) -> bool:
    """Compute the missing digests, then send the closed request's receipt once;
    False when it was sent (or claimed) already, or the request is not closed."""
    request = DocumentRequest.objects.get(pk=request_id)
    if request.state != RequestState.CLOSED or request.receipt_sent_at is not None:
        return False
    files = receipt_files(request)
    lines = []
    for upload in files:  # before the claim: an S3 outage retries the whole task
        digest = upload_digest(str(upload.pk))
        if digest is None:
            continue
        assert upload.request_item is not None
        lines.append(
            emails.ReceiptLine(
                item_title=upload.request_item.title,
                filename=upload.original_filename,
                size=format_bytes(digest.size),
                sha256=digest.sha256,
            )
        )
    now = timezone.now()
    if not DocumentRequest.objects.filter(pk=request_id, receipt_sent_at__isnull=True).update(receipt_sent_at=now):
        return False
    sent = emails.receipt_email(request, lines)
    if not sent:
        # Let a later run try again.
        DocumentRequest.objects.filter(pk=request_id, receipt_sent_at=now).update(receipt_sent_at=None)
    audit_record(
        action="request.receipt_sent" if sent else "request.receipt_not_sent",
        detail={"request": request_id, "to": list(request.client_emails), "files": len(lines)},
    )
    return sent
