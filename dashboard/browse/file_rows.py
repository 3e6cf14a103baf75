"""The file list's table rows as HTML, made in one pass.

Fifty rows of about twenty values each are most of the list page's own time when the
template's tags and filters make them (about 6 ms a page, more than the page's SQL):
each `{{ }}` resolves its name through the context and escapes it. Here each row is
one f-string over values `browse_rows` already made ready to print, every text
escaped, as the stats page makes its day table. `templates/dashboard/uploads/_results.html`
holds the rest of the table; the markup is the one the template made.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django.utils.safestring import SafeString, mark_safe

from dashboard.browse.selectors import BrowseRow

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
