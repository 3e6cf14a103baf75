"""Errors the upload services raise; the API turns each into one HTTP status.

Each carries a message written for the person whose upload failed, and the field it
is about when there is one.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from uploader import s3


class UploadError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(UploadError):
    status = 400
    code = "invalid"


class LimitExceeded(UploadError):
    """The declared (or stored) file breaks a limit: size, type, count."""

    status = 400
    code = "limit_exceeded"


class ChecksumMismatch(UploadError):
    """The stored bytes are not the ones the client checksummed."""

    status = 400
    code = "checksum_mismatch"


class UploadNotFound(UploadError):
    """No such upload for this caller; also what someone else's upload looks like."""

    status = 404
    code = "not_found"


class WrongState(UploadError):
    status = 409
    code = "wrong_state"


class FileHeld(WrongState):
    """The file is stored but its malware scan has not released it (pending, infected,
    not scannable): nothing reads it until it does."""

    code = "file_held"


def file_held_message(scan_state: str) -> str:
    if scan_state == "infected":
        return "This file holds malware: it was refused and is kept only in quarantine."
    if scan_state == "unscannable":
        return "This file could not be scanned for malware; an admin may release it."
    return "This file is waiting for its malware scan; try again in a moment."


class StorageUnavailable(UploadError, s3.StorageUnavailable):
    """s3.StorageUnavailable with a message for people and the API's 503: one outage
    whichever layer noticed it, so `except s3.StorageUnavailable` and the tasks'
    `autoretry_for` catch this too."""

    status = 503
    code = "storage_unavailable"
    # S3 outages seen so far last seconds; clients (Uppy's retryDelays) come back.
    retry_after = 5


class Unauthenticated(UploadError):
    """Nobody we know is calling: no session, no token."""

    status = 401
    code = "unauthenticated"


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn storage failures into the errors the API answers with."""
    try:
        yield
    except s3.StorageUnavailable as exc:
        raise StorageUnavailable(f"File storage is not reachable right now ({action}); please try again shortly.") from exc
    except s3.MultipartUploadNotFound as exc:
        raise WrongState("This multipart upload no longer exists in storage (it was completed, aborted or expired).") from exc
    except s3.StorageRefused as exc:
        raise InvalidInput(f"Storage refused to {action}: {exc.code}.") from exc
