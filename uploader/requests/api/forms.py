"""The input of each requests API call, as one form per call (the upload contract's way,
uploader.api.forms): the list's query string, and the JSON bodies of making a request
and sending an item back.

Only the shape is checked here (types, lengths, dates, known names); what depends on
the rest of the request (addresses, endings, content types, who may set the retention)
is the services'. JSON values are taken only as the type expected, and text only when
it can be stored (no NUL, no lone surrogate: `"\\ud800"` is valid JSON that no database
column holds). A name the call does not know is refused, so a misspelt `dueDate` is a
400 and not a request made without its due date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from uploader.api.forms import ContractForm, TextField, WholeNumberField
from uploader.requests.models import RequestState
from uploader.requests.reminders import Schedule, default_schedule
from uploader.requests.services import MAX_EMAILS, MAX_ITEMS, MAX_REASON, ItemSpec
from uploader.uploads.errors import InvalidInput
from uploader.uploads.keyset import CURSOR_MAX_CHARS

# Due dates the reminder arithmetic can always add to (the file browser's bounds too).
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
MAX_INSTRUCTIONS = 5_000
MAX_RULES = 50  # endings or content types of one item
MAX_FILES_PER_ROUND = 10_000
MAX_RETENTION_DAYS = 36_500
MAX_REMINDER_DAYS = 365
_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _storable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("%(field)s is not valid text (a lone surrogate).", code="invalid") from None
    return text


def _range(low: int, high: int) -> list[Any]:
    return [
        MinValueValidator(low, message=f"%(field)s must be at least {low}."),
        MaxValueValidator(high, message=f"%(field)s must be at most {high}."),
    ]


class StorableTextField(TextField):
    """Text as sent, that a database can hold."""

    def to_python(self, value: Any) -> str:
        return _storable(super().to_python(value))


class NamedField(forms.Field):
    """Its errors name the field as the client sent it (ContractForm fills it in)."""

    default_error_messages = {"required": "%(field)s is required."}


class TextListField(NamedField):
    """A JSON list of text, each at most `max_length` characters."""

    def __init__(self, *, max_items: int, max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_items, self.max_length = max_items, max_length

    def to_python(self, value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
            raise ValidationError("%(field)s must be a list of text.", code="invalid")
        if len(value) > self.max_items:
            raise ValidationError(f"%(field)s takes at most {self.max_items} values.", code="max_items")
        for entry in value:
            if len(entry) > self.max_length or "\x00" in entry:
                raise ValidationError(
                    f"Each value of %(field)s is text of at most {self.max_length} characters.", code="invalid"
                )
            _storable(entry)
        return value


class JsonBooleanField(NamedField):
    """true or false (not "true", not 1): JSON says which it means."""

    def to_python(self, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise ValidationError("%(field)s must be true or false.", code="invalid")


class QueryBooleanField(NamedField):
    """A query string's flag: true/false, 1/0, yes/no, on/off; empty is false."""

    def to_python(self, value: Any) -> bool:
        text = str(value or "").strip().lower()
        if text in {"", "0", "false", "no", "off"}:
            return False
        if text in {"1", "true", "yes", "on"}:
            return True
        raise ValidationError("%(field)s must be true or false.", code="invalid")


class IsoDateField(NamedField):
    """`YYYY-MM-DD` between 1900 and 2999, or null."""

    def to_python(self, value: Any) -> dt.date | None:
        if value is None or value == "":
            return None
        message = "%(field)s must be a date such as 2026-06-30, between 1900 and 2999."
        if not isinstance(value, str) or not _ISO_DAY.match(value):
            raise ValidationError(message, code="invalid")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError(message, code="invalid") from None
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(message, code="invalid")
        return day


class StrictForm(ContractForm):
    """A JSON object's form: a name the call does not know is refused."""

    def values(self) -> dict[str, Any]:
        if isinstance(self.data, Mapping):
            for name in self.data:
                if name not in self.fields:
                    raise InvalidInput(f"{str(name)[:40]} is not a field of this call.", field=str(name)[:40])
        return super().values()


# --- GET requests ---------------------------------------------------------------------------------


class RequestListForm(ContractForm):
    """`GET requests?state=&overdue=&client=&before=` (the query string may carry more)."""

    state = StorableTextField(required=False)
    overdue = QueryBooleanField(required=False)
    client = StorableTextField(required=False, max_length=200)
    before = StorableTextField(required=False, max_length=CURSOR_MAX_CHARS)

    def clean_state(self) -> str:
        state = self.cleaned_data["state"]
        if state and state not in RequestState.values:
            raise ValidationError(f"%(field)s must be one of {', '.join(RequestState.values)}.", code="invalid")
        return str(state)


# --- POST requests --------------------------------------------------------------------------------


class ItemForm(StrictForm):
    title = StorableTextField(max_length=200)
    instructions = StorableTextField(required=False, max_length=MAX_INSTRUCTIONS)
    required = JsonBooleanField(required=False)
    allowedExtensions = TextListField(required=False, max_items=MAX_RULES, max_length=20)
    allowedContentTypes = TextListField(required=False, max_items=MAX_RULES, max_length=255)
    maxFiles = WholeNumberField(required=False, validators=_range(1, MAX_FILES_PER_ROUND))
    dueDate = IsoDateField(required=False)

    def spec(self) -> ItemSpec:
        data = self.values()
        return ItemSpec(
            title=data["title"],
            instructions=data["instructions"],
            required=data["required"] is not False,  # required unless said otherwise
            allowed_extensions=tuple(data["allowedExtensions"]),
            allowed_content_types=tuple(data["allowedContentTypes"]),
            max_files=data["maxFiles"],
            due_date=data["dueDate"],
        )


class RemindersForm(StrictForm):
    """The schedule; a kind left out keeps the settings' default, 0 or null is off."""

    daysBeforeDue = WholeNumberField(required=False, validators=_range(0, MAX_REMINDER_DAYS))
    onDueDate = JsonBooleanField(required=False)
    overdueEveryDays = WholeNumberField(required=False, validators=_range(0, MAX_REMINDER_DAYS))
    nothingReceivedDays = WholeNumberField(required=False, validators=_range(0, MAX_REMINDER_DAYS))

    def schedule(self) -> Schedule:
        data, default = self.values(), default_schedule()

        def days(name: str, fallback: int | None) -> int | None:
            return (data[name] or None) if name in self.data else fallback

        return Schedule(
            days_before_due=days("daysBeforeDue", default.days_before_due),
            on_due_date=default.on_due_date if data["onDueDate"] is None else data["onDueDate"],
            overdue_every_days=days("overdueEveryDays", default.overdue_every_days),
            nothing_received_days=days("nothingReceivedDays", default.nothing_received_days),
        )


class RequestCreateForm(StrictForm):
    """`POST requests` with `{clientName, clientEmails, company, dueDate, template, items,
    requireCode, waitsForStaff, retentionDays, reminders}`: the template's items unless
    `items` are given."""

    clientName = StorableTextField(max_length=200)
    clientEmails = TextListField(max_items=MAX_EMAILS, max_length=254)
    company = StorableTextField(required=False, max_length=200)
    dueDate = IsoDateField(required=False)
    template = WholeNumberField(required=False, validators=_range(1, 2**63 - 1))
    items = NamedField(required=False)  # each one an ItemForm (item_specs)
    requireCode = JsonBooleanField(required=False)
    waitsForStaff = JsonBooleanField(required=False)
    retentionDays = WholeNumberField(required=False, validators=_range(1, MAX_RETENTION_DAYS))
    reminders = NamedField(required=False)  # a RemindersForm

    def item_specs(self) -> list[ItemSpec] | None:
        """The items given, or None to copy the template's."""
        values = self.values()["items"]
        if values is None:
            return None
        if not isinstance(values, list) or not all(isinstance(value, dict) for value in values):
            raise InvalidInput("items must be a list of objects.", field="items")
        if not 1 <= len(values) <= MAX_ITEMS:
            raise InvalidInput(f"items takes 1 to {MAX_ITEMS} items.", field="items")
        specs = []
        for number, value in enumerate(values):
            try:
                specs.append(ItemForm(value).spec())
            except InvalidInput as exc:
                name = f"items[{number}].{exc.field}" if exc.field else f"items[{number}]"
                raise InvalidInput(f"Item {number + 1}: {exc.message}", field=name) from None
        return specs

    def schedule(self) -> Schedule | None:
        value = self.values()["reminders"]
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidInput("reminders must be an object.", field="reminders")
        try:
            return RemindersForm(value).schedule()
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=f"reminders.{exc.field}" if exc.field else "reminders") from None


class SendBackForm(StrictForm):
    """`POST requests/<id>/items/<item id>/send-back` with `{reason}`."""

    reason = StorableTextField(max_length=MAX_REASON)
