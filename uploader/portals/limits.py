"""A portal's own limits, on top of the site-wide ones: per-file size, allowed
extensions and content types, file count and total bytes.

Checked three times: when a file is registered (before anything is signed or a
multipart upload opened), again under the portal's row lock in the transaction that
saves the registration (so concurrent registrations cannot together overshoot the
count or total), and after the object is stored (what S3 holds, not what was said).

A file registered without a size (clients that send none) takes its place in the
count at once, but its bytes only count once it is stored: its total is kept after
storing, under the portal's row lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from uploader.portals.models import Portal
from uploader.portals.selectors import portal_usage
from uploader.uploads.errors import LimitExceeded
from uploader.uploads.limits import UploadLimits
from uploader.uploads.models import Upload
from uploader.uploads.sizes import format_bytes


def portal_upload_limits(portal: Portal) -> UploadLimits:
    """Per-file limits: the portal's, never above the site-wide ones."""
    site = UploadLimits.from_settings()
    max_bytes = min(portal.max_file_bytes or site.max_bytes, site.max_bytes)
    types = tuple(portal.allowed_content_types) or site.allowed_content_types
    return UploadLimits(max_bytes=max_bytes, allowed_content_types=types)


def extension_of(filename: str) -> str:
    name = filename.strip().replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, extension = name.rpartition(".")
    return f".{extension.lower()}" if dot and stem else ""


def limits_summary(portal: Portal) -> list[str]:
    """The limits in words, shown on the portal page before anything is uploaded."""
    limits = portal_upload_limits(portal)
    lines = [f"Each file can be up to {format_bytes(limits.max_bytes)}."]
    if portal.max_files:
        lines.append(f"Up to {portal.max_files} file{'s' if portal.max_files != 1 else ''} in all.")
    if portal.max_total_bytes:
        lines.append(f"Up to {format_bytes(portal.max_total_bytes)} in total.")
    if portal.allowed_extensions:
        lines.append(f"Accepted file names end in {', '.join(portal.allowed_extensions)}.")
    if limits.allowed_content_types:
        lines.append(f"Accepted file types: {', '.join(limits.allowed_content_types)}.")
    return lines


@dataclass(frozen=True)
class Allowance:
    """What a portal can still take: bytes and files left (None: no limit of that kind)."""

    bytes_left: int | None
    files_left: int | None

    @property
    def exhausted(self) -> bool:
        return self.bytes_left == 0 or self.files_left == 0

    def in_words(self) -> str:
        """ "12.5 MiB and 3 files left", "3 files left", or "" when the portal has no total limits."""
        parts = []
        if self.bytes_left is not None:
            parts.append(format_bytes(self.bytes_left))
        if self.files_left is not None:
            parts.append(f"{self.files_left} file{'s' if self.files_left != 1 else ''}")
        return f"{' and '.join(parts)} left" if parts else ""


def portal_allowance(portal: Portal) -> Allowance:
    """What is left of the portal's file count and total, counting files in flight."""
    if portal.max_files is None and portal.max_total_bytes is None:
        return Allowance(bytes_left=None, files_left=None)
    usage = portal_usage(portal=portal)
    return Allowance(
        bytes_left=max(portal.max_total_bytes - usage.bytes, 0) if portal.max_total_bytes is not None else None,
        files_left=max(portal.max_files - usage.files, 0) if portal.max_files is not None else None,
    )


def portal_check_registration(upload: Upload) -> None:
    """Refuse a portal upload before it is signed, saying which limit and why.

    Without a declared size only what needs none is checked: the name, the count, and
    that some of the total is left; the rest of the total waits for the stored size.
    """
    portal = upload.portal
    assert portal is not None
    if portal.allowed_extensions and extension_of(upload.original_filename) not in portal.allowed_extensions:
        raise LimitExceeded(
            f"Files named like '{upload.original_filename[:80]}' are not accepted here; "
            f"accepted: {', '.join(portal.allowed_extensions)}.",
            field="filename",
        )
    usage = portal_usage(portal=portal, exclude=upload)
    if portal.max_files is not None and usage.files + 1 > portal.max_files:
        raise LimitExceeded(
            f"This link accepts at most {portal.max_files} file{'s' if portal.max_files != 1 else ''}, "
            "and that many have already been sent.",
            field="count",
        )
    if portal.max_total_bytes is None:
        return
    left = max(portal.max_total_bytes - usage.bytes, 0)
    if upload.declared_size is None:
        if not left:  # any file is at least a byte
            raise LimitExceeded(
                f"This link accepts {format_bytes(portal.max_total_bytes)} in total, and that much has already been sent.",
                field="size",
            )
    elif upload.declared_size > left:
        raise LimitExceeded(
            f"This file is {format_bytes(upload.declared_size)} but only {format_bytes(left)} of the "
            f"{format_bytes(portal.max_total_bytes)} this link accepts in total is left.",
            field="size",
        )


def portal_admit(upload: Upload) -> None:
    """The same check under the portal's row lock; call it in the transaction that
    saves the registration. Concurrent registrations queue on the lock, so each sees
    the others' rows."""
    assert upload.portal_id is not None
    upload.portal = Portal.objects.select_for_update().get(pk=upload.portal_id)
    portal_check_registration(upload)


def portal_stored_problem(upload: Upload, *, stored_size: int) -> str | None:
    """Why an arrived object breaks its portal's total, or None. Call it in the
    transaction that records the object: the portal's row lock makes concurrent
    arrivals (of files registered without a size, which no registration check held
    to the total) each see the others."""
    if upload.portal_id is None:
        return None
    portal = Portal.objects.select_for_update().get(pk=upload.portal_id)
    if portal.max_total_bytes is None:
        return None
    used = portal_usage(portal=portal, exclude=upload).bytes
    if used + stored_size > portal.max_total_bytes:
        return (
            f"this link's total would be {format_bytes(used + stored_size)}, over its "
            f"{format_bytes(portal.max_total_bytes)} limit"
        )
    return None


def portal_stored_limits(upload: Upload) -> UploadLimits | None:
    """Per-file limits for the after-store check of a portal upload (None for others)."""
    return portal_upload_limits(upload.portal) if upload.portal is not None else None
