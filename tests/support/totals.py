"""The file list's totals line as a person sees it: read from the page, or, where the
page left a search's count to its own request (ADR 0015), from that request as htmx
loads it."""

from __future__ import annotations

import html
import re
from typing import Any

from django.test import Client

COUNTING = "Counting the files…"


def _line(response: Any) -> str:
    found = re.search(r"<p class=\"browse-totals\" data-totals>(.*?)</p>", response.content.decode(), re.S)
    assert found is not None, "no totals line"
    return found.group(1)


def totals_shown(response: Any) -> str:
    """The line's text on the page itself (COUNTING while its count loads)."""
    text = re.sub(r"<noscript>.*?</noscript>", "", _line(response), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def totals_loaded(client: Client, response: Any) -> str:
    """The line once loaded: the page's own, or what its count request answers."""
    counting = re.search(r'<span data-counting hx-get="([^"]+)"', _line(response))
    if counting is None:
        return totals_shown(response)
    counted = client.get(html.unescape(counting.group(1)), HTTP_HX_REQUEST="true")
    assert counted.status_code == 200
    found = re.search(r"<span data-counted>(.*?)</span>", counted.content.decode(), re.S)
    assert found is not None, "the count request answered no line"
    return html.unescape(found.group(1)).strip()
