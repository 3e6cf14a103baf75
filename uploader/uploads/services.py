"""Every change to an Upload happens here.

The upload life cycle is a small state machine (models.ALLOWED_TRANSITIONS). Signing
never touches S3's contents; completing HEADs the object so the row records what S3
really holds, and enforces the limits a second time, because an S3-compatible
server may not enforce what was signed and a client may have lied about the size.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.request_context import log_about
from uploader import s3
from uploader.access.principals import UploadPrincipal
from uploader.access.roles import NotAllowed, Permission
from uploader.audit.services import audit_record
from uploader.portals import limits as portal_limits
from uploader.uploads import checksums, keys, rollup
from uploader.uploads.errors import InvalidInput, WrongState, storage_errors
from uploader.uploads.limits import check_declared, normalize_content_type
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.parts import MAX_PART_NUMBER, most_parts, multipart_part_size, part_lengths
from uploader.uploads.state import upload_mark_uploading
from uploader.uploads.storing import upload_close, upload_record_stored

logger = logging.getLogger(__name__)

SIGNABLE_STATES = frozenset({UploadState.REGISTERED, UploadState.UPLOADING})


@dataclass(frozen=True)
class SignedRequest:
    """One request the browser may send to S3 (the Companion `s3/params` shape)."""

    method: str
    url: str
    fields: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartETag:
    part_number: int
    etag: str


def _require_signable(upload: Upload) -> None:
    if upload.state not in SIGNABLE_STATES:
        raise WrongState(f"This upload is {upload.state}; nothing more can be uploaded to it.")


def _register(
    *,
    principal: UploadPrincipal,
    filename: str,
    content_type: str | None,
    size: int | None,
    multipart: bool,
) -> Upload:
    """An unsaved Upload for the principal, after its role and limits allow it."""
    if not principal.may(Permission.UPLOAD):
        raise NotAllowed(Permission.UPLOAD)
    content_type = normalize_content_type(content_type)
    check_declared(principal.limits, filename=filename, content_type=content_type, size=size)
    upload_id = uuid.uuid4()
    scope = principal.scope
    upload = Upload(
        id=upload_id,
        owner=principal.owner,
        scope=scope,
        **principal.registration_fields,
        original_filename=keys.display_filename(filename),
        key=keys.build_object_key(
            prefix=settings.INTAKE_S3_KEY_PREFIX,
            scope=scope,
            upload_id=upload_id,
            filename=filename,
            now=timezone.now(),
        ),
        declared_size=size,
        declared_content_type=content_type,
        is_multipart=multipart,
    )
    # No unique pre-check: the id is a fresh uuid4 and the key contains it, so the two
    # SELECTs could never find a row; the database's unique constraints still hold.
    upload.full_clean(exclude=["owner"], validate_unique=False)
    log_about(upload_id=upload_id, portal=upload.portal_id)
    if upload.portal_id is not None:
        portal_limits.portal_check_registration(upload)  # before anything is signed or opened
    if principal.admission is not None:
        principal.admission.check(upload)
    return upload


def _admit(upload: Upload, principal: UploadPrincipal) -> None:
    """Inside the transaction that saves a registration: a portal's count and total
    (and the caller's own admission) are checked again under a row lock, so
    concurrent registrations cannot overshoot."""
    if upload.portal_id is not None:
        portal_limits.portal_admit(upload)
    if principal.admission is not None:
        principal.admission.admit(upload)


def _registration_detail(upload: Upload, method: str) -> dict[str, object]:
    detail: dict[str, object] = {
        "filename": upload.original_filename,
        "declared_size": upload.declared_size,
        "content_type": upload.declared_content_type,
        "method": method,
    }
    if upload.content_md5:
        detail["content_md5"] = upload.content_md5
    if upload.portal_id is not None:
        # A client upload: the audit trail keeps who they said they were (the IP is
        # on the entry itself).
        detail.update(portal=upload.portal_id, uploader_name=upload.uploader_name, uploader_email=upload.uploader_email)
    if upload.request_item_id is not None:
        detail.update(request_item=upload.request_item_id, uploader_email=upload.uploader_email)
    return detail


def upload_sign_single(
    *,
    principal: UploadPrincipal,
    filename: str,
    content_type: str | None,
    size: int | None,
    content_md5: str | None = None,
) -> tuple[Upload, SignedRequest]:
    """Register a single-request upload and sign it.

    With a declared size the answer is a PUT whose signature covers Content-Type and
    Content-Length, so S3 refuses any other type or size, and, when the client sent
    the file's MD5 (base64, as `checksums.parse_content_md5` returns it), the
    Content-MD5, so S3 refuses other bytes. Without a size (clients that do not send
    it) it is a POST policy whose `content-length-range` caps the size at the limit,
    and whose conditions fix the key and the type.
    """
    limits = principal.limits
    upload = _register(principal=principal, filename=filename, content_type=content_type, size=size, multipart=False)
    expires = settings.INTAKE_PRESIGN_EXPIRES_SECONDS
    with storage_errors("sign the upload"):
        if size is not None:
            url = s3.presign_put_object(
                key=upload.key,
                content_type=upload.declared_content_type,
                content_length=size,
                expires_in=expires,
                content_md5=content_md5,
            )
            headers = {"content-type": upload.declared_content_type}
            if content_md5:
                headers["content-md5"] = content_md5
                upload.content_md5 = checksums.md5_hex(content_md5)
            signed = SignedRequest(method="PUT", url=url, fields={"key": upload.key}, headers=headers)
        else:
            post = s3.presign_post_object(
                key=upload.key,
                content_type=upload.declared_content_type,
                max_bytes=limits.max_bytes,
                expires_in=expires,
            )
            signed = SignedRequest(method="POST", url=post.url, fields=post.fields)
    with transaction.atomic():
        _admit(upload, principal)
        upload.save(force_insert=True)
        rollup.rollup_apply(before=[], after=[rollup.facts_of(upload)])
        audit_record(action="upload.registered", upload=upload, detail=_registration_detail(upload, signed.method))
    logger.info("upload %s registered (single %s, %s bytes)", upload.id, signed.method, size)
    return upload, signed


def upload_create_multipart(
    *,
    principal: UploadPrincipal,
    filename: str,
    content_type: str | None,
    size: int | None,
    part_size: int | None = None,
) -> Upload:
    """Register an upload and open its S3 multipart upload; no row without both.

    With a declared size the part size is fixed here: every part URL signed later
    binds its length, and no part number beyond the size is signed. Without one (as
    the single upload's POST policy, for clients that send none) nothing binds the
    parts: up to 10,000 are signed, and the stored object is held to the per-file
    limit (and a portal's total) when it is completed or its S3 event arrives, and
    deleted when it breaks them."""
    upload = _register(principal=principal, filename=filename, content_type=content_type, size=size, multipart=True)
    upload.part_size = multipart_part_size(size=size, requested=part_size)
    with storage_errors("start the multipart upload"):
        upload.multipart_upload_id = s3.create_multipart_upload(
            key=upload.key, content_type=upload.declared_content_type
        )
    try:
        with transaction.atomic():
            _admit(upload, principal)
            upload.save(force_insert=True)
            rollup.rollup_apply(before=[], after=[rollup.facts_of(upload)])
            audit_record(action="upload.registered", upload=upload, detail=_registration_detail(upload, "multipart"))
    except Exception:
        # The row could not be written: do not leave an orphan multipart upload.
        with storage_errors("abort the multipart upload"):
            s3.abort_multipart_upload(key=upload.key, upload_id=upload.multipart_upload_id)
        raise
    logger.info("upload %s registered (multipart, %s bytes in parts of %s)", upload.id, size, upload.part_size)
    return upload


def upload_sign_parts(
    *, upload: Upload, part_numbers: Sequence[int], content_md5s: Mapping[int, str] | None = None
) -> dict[int, str]:
    """Sign PUT URLs for the given part numbers; the first signature marks it uploading.
    Only the part numbers the declared size needs are signed (a client declaring 6 MiB
    in parts of 5 MiB gets parts 1 and 2, not 10,000), and each URL binds its part's
    Content-Length, so no part can carry more than its share of the declared size.
    An upload without a declared size gets unbound URLs for parts 1 to 10,000.
    With `content_md5s` (base64, per part number) each URL also binds its part's
    Content-MD5, so S3 refuses a part whose bytes are not the ones the client hashed."""
    _require_signable(upload)
    if not part_numbers:
        raise InvalidInput("At least one part number is required.", field="partNumbers")
    if len(part_numbers) > settings.INTAKE_MAX_PARTS_PER_BATCH:
        raise InvalidInput(
            f"At most {settings.INTAKE_MAX_PARTS_PER_BATCH} parts can be signed at once.", field="partNumbers"
        )
    for number in part_numbers:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidInput(f"Part numbers run from 1 to {MAX_PART_NUMBER}.", field="partNumber")
    highest = most_parts(upload.declared_size, upload.part_size)
    if max(part_numbers) > highest:
        unit = f"parts of {upload.part_size} bytes" if upload.part_size else "parts of at least 5 MiB"
        raise InvalidInput(
            f"Part {max(part_numbers)} is beyond this upload: {upload.declared_size} bytes in {unit}"
            f" need {'at most ' if not upload.part_size else ''}{highest} part{'s' if highest != 1 else ''}.",
            field="partNumbers",
        )
    lengths = None
    if upload.part_size is not None and upload.declared_size is not None:
        lengths = part_lengths(
            declared_size=upload.declared_size, part_size=upload.part_size, part_numbers=part_numbers
        )
    if upload.state == UploadState.REGISTERED:
        upload_mark_uploading(upload)
    with storage_errors("sign the part"):
        if content_md5s:
            return {
                number: s3.presign_upload_part(
                    key=upload.key,
                    upload_id=upload.multipart_upload_id,
                    part_number=number,
                    expires_in=settings.INTAKE_PRESIGN_EXPIRES_SECONDS,
                    content_length=None if lengths is None else lengths[number],
                    content_md5=content_md5s.get(number),
                )
                for number in part_numbers
            }
        return s3.presign_upload_parts(
            key=upload.key,
            upload_id=upload.multipart_upload_id,
            part_numbers=list(part_numbers),
            expires_in=settings.INTAKE_PRESIGN_EXPIRES_SECONDS,
            content_lengths=lengths,
        )


def upload_list_parts(*, upload: Upload) -> list[s3.UploadedPart]:
    _require_signable(upload)
    with storage_errors("list the uploaded parts"):
        return s3.list_parts(key=upload.key, upload_id=upload.multipart_upload_id)


def _validate_parts(parts: Sequence[PartETag]) -> list[tuple[int, str]]:
    if not parts:
        raise InvalidInput("The parts list is empty.", field="parts")
    numbers = [part.part_number for part in parts]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("The parts list names a part twice.", field="parts")
    for part in parts:
        if not 1 <= part.part_number <= MAX_PART_NUMBER:
            raise InvalidInput(f"Part numbers run from 1 to {MAX_PART_NUMBER}.", field="parts")
        # S3's ETags are printable ASCII; a control character would make the request's
        # XML invalid, and storage's error would look like an outage (a 503).
        if not part.etag or len(part.etag) > 128 or not (part.etag.isascii() and part.etag.isprintable()):
            raise InvalidInput(f"Part {part.part_number} has no valid ETag.", field="parts")
    return sorted((part.part_number, part.etag) for part in parts)


def upload_complete_multipart(*, upload: Upload, parts: Sequence[PartETag]) -> Upload:
    """Complete the S3 multipart upload, then record what S3 holds.

    Completing twice answers the same: a retried call after a lost response must
    not fail the user's upload.
    """
    if upload.state == UploadState.STORED:
        return upload
    _require_signable(upload)
    ordered = _validate_parts(parts)
    try:
        with storage_errors("complete the multipart upload"):
            s3.complete_multipart_upload(key=upload.key, upload_id=upload.multipart_upload_id, parts=ordered)
    except WrongState:
        # NoSuchUpload: a concurrent complete may have won; the object tells.
        with storage_errors("check the object"):
            if s3.head_object_or_none(key=upload.key) is None:
                raise
    return upload_record_stored(upload_id=upload.id)


def upload_complete_single(*, upload: Upload) -> Upload:
    """The browser says its PUT/POST finished: check with S3 and record it."""
    if upload.state == UploadState.STORED:
        return upload
    _require_signable(upload)
    return upload_record_stored(upload_id=upload.id)


def upload_abort_multipart(*, upload: Upload) -> Upload:
    """Abort the S3 multipart upload (freeing its parts) and mark the upload aborted."""
    if upload.state == UploadState.ABORTED:
        return upload
    _require_signable(upload)
    try:
        with storage_errors("abort the multipart upload"):
            s3.abort_multipart_upload(key=upload.key, upload_id=upload.multipart_upload_id)
    except WrongState:
        pass  # already gone in S3: aborting is what the caller wanted anyway
    upload, _ = upload_close(upload_id=upload.pk, state=UploadState.ABORTED, action="upload.aborted")
    logger.info("upload %s aborted", upload.id)
    return upload
