"""Short-lived URLs to read stored files and their derived files (CloudFront when
configured, S3 otherwise)."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.conf import settings

from uploader import s3
from uploader.access.principals import UploadPrincipal
from uploader.access.roles import NotAllowed, Permission
from uploader.audit.services import audit_record
from uploader.processing.models import Derivative, DerivativeKind
from uploader.s3 import cloudfront
from uploader.uploads import keys
from uploader.uploads.errors import FileHeld, WrongState, file_held_message, storage_errors
from uploader.uploads.models import ScanState, Upload, UploadState


def _signed_get(*, key: str, expires_in: int, filename: str | None) -> tuple[str, str]:
    """A GET URL for one object and which path signed it: CloudFront when its domain
    is configured (the bucket then admits only the distribution), else S3 itself."""
    if cloudfront.cloudfront_enabled():
        return cloudfront.presign_cloudfront_get(key=key, expires_in=expires_in, filename=filename), "cloudfront"
    return s3.presign_get_object(key=key, expires_in=expires_in, filename=filename), "s3"


def upload_download_url(*, principal: UploadPrincipal, upload: Upload) -> str:
    """A short-lived URL that downloads the stored object as its original file name.
    Recorded in the audit trail: who fetched which file, and through which path
    (`via`: cloudfront or s3), is part of the story."""
    if not principal.may(Permission.DOWNLOAD):
        raise NotAllowed(Permission.DOWNLOAD)
    if upload.state != UploadState.STORED:
        raise WrongState(f"This upload is {upload.state}; only stored files can be downloaded.")
    if not upload.scan_allows_use:
        raise FileHeld(file_held_message(upload.scan_state))
    with storage_errors("sign the download"):
        url, via = _signed_get(
            key=upload.key,
            expires_in=settings.INTAKE_DOWNLOAD_EXPIRES_SECONDS,
            filename=keys.display_filename(upload.original_filename),
        )
    audit_record(action="upload.downloaded", upload=upload, user=principal.owner, detail={"via": via})
    return url


def quarantined_file_url(*, principal: UploadPrincipal, upload: Upload) -> str:
    """A short-lived URL of an infected file kept in quarantine, for admins only
    (READ_QUARANTINE), signed by S3 itself (the CDN serves the uploads prefix only).
    Audited `upload.quarantine_downloaded`: reading malware is an event."""
    if not principal.may(Permission.READ_QUARANTINE):
        raise NotAllowed(Permission.READ_QUARANTINE)
    if upload.scan_state != ScanState.INFECTED or not upload.quarantine_key:
        raise WrongState("This file is not in quarantine.")
    with storage_errors("sign the quarantined file"):
        url = s3.presign_get_object(
            key=upload.quarantine_key,
            expires_in=settings.INTAKE_DOWNLOAD_EXPIRES_SECONDS,
            filename=f"{keys.display_filename(upload.original_filename)}.infected",
        )
    audit_record(action="upload.quarantine_downloaded", upload=upload, user=principal.owner, detail={})
    return url


def derived_file_url(*, principal: UploadPrincipal, derivative: Derivative) -> str:
    """A short-lived URL of a derived file (thumbnail, extracted text) for staff pages,
    through CloudFront when configured, like downloads. A thumbnail opens inline; a
    text file downloads as `<original name>.txt`. Not audited: previews are part of
    looking at a page. The caller found the upload through a selector scoped to the
    principal; this checks the role: a thumbnail needs BROWSE (it is how people
    recognise a file), extracted text is the file's content and needs DOWNLOAD."""
    if not principal.may(Permission.BROWSE):
        raise NotAllowed(Permission.BROWSE)
    if derivative.kind == DerivativeKind.TEXT and not principal.may(Permission.DOWNLOAD):
        raise NotAllowed(Permission.DOWNLOAD)
    if not derivative.upload.scan_allows_use:
        raise FileHeld(file_held_message(derivative.upload.scan_state))
    filename = None
    if derivative.kind == DerivativeKind.TEXT:
        filename = f"{PurePosixPath(derivative.upload.original_filename).stem}.txt"
    with storage_errors("sign the preview"):
        url, _ = _signed_get(key=derivative.key, expires_in=settings.INTAKE_DERIVATIVE_URL_SECONDS, filename=filename)
    return url
