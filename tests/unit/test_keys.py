import datetime as dt
import uuid

import pytest

from uploader.uploads import keys
from uploader.uploads.keys import FALLBACK_NAME, MAX_NAME_BYTES, build_object_key, safe_filename

UPLOAD_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
NOW = dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("..", FALLBACK_NAME),
        ("...", FALLBACK_NAME),
        (".htaccess", "htaccess"),
        ("a\x00b.txt", "ab.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # right-to-left override dropped
        ("my file (1).png", "my-file-1.png"),
        ("Grüße aus Köln.jpg", "Grüße-aus-Köln.jpg"),
        ("\uff46\uff55\uff4c\uff4c.txt", "full.txt"),  # fullwidth letters, NFKC
        ("", FALLBACK_NAME),
        ("\n\t", FALLBACK_NAME),
        ("<script>alert(1)</script>.html", "script.html")  # "/" ends a directory,
    ],
)
def test_safe_filename_neutralises_hostile_names(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_caps_length_in_bytes_and_keeps_extension() -> None:
    name = "é" * 400 + ".docx"
    result = safe_filename(name)
    assert result.endswith(".docx")
    assert len(result.encode("utf-8")) <= MAX_NAME_BYTES
    result.encode("utf-8").decode("utf-8")  # no broken multi-byte character


def test_safe_filename_caps_names_without_extension() -> None:
    result = safe_filename("x" * 1000)
    assert result == "x" * MAX_NAME_BYTES


@pytest.mark.parametrize("name", ["../../x", "a/b/c.txt", "\x00", "\u202e", "😀" * 300, "con.txt"])
def test_built_key_has_fixed_shape_for_any_name(name: str) -> None:
    key = build_object_key(prefix="uploads/", scope="staff", upload_id=UPLOAD_ID, filename=name, now=NOW)
    parts = key.split("/")
    assert parts[:5] == ["uploads", "staff", "2026", "03", str(UPLOAD_ID)]
    assert len(parts) == 6
    assert ".." not in parts
    assert parts[5]
    assert len(key.encode("utf-8")) < 1024


def test_scope_is_made_safe_too() -> None:
    key = build_object_key(prefix="uploads", scope="../Evil Portal", upload_id=UPLOAD_ID, filename="a.txt", now=NOW)
    assert key.startswith("uploads/evil-portal/2026/03/")


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # right-to-left override
        ("a\u2066b\u2069c.pdf", "abc.pdf"),  # isolates
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("\ufeffbom.txt", "bom.txt"),
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.pdf", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.pdf"),  # ZWNJ kept
        ("family \U0001f468\u200d\U0001f469.png", "family \U0001f468\u200d\U0001f469.png"),  # ZWJ kept
        ("  tab\there.txt ", "tabhere.txt"),
        ("Cafe\u0301.txt", "Caf\u00e9.txt"),  # NFC
        ("\u202e", "file"),
    ],
)
def test_display_filename_drops_invisible_characters(given: str, shown: str) -> None:
    assert keys.display_filename(given) == shown
