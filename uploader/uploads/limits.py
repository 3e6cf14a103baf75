"""Upload limits, checked before anything is signed and again after the object is stored."""

import unicodedata
from dataclasses import dataclass

from django.conf import settings

from uploader.uploads.errors import InvalidInput, LimitExceeded
from uploader.uploads.sizes import format_bytes

MAX_FILENAME_LENGTH = 255
MAX_CONTENT_TYPE_LENGTH = 255
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    allowed_content_types: tuple[str, ...] = ()  # exact types or "type/*"; empty allows any

    @classmethod
    def from_settings(cls) -> "UploadLimits":
        return cls(
            max_bytes=settings.INTAKE_MAX_UPLOAD_BYTES,
            allowed_content_types=tuple(t.strip().lower() for t in settings.INTAKE_ALLOWED_CONTENT_TYPES if t.strip()),
        )

    def allows_content_type(self, content_type: str) -> bool:
        if not self.allowed_content_types:
            return True
        major = content_type.split("/", 1)[0]
        return any(allowed in {content_type, f"{major}/*"} for allowed in self.allowed_content_types)


def normalize_content_type(content_type: str | None) -> str:
    """Lower-case `type/subtype` without parameters; empty means octet-stream."""
    value = (content_type or "").split(";", 1)[0].strip().lower()
    if not value:
        return DEFAULT_CONTENT_TYPE
    if len(value) > MAX_CONTENT_TYPE_LENGTH or value.count("/") != 1 or not value.isascii() or " " in value:
        raise InvalidInput(f"'{value[:60]}' is not a valid content type.", field="type")
    return value


def check_declared(limits: UploadLimits, *, filename: str, content_type: str, size: int | None) -> None:
    """Refuse a file before it is signed, with a reason a person understands."""
    if not filename.strip():
        raise InvalidInput("A file name is required.", field="filename")
    if len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidInput(f"File names can be at most {MAX_FILENAME_LENGTH} characters.", field="filename")
    if any(unicodedata.category(char) == "Cc" for char in filename):
        raise InvalidInput("File names cannot contain control characters (such as line breaks).", field="filename")
    if size is None:
        pass  # not declared: the POST policy caps it and the stored size is checked
    elif size < 1:
        raise InvalidInput("The file is empty; there is nothing to upload.", field="size")
    elif size > limits.max_bytes:
        raise LimitExceeded(
            f"This file is {format_bytes(size)}; the largest file accepted is {format_bytes(limits.max_bytes)}.",
            field="size",
        )
    if not limits.allows_content_type(content_type):
        raise LimitExceeded(
            f"Files of type {content_type} are not accepted here; accepted: {', '.join(limits.allowed_content_types)}.",
            field="type",
        )


def check_stored(
    limits: UploadLimits,
    *,
    declared_size: int | None,
    stored_size: int,
    declared_type: str = "",
    stored_type: str = "",
) -> str | None:
    """Return why a stored object breaks its limits, or None when it is fine.

    The stored Content-Type is compared when the caller knows it (a HEAD): every URL
    signs the declared type, but an S3-compatible server that does not enforce signed
    headers would store whatever the client sent, and a portal that takes only PDFs
    must not end up holding text/html."""
    if stored_size > limits.max_bytes:
        return f"stored object is {format_bytes(stored_size)}, over the {format_bytes(limits.max_bytes)} limit"
    if declared_size is not None and stored_size != declared_size:
        return f"stored object is {stored_size} bytes but {declared_size} bytes were declared"
    if declared_type and stored_type and not _same_type(declared_type, stored_type):
        return f"stored object's type is {stored_type[:60]} but {declared_type} was declared"
    return None


# What S3 stores when a PUT names no type: the same "any bytes" as ours.
_OCTET_STREAMS = frozenset({DEFAULT_CONTENT_TYPE, "binary/octet-stream"})


def _same_type(declared_type: str, stored_type: str) -> bool:
    try:
        stored = normalize_content_type(stored_type)
    except InvalidInput:
        return False  # not even a content type: certainly not the declared one
    return stored == declared_type or {stored, declared_type} <= _OCTET_STREAMS
