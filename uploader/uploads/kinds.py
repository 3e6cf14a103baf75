"""Kinds of file, from the declared content type: one table for the file browser's
filter and labels, the stats page and the daily rollup, so their numbers agree.

The same rule twice: `kind_of` in Python (the rollup's writer) and `kind_case` in SQL
(the recount, the browser's filter); tests/unit/test_upload_kinds.py holds them to
each other."""

from __future__ import annotations

from django.db.models import Case, CharField, Q, Value, When
from django.db.models.functions import Lower

DOCUMENT_TYPE_PREFIXES: tuple[str, ...] = (
    "text/",
    "application/msword",
    "application/rtf",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.ms-",
    "application/vnd.oasis.opendocument.",
    "application/vnd.apple.",
    "application/json",
    "application/xml",
)

# Which declared content types make each kind (prefixes, lower case); first match wins,
# and a type matching none is "other".
FILE_KINDS: dict[str, tuple[str, ...]] = {
    "images": ("image/",),
    "pdf": ("application/pdf",),
    "documents": DOCUMENT_TYPE_PREFIXES,
    "video": ("video/",),
    "audio": ("audio/",),
}
OTHER_KIND = "other"
KIND_CHOICES: tuple[tuple[str, str], ...] = (
    ("images", "Images"),
    ("pdf", "PDF"),
    ("documents", "Documents (text, Office, OpenDocument, iWork)"),
    ("video", "Video"),
    ("audio", "Audio"),
    (OTHER_KIND, "Other"),
)


def kind_of(content_type: str) -> str:
    """The kind of file a declared content type names (a FILE_KINDS key or "other")."""
    lowered = content_type.lower()
    for kind, prefixes in FILE_KINDS.items():
        if lowered.startswith(prefixes):
            return kind
    return OTHER_KIND


def _starts_with_any(prefixes: tuple[str, ...]) -> Q:
    matches = Q()
    for prefix in prefixes:
        matches |= Q(_kind_content_type__startswith=prefix)
    return matches


def kind_case() -> Case:
    """`kind_of` in SQL, for a queryset annotated with `kind_content_type()`."""
    return Case(
        *(When(_starts_with_any(prefixes), then=Value(kind)) for kind, prefixes in FILE_KINDS.items()),
        default=Value(OTHER_KIND),
        output_field=CharField(),
    )


def kind_content_type() -> dict[str, Lower]:
    """The annotation `kind_case` reads: the declared type in lower case."""
    return {"_kind_content_type": Lower("declared_content_type")}


def kind_q(kind: str) -> Q:
    """The rows of one kind, by the same prefixes as `kind_of` (the kinds' prefixes do
    not overlap, so first-match order does not matter here)."""
    if kind == OTHER_KIND:
        known = Q()
        for prefixes in FILE_KINDS.values():
            for prefix in prefixes:
                known |= Q(declared_content_type__istartswith=prefix)
        return ~known
    matches = Q()
    for prefix in FILE_KINDS[kind]:
        matches |= Q(declared_content_type__istartswith=prefix)
    return matches
