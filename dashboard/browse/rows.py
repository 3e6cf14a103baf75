"""The file list's rows, ready to print: what a page shows of each upload
(`browse_rows`, also a portal's page), and the list's table rows as HTML made in one
pass (`file_rows_html`).

Fifty rows of about twenty values each were most of the list page's own time when the
template's tags and filters made them (about 5 ms a page, more than the page's SQL):
each `{{ }}` resolves its name through the context and escapes it. Here each row is
one f-string over values already made ready to print, every text escaped, as the stats
page makes its day table. `templates/dashboard/uploads/_results.html` holds the rest
of the table; the markup is the one the template made.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from uploader.uploads.models import ScanState, Upload, UploadState
from uploader.uploads.sizes import format_bytes

_UNKNOWN = '<span class="hint">unknown</span>'
_NO_PORTAL = '<span class="hint">none</span>'


def file_rows_html(rows: Iterable[BrowseRow], *, can_download: bool) -> SafeString:
    """The `<tr>` of each row, as `_results.html`'s table body has them."""
    return mark_safe("\n".join(_row_html(row, can_download=can_download) for row in rows))  # noqa: S308 - escaped


def _row_html(row: BrowseRow, *, can_download: bool) -> str:
    name = escape(row.name)
    if row.sender_name:
        sender = escape(row.sender_name)
        if row.sender_email:
            sender += f'<br><span class="hint">{escape(row.sender_email)}</span>'
    else:
        sender = _UNKNOWN
    state = escape(row.state)
    scan = ""
    if row.scan_state:
        scan_state = escape(row.scan_state)
        scan = f' <span class="state scan-{scan_state}" data-scan-state="{scan_state}">{escape(row.scan_label)}</span>'
    download = ""
    if can_download:
        button = ""
        if row.download_url:
            button = (
                f'<button type="submit" form="download-form" formaction="{escape(row.download_url)}" class="link">'
                f'Download<span class="visually-hidden"> {name}</span></button>'
            )
        download = f'<td data-label="">{button}</td>'
    return (
        f'<tr data-upload-id="{escape(row.id)}" data-state="{state}">'
        f'<td data-label="File" class="filename"><a href="{escape(row.detail_url)}">{name}</a></td>'
        f'<td data-label="From" class="wrap"><div>{sender}</div></td>'
        f'<td data-label="Portal" class="wrap">{escape(row.portal_name) if row.portal_name else _NO_PORTAL}</td>'
        f'<td data-label="State"><span class="state state-{state}">{escape(row.state_label)}</span>{scan}</td>'
        f'<td data-label="Size">{escape(row.size) if row.size else _UNKNOWN}</td>'
        f'<td data-label="Uploaded"><time datetime="{escape(row.created_iso)}">{escape(row.created_text)}</time></td>'
        f"{download}</tr>"
    )


@dataclass(frozen=True)
class BrowseRow:
    """One row of the file list, every value ready to print: the page renders 50 of
    these with plain lookups (no URL reversal, filter or include per row)."""

    id: str
    state: str
    state_label: str
    scan_state: str  # "" unless stored: only stored files show their scan
    scan_label: str
    name: str
    detail_url: str
    download_url: str  # "" when the file cannot be downloaded now
    sender_name: str  # "" for unknown
    sender_email: str
    portal_name: str  # "" for staff uploads
    size: str  # "" when unknown
    created_iso: str
    created_text: str
    rejection_reason: str


def browse_rows(uploads: Iterable[Upload]) -> list[BrowseRow]:
    """The page's uploads (sender and portal joined, or a portal's own) as rows: two URL reversals for the
    page, not two per row. Times in TIME_ZONE, as the `date` filter shows them."""
    detail_prefix = reverse("dashboard:upload-detail", args=[_PLACEHOLDER_ID]).split(str(_PLACEHOLDER_ID))
    download_prefix = reverse("dashboard:upload-download", args=[_PLACEHOLDER_ID]).split(str(_PLACEHOLDER_ID))
    zone = timezone.get_default_timezone()
    state_labels = dict(UploadState.choices)
    scan_labels = dict(ScanState.choices)
    rows = []
    for upload in uploads:
        upload_id = str(upload.pk)
        stored = upload.state == UploadState.STORED
        if upload.portal_id:
            sender_name, sender_email = upload.uploader_name or "(no name given)", upload.uploader_email
        elif upload.owner is not None:
            sender_name, sender_email = upload.owner.get_username(), upload.owner.email
        else:
            sender_name, sender_email = "", ""
        created = timezone.localtime(upload.created_at, zone)
        known = upload.stored_size if upload.stored_size is not None else upload.declared_size
        size = getattr(upload, "size_bytes", known)  # the list annotates it; a portal's page does not
        rows.append(
            BrowseRow(
                id=upload_id,
                state=upload.state,
                state_label=state_labels.get(upload.state, upload.state),
                scan_state=upload.scan_state if stored else "",
                scan_label=scan_labels.get(upload.scan_state, upload.scan_state) if stored else "",
                name=upload.original_filename,
                detail_url=upload_id.join(detail_prefix),
                download_url=upload_id.join(download_prefix) if stored and upload.scan_allows_use else "",
                sender_name=sender_name,
                sender_email=sender_email,
                portal_name=upload.portal.name if upload.portal is not None else "",
                size=format_bytes(size) if size is not None else "",
                created_iso=created.isoformat(),
                created_text=f"{created.day} {_MONTHS[created.month - 1]} {created:%Y %H:%M}",
                rejection_reason=upload.rejection_reason,
            )
        )
    return rows


# An id no upload has, reversed once per page to learn the URLs around an id.
_PLACEHOLDER_ID = uuid.UUID(int=0)
# The `date` filter's "M" in English; the staff pages are in English.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
