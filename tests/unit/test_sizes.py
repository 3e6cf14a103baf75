"""One size formatter: the Python rule and its browser twin agree, number for number."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from uploader.uploads.sizes import format_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [0, 1, 2, 1023, 1024, 1025, 1536, 10 * 1024 - 1, 20 * 1024**2, 20 * 1000**2, 12.5 * 1024**2,
           1024**2 - 1, 1024**2 - 52, 5 * 1024**3 + 1, 1024**4 * 3, 1024**5 * 2000, 123456789, 987654321012]


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 bytes"), (1, "1 byte"), (900, "900 bytes"), (1024, "1 KiB"), (1536, "1.5 KiB"),
     (20 * 1024**2, "20 MiB"), (20 * 1000**2, "19.1 MiB"), (int(12.5 * 1024**2), "12.5 MiB"),
     (1024**2 - 1, "1 MiB"), (2 * 1024**3, "2 GiB"), (None, ""), (-5, "0 bytes")],
)  # fmt: skip
def test_sizes_read_in_binary_units_with_their_names(size, shown) -> None:  # type: ignore[no-untyped-def]
    assert format_bytes(size) == shown


def test_the_browser_formats_every_size_the_same_way() -> None:
    node = shutil.which("node")
    assert node, "node is needed for the browser twin's test"
    script = (
        f"const f = require({json.dumps(str(ROOT / 'static/intake/sizes.js'))});"
        f"console.log(JSON.stringify({json.dumps([int(s) for s in SAMPLES])}.map(f)));"
    )
    shown = json.loads(subprocess.run([node, "-e", script], check=True, capture_output=True, text=True).stdout)
    assert shown == [format_bytes(int(s)) for s in SAMPLES]


def test_no_page_or_message_shows_sizes_another_way() -> None:
    """Django's filesizeformat labels binary sizes "MB" ("20.0 MB" for 20 MiB): every
    template and module uses the one formatter instead."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("templates", "uploader", "dashboard")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".html", ".txt", ".py"} and "filesizeformat" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
