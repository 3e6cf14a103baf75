"""Object keys are made here, never taken from the client.

`uploads/<scope>/<yyyy>/<mm>/<uuid>/<safe-name>`: the UUID makes every key unique,
so two files of the same name never overwrite each other, and the date and scope
keep the bucket browsable. The file name is kept only as a readable last segment,
made safe first.
"""

import datetime as dt
import re
import unicodedata
import uuid

# S3 allows 1024 bytes per key; the name gets what the fixed parts leave, capped so
# keys stay readable in consoles and Content-Disposition headers.
MAX_NAME_BYTES = 150
FALLBACK_NAME = "file"
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)
_DASHES = re.compile(r"-{2,}")
_DASH_BEFORE_DOT = re.compile(r"-+\.")


def safe_filename(name: str) -> str:
    """Reduce a client-supplied file name to one safe, readable path segment.

    Drops any directory part (both separators), control and format characters
    (NUL, right-to-left override), turns everything but letters, digits, `.`, `-`
    and `_` into `-`, strips leading dots (no hidden files, no `..`), and caps the
    length in UTF-8 bytes while keeping the extension.
    """
    name = unicodedata.normalize("NFKC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in {"C"})
    name = _UNSAFE.sub("-", name)
    name = _DASH_BEFORE_DOT.sub(".", _DASHES.sub("-", name)).strip("-. ")
    if not name or set(name) <= {"."}:
        return FALLBACK_NAME
    return _truncate_keeping_extension(name, MAX_NAME_BYTES)


def _truncate_keeping_extension(name: str, max_bytes: int) -> str:
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = max_bytes - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")[:budget]
    # Cutting bytes can split a character: drop the broken tail.
    truncated = encoded.decode("utf-8", errors="ignore").rstrip("-.") or FALLBACK_NAME
    return truncated + suffix


def safe_scope(scope: str) -> str:
    cleaned = safe_filename(scope).lower()
    return cleaned if cleaned != FALLBACK_NAME or scope == FALLBACK_NAME else "unknown"


def build_object_key(*, prefix: str, scope: str, upload_id: uuid.UUID, filename: str, now: dt.datetime) -> str:
    return f"{prefix.strip('/')}/{safe_scope(scope)}/{now:%Y}/{now:%m}/{upload_id}/{safe_filename(filename)}"
