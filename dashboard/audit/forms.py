"""The audit page's filter form (GET): every field optional, each one narrows."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboard.audit.selectors import AUDIT_NEWEST, AuditFilters
from dashboard.browse.forms import validate_filter_date
from uploader.uploads.keyset import CURSOR_MAX_CHARS, BadCursor

LARGEST_ENTRY_ID = 2**63 - 1  # what the 64-bit id column holds
DAMAGED_LINK = "This page link is damaged; filter again to start from the first page."


class DateInput(forms.DateInput):
    input_type = "date"


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        required=False,
        max_length=64,
        help_text="An action from the list, or the start of one (“portal.”).",
        widget=forms.TextInput(attrs={"list": "audit-actions", "autocomplete": "off"}),
    )
    actor = forms.CharField(required=False, max_length=150, label="Actor contains")
    upload = forms.UUIDField(required=False, label="Upload id")
    request_id = forms.CharField(required=False, max_length=64, label="Request id")
    date_from = forms.DateField(
        required=False, label="From", widget=DateInput(format="%Y-%m-%d"), validators=[validate_filter_date]
    )
    date_to = forms.DateField(
        required=False, label="To", widget=DateInput(format="%Y-%m-%d"), validators=[validate_filter_date]
    )
    # Not typed by anyone: the page links carry the newest entry's id from when the
    # first page was shown, so entries added since (each view adds one) do not push
    # rows from one page onto the next. The filter form leaves it out, so filtering
    # again starts a fresh list.
    until = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=LARGEST_ENTRY_ID,
        label="Entries up to",
        widget=forms.HiddenInput,
        error_messages={"invalid": DAMAGED_LINK, "min_value": DAMAGED_LINK, "max_value": DAMAGED_LINK},
    )

    # The page links' cursors (keyset pages: the key of the last or first row shown).
    after = forms.CharField(required=False, max_length=CURSOR_MAX_CHARS, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=CURSOR_MAX_CHARS, widget=forms.HiddenInput)

    def _clean_cursor(self, name: str) -> str:
        cursor = self.cleaned_data.get(name) or ""
        if cursor:
            try:
                AUDIT_NEWEST.parse_cursor(cursor)
            except BadCursor:
                raise forms.ValidationError(DAMAGED_LINK) from None
        return cursor

    def clean_after(self) -> str:
        return self._clean_cursor("after")

    def clean_before(self) -> str:
        return self._clean_cursor("before")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def filters(self) -> AuditFilters:
        """The valid form as filters (call after is_valid())."""
        data = self.cleaned_data
        return AuditFilters(
            action=data.get("action", "").strip(),
            actor=data.get("actor", "").strip(),
            upload_id=data.get("upload"),
            request_id=data.get("request_id", "").strip(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            until_id=data.get("until"),
        )
