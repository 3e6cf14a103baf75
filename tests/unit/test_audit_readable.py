"""The audit trail in words (dashboard/audit/readable.py): labels and values."""

from __future__ import annotations

import pytest

from dashboard.audit.readable import action_label, field_label, value_text


def test_known_actions_have_labels_and_unknown_ones_stay_readable() -> None:
    assert action_label("upload.stored") == "File stored"
    assert action_label("portal.link_rotated") == "New portal link made"
    assert action_label("thing.was_done") == "Thing: was done"


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("max_file_bytes", 26_214_400, "25 MiB"),
        ("stored_size", 11, "11 bytes"),
        ("has_password", True, "yes"),
        ("expires_at", None, "none"),
        ("reason", "", "(empty)"),
        ("changed", ["slug", "max_total_bytes"], "Link name, Total size of all files"),
        ("allowed_extensions", [".pdf", ".jpg"], ".pdf, .jpg"),
        ("limits", {"max_files": 3}, '{"max_files": 3}'),
        ("count", 12345, "12,345"),
    ],
)
def test_values_in_words(key: str, value: object, text: str) -> None:
    assert value_text(key, value) == text


def test_field_names_in_words() -> None:
    assert field_label("max_total_bytes") == "Total size of all files"
    assert field_label("some_new_field") == "Some new field"
