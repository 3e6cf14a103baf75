"""The file browser's filter form and kind table: pure parsing, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.browse.forms import UploadFilterForm
from dashboard.browse.selectors import DEFAULT_SORT, NO_PORTAL, UploadFilters, kind_of

PORTALS = [("3", "Acme accounts"), ("7", "Beta")]


def form(**data: str) -> UploadFilterForm:
    return UploadFilterForm(data, portals=PORTALS)


def test_an_unbound_form_filters_nothing_and_sorts_newest_first() -> None:
    assert UploadFilterForm(None, portals=PORTALS).filters() == UploadFilters()
    assert UploadFilters().sort == DEFAULT_SORT == "newest"


def test_every_good_value_is_parsed() -> None:
    f = form(
        q="  invoice ann ",
        state="stored",
        portal="7",
        kind="pdf",
        uploaded_from="2025-03-01",
        uploaded_to="2025-03-31",
        size_min="5 MB",
        size_max="2 GiB",
        sort="largest",
    )
    assert f.filters() == UploadFilters(
        q="invoice ann",
        state="stored",
        portal="7",
        kind="pdf",
        uploaded_from=dt.date(2025, 3, 1),
        uploaded_to=dt.date(2025, 3, 31),
        size_min=5_000_000,
        size_max=2 * 1024**3,
        sort="largest",
    )
    assert not f.errors


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1_048_576),
        ("5 MB", 5_000_000),
        ("5mb", 5_000_000),
        ("200 KiB", 204_800),
        ("1.5 GB", 1_500_000_000),
        ("0", 0),
    ],
)
def test_sizes_accept_units_or_plain_bytes(text: str, size: int) -> None:
    assert form(size_min=text).filters().size_min == size


def test_no_portal_is_a_choice() -> None:
    assert form(portal=NO_PORTAL).filters().portal == NO_PORTAL


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("state", "exploded", "valid choice"),
        ("portal", "999", "valid choice"),
        ("portal", "abc", "valid choice"),
        ("kind", "spreadsheets", "valid choice"),
        ("sort", "random", "valid choice"),
        ("uploaded_from", "2025-02-30", "Enter a date such as"),
        ("uploaded_to", "yesterday", "Enter a date such as"),
        ("uploaded_from", "0001-01-01", "between 1900 and 2999"),
        ("uploaded_to", "9999-12-31", "between 1900 and 2999"),
        ("size_min", "five megabytes", "is not a size"),
        ("size_max", "-3", "is not a size"),
        ("size_max", "9" * 30 + " TB", "larger than any file"),
        ("size_max", "9" * 41, "at most 40 characters"),
        ("q", "x" * 201, "at most 200 characters"),
    ],
)
def test_a_bad_value_is_an_error_on_its_field_and_not_used(field: str, value: str, message: str) -> None:
    f = form(**{field: value, "q": "kept"} if field != "q" else {field: value})
    filters = f.filters()
    assert list(f.errors) == [field]
    assert message in f.errors[field][0]
    assert f.fields[field].widget.attrs["aria-invalid"] == "true"
    # The bad value is left out: the filter is as if the field were empty.
    assert getattr(filters, field) == getattr(UploadFilters(), field)
    if field != "q":
        assert filters.q == "kept"  # the good fields still apply


def test_an_end_date_before_the_start_is_an_error_on_the_end_only() -> None:
    f = form(uploaded_from="2025-03-10", uploaded_to="2025-03-01")
    filters = f.filters()
    assert list(f.errors) == ["uploaded_to"]
    assert filters.uploaded_from == dt.date(2025, 3, 10)
    assert filters.uploaded_to is None


def test_a_largest_size_below_the_smallest_is_an_error_on_the_largest() -> None:
    f = form(size_min="10 MB", size_max="1 MB")
    filters = f.filters()
    assert list(f.errors) == ["size_max"]
    assert (filters.size_min, filters.size_max) == (10_000_000, None)


def test_fields_point_screen_readers_at_their_error_and_hint() -> None:
    f = form()
    assert f.fields["size_min"].widget.attrs["aria-describedby"] == "id_size_min-error id_size_min-help"
    assert f.fields["state"].widget.attrs["aria-describedby"] == "id_state-error"


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("image/png", "images"),
        ("IMAGE/JPEG", "images"),
        ("application/pdf", "pdf"),
        ("text/plain; charset=utf-8", "documents"),
        ("text/csv", "documents"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "documents"),
        ("application/vnd.ms-excel", "documents"),
        ("application/vnd.oasis.opendocument.text", "documents"),
        ("application/json", "documents"),  # as the stats page counts them
        ("application/vnd.apple.pages", "documents"),
        ("video/mp4", "video"),
        ("audio/mpeg", "audio"),
        ("application/zip", "other"),
        ("application/octet-stream", "other"),
        ("", "other"),
    ],
)
def test_kinds_come_from_the_declared_content_type(content_type: str, kind: str) -> None:
    assert kind_of(content_type) == kind


@pytest.mark.parametrize("value", ["", "3", "none", None])
def test_the_plain_select_writes_what_djangos_select_template_writes(value: str | None) -> None:
    from django import forms

    from dashboard.browse.forms import PlainSelect

    choices = [("", "Any portal"), ("none", "No portal"), ("3", "Müller & <Co>"), ("4", 'Say "x"')]
    attrs = {"aria-describedby": "id_portal-error", "aria-invalid": "true"}
    expected = forms.Select(choices=choices, attrs=attrs).render("portal", value, attrs={"id": "id_portal"})
    assert PlainSelect(choices=choices, attrs=attrs).render("portal", value, attrs={"id": "id_portal"}) == expected
