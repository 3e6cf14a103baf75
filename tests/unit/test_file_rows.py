"""The file list's rows made in Python (dashboard.browse.rows) are the markup the
template loop made before, for every shape of row, and escape what senders wrote."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template

from dashboard.browse.rows import BrowseRow, file_rows_html

# The loop `templates/dashboard/uploads/_results.html` had, as it was.
TEMPLATE_ROWS = Template(
    """{% for row in rows %}
    <tr data-upload-id="{{ row.id }}" data-state="{{ row.state }}">
      <td data-label="File" class="filename"><a href="{{ row.detail_url }}">{{ row.name }}</a></td>
      <td data-label="From" class="wrap"><div>{% if row.sender_name %}{{ row.sender_name }}{% if row.sender_email %}<br><span class="hint">{{ row.sender_email }}</span>{% endif %}{% else %}<span class="hint">unknown</span>{% endif %}</div></td>
      <td data-label="Portal" class="wrap">{% if row.portal_name %}{{ row.portal_name }}{% else %}<span class="hint">none</span>{% endif %}</td>
      <td data-label="State"><span class="state state-{{ row.state }}">{{ row.state_label }}</span>{% if row.scan_state %} <span class="state scan-{{ row.scan_state }}" data-scan-state="{{ row.scan_state }}">{{ row.scan_label }}</span>{% endif %}</td>
      <td data-label="Size">{% if row.size %}{{ row.size }}{% else %}<span class="hint">unknown</span>{% endif %}</td>
      <td data-label="Uploaded"><time datetime="{{ row.created_iso }}">{{ row.created_text }}</time></td>
      {% if can_download %}<td data-label="">{% if row.download_url %}<button type="submit" form="download-form" formaction="{{ row.download_url }}" class="link">Download<span class="visually-hidden"> {{ row.name }}</span></button>{% endif %}</td>{% endif %}
    </tr>
  {% endfor %}"""
)


def _row(**changes: str) -> BrowseRow:
    values = {
        "id": "0b6a3c1e-6a7e-4f43-9a53-7f3b5a3f1c11",
        "state": "stored",
        "state_label": "Stored",
        "scan_state": "clean",
        "scan_label": "Clean",
        "name": "Tax return 2025.pdf",
        "detail_url": "/uploads/0b6a3c1e-6a7e-4f43-9a53-7f3b5a3f1c11/",
        "download_url": "/uploads/0b6a3c1e-6a7e-4f43-9a53-7f3b5a3f1c11/download/",
        "sender_name": "Zoë Ölund",
        "sender_email": "zoe@example.com",
        "portal_name": "Year-end 2025",
        "size": "1.2 MB",
        "created_iso": "2026-12-03T10:15:00+00:00",
        "created_text": "3 Dec 2026 10:15",
        "rejection_reason": "",
    }
    values.update(changes)
    return BrowseRow(**values)


ROWS = [
    _row(),
    _row(scan_state="", scan_label="", download_url="", state="rejected", state_label="Rejected"),
    _row(sender_name="", sender_email="", portal_name="", size=""),
    _row(sender_email=""),
    # Whatever a sender typed is text, never markup, in every place it is shown.
    _row(
        name='<img src=x onerror="alert(1)">&amp;.pdf',
        sender_name="<b>O'Brien & Söhne</b>",
        sender_email='"quoted"@example.com',
        portal_name="<script>alert('portal')</script>",
    ),
]


def _between_tags_collapsed(markup: str) -> str:
    # The template put new lines and indentation between the tags; a table ignores them.
    return re.sub(r">\s+<", "><", markup.strip())


@pytest.mark.parametrize("can_download", [True, False])
def test_rows_are_the_markup_the_template_made(can_download: bool) -> None:
    expected = TEMPLATE_ROWS.render(Context({"rows": ROWS, "can_download": can_download}))
    made = file_rows_html(ROWS, can_download=can_download)
    assert _between_tags_collapsed(made) == _between_tags_collapsed(expected)
    assert made.count("<tr ") == len(ROWS)


def test_what_senders_wrote_is_escaped() -> None:
    made = file_rows_html(ROWS[-1:], can_download=True)
    for markup in ("<script>", "<img", "<b>"):
        assert markup not in made
    assert "&lt;script&gt;alert(&#x27;portal&#x27;)&lt;/script&gt;" in made
    assert "&lt;b&gt;O&#x27;Brien &amp; Söhne&lt;/b&gt;" in made
    assert "&amp;amp;.pdf" in made  # escaped once more, as text
