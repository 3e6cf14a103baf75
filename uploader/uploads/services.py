"""Every change to an Upload happens here.

The upload life cycle is a small state machine (models.ALLOWED_TRANSITIONS). Signing
never touches S3's contents; completing HEADs the object so the row records what S3
really holds, and enforces the limits a second time, because an S3-compatible
server may not enforce what was signed and a client may have lied about the size.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from uploader import s3
from uploader.access.principals import UploadPrincipal
from uploader.access.roles import NotAllowed, Permission
from uploader.audit.services import audit_record
from uploader.ingest.events import sequencer_is_newer, sequencer_order
from uploader.portals import limits as portal_limits
from uploader.processing import services as processing
from uploader.processing.models import Derivative, DerivativeKind
from uploader.s3 import cloudfront
from uploader.uploads import checksums, keys
from uploader.uploads.errors import ChecksumMismatch, InvalidInput, LimitExceeded, StorageUnavailable, WrongState
from uploader.uploads.limits import UploadLimits, check_declared, check_stored, normalize_content_type
from uploader.uploads.models import ALLOWED_TRANSITIONS, Upload, UploadState

logger = logging.getLogger(__name__)

MAX_PART_NUMBER = 10_000  # S3's limit
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum size of every part but the last
SIGNABLE_STATES = frozenset({UploadState.REGISTERED, UploadState.UPLOADING})
REPLACED_REASON = "the file was replaced after it arrived"


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


@contextmanager
def _storage(action: str) -> Iterator[None]:
    """Turn storage failures into the errors the API answers with."""
    try:
        yield
    except s3.StorageUnavailable as exc:
        raise StorageUnavailable(f"File storage is not reachable right now ({action}); please try again shortly.") from exc
    except s3.MultipartUploadNotFound as exc:
        raise WrongState("This multipart upload no longer exists in storage (it was completed, aborted or expired).") from exc
    except s3.StorageRefused as exc:
        raise InvalidInput(f"Storage refused to {action}: {exc.code}.") from exc


def _transition(upload: Upload, new_state: str) -> None:
    if new_state not in ALLOWED_TRANSITIONS[upload.state]:
        raise WrongState(f"This upload is {upload.state}; it cannot become {new_state}.")
    upload.state = new_state


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
        original_filename=filename.strip(),
        key=keys.build_object_key(
            prefix=settings.INTAKE_S3_KEY_PREFIX, scope=scope, upload_id=upload_id, filename=filename, now=timezone.now()
        ),
        declared_size=size,
        declared_content_type=content_type,
        is_multipart=multipart,
    )
    # No unique pre-check: the id is a fresh uuid4 and the key contains it, so the two
    # SELECTs could never find a row; the database's unique constraints still hold.
    upload.full_clean(exclude=["owner"], validate_unique=False)
    if upload.portal_id is not None:
        portal_limits.portal_check_registration(upload)  # before anything is signed or opened
    return upload


def _admit(upload: Upload) -> None:
    """Inside the transaction that saves a registration: a portal's count and total
    are checked again under its row lock, so concurrent registrations cannot overshoot."""
    if upload.portal_id is not None:
        portal_limits.portal_admit(upload)


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
    with _storage("sign the upload"):
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
                key=upload.key, content_type=upload.declared_content_type, max_bytes=limits.max_bytes, expires_in=expires
            )
            signed = SignedRequest(method="POST", url=post.url, fields=post.fields)
    with transaction.atomic():
        _admit(upload)
        upload.save(force_insert=True)
        audit_record(action="upload.registered", upload=upload, detail=_registration_detail(upload, signed.method))
    logger.info("upload %s registered (single %s, %s bytes)", upload.id, signed.method, size)
    return upload, signed


MAX_PART_SIZE = 5 * 1024**3  # S3's maximum part size


def multipart_part_size(*, size: int, requested: int | None) -> int:
    """The part size of a new multipart upload: the one the client asked for, or
    INTAKE_PART_SIZE_BYTES (raised, as Uppy raises its chunk size, when the file would
    otherwise need more than 10,000 parts)."""
    if requested is None:
        return max(settings.INTAKE_PART_SIZE_BYTES, -(-size // MAX_PART_NUMBER))
    if not MIN_PART_SIZE <= requested <= MAX_PART_SIZE:
        raise InvalidInput(f"partSize must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes.", field="partSize")
    if -(-size // requested) > MAX_PART_NUMBER:
        raise InvalidInput(
            f"partSize {requested} would split {size} bytes into more than {MAX_PART_NUMBER} parts.", field="partSize"
        )
    return requested


def upload_create_multipart(
    *,
    principal: UploadPrincipal,
    filename: str,
    content_type: str | None,
    size: int,
    part_size: int | None = None,
) -> Upload:
    """Register an upload and open its S3 multipart upload; no row without both.
    The part size is fixed here: every part URL signed later binds its length."""
    upload = _register(principal=principal, filename=filename, content_type=content_type, size=size, multipart=True)
    upload.part_size = multipart_part_size(size=size, requested=part_size)
    with _storage("start the multipart upload"):
        upload.multipart_upload_id = s3.create_multipart_upload(key=upload.key, content_type=upload.declared_content_type)
    try:
        with transaction.atomic():
            _admit(upload)
            upload.save(force_insert=True)
            audit_record(action="upload.registered", upload=upload, detail=_registration_detail(upload, "multipart"))
    except Exception:
        # The row could not be written: do not leave an orphan multipart upload.
        with _storage("abort the multipart upload"):
            s3.abort_multipart_upload(key=upload.key, upload_id=upload.multipart_upload_id)
        raise
    logger.info("upload %s registered (multipart, %s bytes in parts of %s)", upload.id, size, upload.part_size)
    return upload


def most_parts(declared_size: int | None, part_size: int | None = None) -> int:
    """The highest part number an upload can need: ceil(declared / part size). Without
    a recorded part size (uploads registered before part sizes were bound) every part
    but the last is at least S3's minimum part size (5 MiB), so no honest client needs
    more than ceil(declared / 5 MiB)."""
    if declared_size is None:
        return MAX_PART_NUMBER
    return min(MAX_PART_NUMBER, max(1, -(-declared_size // (part_size or MIN_PART_SIZE))))


def part_lengths(*, declared_size: int, part_size: int, part_numbers: Sequence[int]) -> dict[int, int]:
    """Each part's exact length: the part size, and the remainder for the last part."""
    last = most_parts(declared_size, part_size)
    return {
        number: part_size if number < last else declared_size - part_size * (last - 1) for number in part_numbers
    }


def upload_sign_parts(
    *, upload: Upload, part_numbers: Sequence[int], content_md5s: Mapping[int, str] | None = None
) -> dict[int, str]:
    """Sign PUT URLs for the given part numbers; the first signature marks it uploading.
    Only the part numbers the declared size needs are signed (a client declaring 6 MiB
    in parts of 5 MiB gets parts 1 and 2, not 10,000), and each URL binds its part's
    Content-Length, so no part can carry more than its share of the declared size.
    With `content_md5s` (base64, per part number) each URL also binds its part's
    Content-MD5, so S3 refuses a part whose bytes are not the ones the client hashed."""
    _require_signable(upload)
    if not part_numbers:
        raise InvalidInput("At least one part number is required.", field="partNumbers")
    if len(part_numbers) > settings.INTAKE_MAX_PARTS_PER_BATCH:
        raise InvalidInput(f"At most {settings.INTAKE_MAX_PARTS_PER_BATCH} parts can be signed at once.", field="partNumbers")
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
        lengths = part_lengths(declared_size=upload.declared_size, part_size=upload.part_size, part_numbers=part_numbers)
    if upload.state == UploadState.REGISTERED:
        # Conditional update: of concurrent part signatures, one moves the state
        # (and records it); the others find it moved.
        with transaction.atomic():
            moved = Upload.objects.filter(pk=upload.pk, state=UploadState.REGISTERED).update(
                state=UploadState.UPLOADING, updated_at=timezone.now()
            )
            if moved:
                audit_record(action="upload.uploading", upload=upload)
        upload.state = UploadState.UPLOADING
    with _storage("sign the part"):
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
    with _storage("list the uploaded parts"):
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
        if not part.etag or len(part.etag) > 128:
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
        with _storage("complete the multipart upload"):
            s3.complete_multipart_upload(key=upload.key, upload_id=upload.multipart_upload_id, parts=ordered)
    except WrongState:
        # NoSuchUpload: a concurrent complete may have won; the object tells.
        with _storage("check the object"):
            if s3.head_object_or_none(key=upload.key) is None:
                raise
    return upload_record_stored(upload_id=upload.id)


def upload_complete_single(*, upload: Upload) -> Upload:
    """The browser says its PUT/POST finished: check with S3 and record it."""
    if upload.state == UploadState.STORED:
        return upload
    _require_signable(upload)
    return upload_record_stored(upload_id=upload.id)


def upload_record_stored(*, upload_id: uuid.UUID, limits: UploadLimits | None = None) -> Upload:
    """HEAD the object and move the upload to `stored`, or to `rejected` when the
    stored object breaks its limits (the object is then deleted and the caller
    hears why)."""
    upload = Upload.objects.get(pk=upload_id)
    try:
        with _storage("check the stored file"):
            head = s3.head_object(key=upload.key)
    except s3.ObjectNotFound:
        raise WrongState("The file has not arrived in storage yet.") from None
    upload = upload_apply_stored_object(upload_id=upload_id, head=head, limits=limits)
    if upload.state == UploadState.REJECTED:
        if upload.rejection_reason == checksums.MISMATCH_REASON:
            raise ChecksumMismatch(f"The file was refused: {upload.rejection_reason}. Please send it again.", field="md5")
        raise LimitExceeded(f"The file was refused: {upload.rejection_reason}.", field="size")
    return upload


def upload_apply_stored_object(
    *, upload_id: uuid.UUID, head: s3.ObjectHead, limits: UploadLimits | None = None, sequencer: str = ""
) -> Upload:
    """Record what S3 holds for an upload: `stored`, or `rejected` (object deleted)
    when it breaks its limits. The one writer shared by the complete call and S3
    events; a repeat with the same object changes nothing. Portal uploads are held
    to their portal's limits (per file and in total) unless `limits` is given.

    A stored upload whose object now has another ETag was overwritten (its signed
    PUT stays valid for a while after complete), so its row, digests and derivatives
    describe bytes that are gone: it is rejected and the new object deleted."""
    problem = ""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload_id)
        applied = upload.last_sequencer
        if sequencer:
            upload.last_sequencer = max(upload.last_sequencer, sequencer, key=sequencer_order)
        if upload.state == UploadState.STORED and _replaced(upload, head, sequencer=sequencer, applied=applied):
            problem = REPLACED_REASON
            _transition(upload, UploadState.REJECTED)
            upload.rejection_reason = problem
            upload.save(update_fields=["state", "rejection_reason", "last_sequencer", "updated_at"])
            audit_record(
                action="upload.replaced",
                upload=upload,
                detail={
                    "old_etag": upload.etag,
                    "new_etag": head.etag,
                    "new_size": head.size,
                    "reason": problem,
                    "sequencer": sequencer,
                },
            )
            processing.derivatives_discard_schedule(upload)
        elif upload.state in {UploadState.STORED, UploadState.REJECTED, UploadState.DELETED}:
            upload.save(update_fields=["last_sequencer", "updated_at"])
            return upload
        else:
            problem = _apply_first_object(upload, head, limits=limits, sequencer=sequencer)
    if problem:
        logger.warning("upload %s rejected: %s", upload.id, problem)
        _delete_rejected_object(upload)
    else:
        logger.info("upload %s stored (%s bytes)", upload.id, head.size)
    return upload


def _replaced(upload: Upload, head: s3.ObjectHead, *, sequencer: str, applied: str) -> bool:
    """The stored object's ETag changed: a known, different ETag, from an event newer
    than any applied (when it has a sequencer). The same ETag is a repeat."""
    if not head.etag or not upload.etag or head.etag == upload.etag:
        return False
    return not sequencer or sequencer_is_newer(sequencer, applied)


def _apply_first_object(upload: Upload, head: s3.ObjectHead, *, limits: UploadLimits | None, sequencer: str) -> str:
    """A waiting upload's object arrived: stored, or rejected with the returned reason."""
    own_limits = limits or portal_limits.portal_stored_limits(upload) or UploadLimits.from_settings()
    problem = (
        check_stored(own_limits, declared_size=upload.declared_size, stored_size=head.size)
        or portal_limits.portal_stored_problem(upload, stored_size=head.size)
        or checksums.stored_digest_problem(
            expected_md5_hex=upload.content_md5, etag=head.etag, encryption=head.encryption
        )
    )
    if problem:
        _transition(upload, UploadState.REJECTED)
        upload.rejection_reason = problem
    else:
        _transition(upload, UploadState.STORED)
        upload.stored_at = timezone.now()
    upload.stored_size = head.size
    upload.etag = head.etag
    upload.save(update_fields=["state", "rejection_reason", "stored_size", "etag", "stored_at", "last_sequencer", "updated_at"])
    audit_record(
        action=f"upload.{upload.state}",
        upload=upload,
        detail={"stored_size": head.size, "etag": head.etag, "reason": problem or "", "sequencer": sequencer},
    )
    if not problem:
        processing.processing_schedule(upload)  # derivatives, after this commits, if its portal asks
    return problem or ""


def _delete_rejected_object(upload: Upload) -> None:
    try:
        s3.delete_object(key=upload.key)
    except s3.StorageError:
        # The row already says rejected, so nothing serves the object; the periodic
        # reconciliation removes objects of rejected uploads that are still there.
        logger.warning("upload %s: could not delete the rejected object yet", upload.id)


def upload_close(
    *, upload_id: uuid.UUID, state: str, action: str, detail: dict[str, object] | None = None, sequencer: str = ""
) -> tuple[Upload, bool]:
    """Move an upload to a final state (deleted, aborted) when the state machine
    allows it, with its audit entry, under a row lock; a repeat changes nothing.
    Returns the upload and whether it changed."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload_id)
        if sequencer:
            upload.last_sequencer = max(upload.last_sequencer, sequencer, key=sequencer_order)
        changed = state in ALLOWED_TRANSITIONS[upload.state]
        if changed:
            upload.state = state
        upload.save(update_fields=["state", "last_sequencer", "updated_at"])
        if changed:
            audit_record(action=action, upload=upload, detail=detail)
            processing.derivatives_discard_schedule(upload)  # a deleted file's thumbnail goes too
    return upload, changed


def upload_abort_multipart(*, upload: Upload) -> Upload:
    """Abort the S3 multipart upload (freeing its parts) and mark the upload aborted."""
    if upload.state == UploadState.ABORTED:
        return upload
    _require_signable(upload)
    try:
        with _storage("abort the multipart upload"):
            s3.abort_multipart_upload(key=upload.key, upload_id=upload.multipart_upload_id)
    except WrongState:
        pass  # already gone in S3: aborting is what the caller wanted anyway
    upload, _ = upload_close(upload_id=upload.pk, state=UploadState.ABORTED, action="upload.aborted")
    logger.info("upload %s aborted", upload.id)
    return upload


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
    with _storage("sign the download"):
        url, via = _signed_get(
            key=upload.key, expires_in=settings.INTAKE_DOWNLOAD_EXPIRES_SECONDS, filename=upload.original_filename
        )
    audit_record(action="upload.downloaded", upload=upload, user=principal.owner, detail={"via": via})
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
    filename = None
    if derivative.kind == DerivativeKind.TEXT:
        filename = f"{PurePosixPath(derivative.upload.original_filename).stem}.txt"
    with _storage("sign the preview"):
        url, _ = _signed_get(key=derivative.key, expires_in=settings.INTAKE_DERIVATIVE_URL_SECONDS, filename=filename)
    return url
