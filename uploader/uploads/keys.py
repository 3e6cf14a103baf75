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


# Joiners that scripts (Persian, Indic) and emoji need; every other format character
# (Unicode category Cf) is invisible and can reorder what a person reads: U+202E turns
# "invoice\u202egpj.exe" into what looks like "invoiceexe.jpg".
_KEPT_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})


def display_filename(name: str) -> str:
    """The client's file name as staff see it and downloads name it: NFC, without
    control characters or invisible format characters (bidirectional overrides,
    zero-width spaces), outer white space trimmed. Not a key: `safe_filename` is."""
    name = unicodedata.normalize("NFC", name)
    kept = (
        ch
        for ch in name
        if unicodedata.category(ch) != "Cc" and (unicodedata.category(ch) != "Cf" or ch in _KEPT_FORMAT_CHARACTERS)
    )
    return "".join(kept).strip() or FALLBACK_NAME


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
