"""The file browser's filter form (a GET form): parses and checks every filter.

A value that does not parse gets an error on its field and is left out of the
filters (`UploadFilterForm.filters`), so a bad link shows the list with a message
instead of failing or quietly filtering by something else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from dashboard.browse.selectors import DEFAULT_SORT, KIND_CHOICES, NO_PORTAL, SORT_CHOICES, UploadFilters
from uploader.portals.services import parse_size
from uploader.uploads.models import UploadState

SEARCH_MAX_CHARS = 200
# Dates outside these years are typing mistakes, and far-off ones overflow the time
# zone arithmetic of the databases.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
LARGEST_SIZE = 2**63 - 1  # what a 64-bit database column holds
SIZE_HELP = "For example 5 MB, 200 KiB or a number of bytes."


def validate_filter_date(day: dt.date) -> None:
    """A date filter's bounds, for every dashboard form that filters by date (the file
    browser, the audit page): outside them a day is a typing mistake, and adding a day
    to 9999-12-31 or shifting 0001-01-01 by a time zone fails in Python or the database."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValidationError(f"Choose a date between {EARLIEST_DATE.year} and {LATEST_DATE.year}.")


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date such as 2025-03-31."},
        validators=[validate_filter_date],
    )


def _attributes(attrs: dict[str, Any]) -> SafeString:
    """HTML attributes as Django's widgets/attrs.html writes them."""
    return mark_safe(  # noqa: S308 - each part made by format_html
        "".join(
            format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value)
            for name, value in attrs.items()
            if value is not False and value is not None
        )
    )


class PlainSelect(forms.Select):
    """A select written in Python, markup as Django's template writes it: with a few
    hundred portals to choose from, the template engine's include per option cost the
    file list more than its query did."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        # The standard library's escape() per value rather than format_html per option
        # (a SafeString made per call): a few hundred options.
        options = "".join(
            f'\n  <option value="{escape(str(option["value"]))}"{_attributes(option["attrs"]) if option["attrs"] else ""}>'
            f"{escape(option['label'])}</option>\n"
            for _, group, _ in widget["optgroups"]
            for option in group
        )
        opening = format_html('<select name="{}"{}>', widget["name"], _attributes(widget["attrs"]))
        return mark_safe(opening + options + "\n</select>")  # noqa: S308 - every value escaped


class UploadFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=SEARCH_MAX_CHARS,
        label="Search",
        help_text="File name, sender's name or e-mail, staff user name or e-mail, portal name.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *UploadState.choices], widget=PlainSelect)
    portal = forms.ChoiceField(required=False, widget=PlainSelect)
    kind = forms.ChoiceField(
        required=False, label="Kind of file", choices=[("", "Any kind"), *KIND_CHOICES], widget=PlainSelect
    )
    uploaded_from = _date_field("Uploaded from")
    uploaded_to = _date_field("Uploaded until")
    size_min = forms.CharField(required=False, max_length=40, label="Size at least", help_text=SIZE_HELP)
    size_max = forms.CharField(required=False, max_length=40, label="Size at most", help_text=SIZE_HELP)
    tag = forms.ChoiceField(required=False, label="Tag", widget=PlainSelect)
    sort = forms.ChoiceField(
        required=False, choices=SORT_CHOICES, initial=DEFAULT_SORT, label="Sort by", widget=PlainSelect
    )

    def __init__(
        self, *args: Any, portals: Sequence[tuple[str, str]] = (), tags: Sequence[str] = (), **kwargs: Any
    ) -> None:
        """`portals`: (id, name) of every portal (dashboard.browse.selectors.portal_choices),
        `tags`: every tag in use, passed in so the form itself never reads the database."""
        super().__init__(*args, **kwargs)
        portal_field = self.fields["portal"]
        assert isinstance(portal_field, forms.ChoiceField)
        portal_field.choices = [("", "Any portal"), (NO_PORTAL, "No portal (staff uploads)"), *portals]
        tag_field = self.fields["tag"]
        assert isinstance(tag_field, forms.ChoiceField)
        tag_field.choices = [("", "Any tag"), *((tag, tag) for tag in tags)]
        for name, field in self.fields.items():
            # Screen readers read the error and the hint with the field.
            described = [f"id_{name}-error"] + ([f"id_{name}-help"] if field.help_text else [])
            field.widget.attrs["aria-describedby"] = " ".join(described)

    def _clean_size(self, name: str) -> int | None:
        text = self.cleaned_data.get(name, "")
        try:
            size = parse_size(text)
        except ValidationError:
            raise ValidationError(f"“{text[:40]}” is not a size; write for example 5 MB, 200 KiB or 1048576.") from None
        if size is not None and size > LARGEST_SIZE:
            raise ValidationError("That is larger than any file can be.")
        return size

    def clean_size_min(self) -> int | None:
        return self._clean_size("size_min")

    def clean_size_max(self) -> int | None:
        return self._clean_size("size_max")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("uploaded_from"), data.get("uploaded_to")
        if start is not None and end is not None and end < start:
            self.add_error("uploaded_to", "The end date is before the start date.")
        low, high = data.get("size_min"), data.get("size_max")
        if low is not None and high is not None and high < low:
            self.add_error("size_max", "The largest size is smaller than the smallest size.")
        return data

    def filters(self) -> UploadFilters:
        """The filters from the values that passed; a field with an error is left out."""
        if not self.is_bound:
            return UploadFilters()
        self.is_valid()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"
        data = self.cleaned_data
        return UploadFilters(
            q=data.get("q") or "",
            state=data.get("state") or "",
            portal=data.get("portal") or "",
            kind=data.get("kind") or "",
            uploaded_from=data.get("uploaded_from"),
            uploaded_to=data.get("uploaded_to"),
            size_min=data.get("size_min"),
            size_max=data.get("size_max"),
            tag=data.get("tag") or "",
            sort=data.get("sort") or DEFAULT_SORT,
        )
