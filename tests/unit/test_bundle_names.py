"""Names inside a 'download all' zip (uploader.bundles.naming)."""

from __future__ import annotations

from uploader.bundles.naming import UniqueNames, zip_segment


def test_repeats_get_a_number_before_the_extension_compared_without_case() -> None:
    names = UniqueNames()
    assert [names.take(n) for n in ["a.pdf", "A.pdf", "a.pdf", "a (2).pdf"]] == [
        "a.pdf",
        "A (2).pdf",
        "a (3).pdf",
        "a (2) (2).pdf",
    ]


def test_folders_keep_their_own_names_apart() -> None:
    names = UniqueNames()
    assert names.take("scan.pdf", folder="P60") == "P60/scan.pdf"
    assert names.take("scan.pdf", folder="ID") == "ID/scan.pdf"
    assert names.take("scan.pdf", folder="ID") == "ID/scan (2).pdf"


def test_a_name_cannot_climb_out_or_hide() -> None:
    assert zip_segment("../../etc/passwd") == "-..-etc-passwd"
    assert zip_segment("..\\evil.exe") == "-evil.exe"
    assert zip_segment(".bashrc") == "bashrc"
    assert zip_segment("..") == "file"
    assert zip_segment("a\u202egnp.exe") == "agnp.exe"  # the right-to-left override is dropped


def test_long_names_keep_their_extension() -> None:
    segment = zip_segment("x" * 300 + ".pdf")
    assert len(segment) == 150
    assert segment.endswith(".pdf")


def test_unicode_is_kept_nfc() -> None:
    assert zip_segment("Re\u0301sume\u0301 ✓.txt") == "Résumé ✓.txt"
