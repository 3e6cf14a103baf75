"""Staff forms for document requests: the list's filters, a new request and its items,
and the edit of a request after it is made."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings

from uploader.requests.models import RequestItem, RequestState, RequestTemplate
from uploader.requests.reminders import MAX_SCHEDULE_DAYS, Schedule, default_schedule
from uploader.requests.services import ItemSpec, template_item_specs

SORTS = [("due", "Due soonest"), ("-due", "Due latest"), ("new", "Newest")]


def split_list(text: str) -> list[str]:
    """Commas, semicolons, spaces or new lines between values."""
    return [part for part in re.split(r"[\s,;]+", text) if part]


class RequestFilterForm(forms.Form):
    client = forms.CharField(
        max_length=200, required=False, label="Client", help_text="Name, e-mail address or company."
    )
    state = forms.ChoiceField(choices=[("", "Any state"), *RequestState.choices], required=False)
    overdue = forms.BooleanField(required=False, label="Overdue only")
    sort = forms.ChoiceField(choices=SORTS, required=False, label="Sort by")


class RequestForm(forms.Form):
    client_name = forms.CharField(max_length=200, label="Client's name")
    client_emails = forms.CharField(
        label="Client's e-mail addresses",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or more, comma-separated. Each gets e-mails about this request.",
    )
    company = forms.CharField(max_length=200, required=False)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Due date")

    def emails(self) -> list[str]:
        return split_list(self.cleaned_data["client_emails"])


class ItemForm(forms.Form):
    title = forms.CharField(max_length=200)
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    required = forms.BooleanField(required=False, initial=True)
    allowed_extensions = forms.CharField(
        required=False, label="Accepted endings", help_text="For example .pdf, .jpg. Empty accepts any."
    )
    allowed_content_types = forms.CharField(required=False, widget=forms.HiddenInput)
    max_files = forms.IntegerField(required=False, min_value=1, label="Most files")
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Due date")

    def has_changed(self) -> bool:
        """An extra row counts as filled in by its text alone: its "Required" box starts
        ticked, and a browser sends nothing for an unticked box."""
        return any(name not in {"required", "DELETE"} for name in self.changed_data)

    def spec(self) -> ItemSpec:
        data = self.cleaned_data
        return ItemSpec(
            title=data["title"],
            instructions=data["instructions"],
            required=data["required"],
            allowed_extensions=tuple(split_list(data["allowed_extensions"])),
            allowed_content_types=tuple(split_list(data["allowed_content_types"])),
            max_files=data["max_files"],
            due_date=data.get("due_date"),
        )


ItemFormSet = forms.formset_factory(ItemForm, extra=2, can_delete=True, max_num=50, validate_max=True)


class RequestAccessForm(RequestForm):
    require_code = forms.BooleanField(
        required=False,
        label="Ask for a code",
        help_text="The client proves who they are with a code e-mailed to one of these addresses "
        "(or a password, when you give one). Off: anyone with the link can open it.",
    )


def _schedule_days(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        required=False, min_value=0, max_value=MAX_SCHEDULE_DAYS, label=label, help_text="0 or empty: no."
    )


class ReminderScheduleFields(forms.Form):
    """The reminder schedule's boxes, shared by the new request and its edit; the pages
    show them in their own section (`reminder_fields`), apart from the client's."""

    remind_days_before_due = _schedule_days("Remind this many days before the due date")
    remind_on_due_date = forms.BooleanField(required=False, label="Remind on the due date")
    remind_overdue_every_days = _schedule_days("While overdue, remind every (days)")
    remind_nothing_received_days = _schedule_days("Remind when nothing has arrived after (days)")

    REMINDER_FIELDS: tuple[str, ...] = (
        "remind_days_before_due",
        "remind_on_due_date",
        "remind_overdue_every_days",
        "remind_nothing_received_days",
    )

    @staticmethod
    def initial_of(schedule: Schedule) -> dict[str, object]:
        return {
            "remind_days_before_due": schedule.days_before_due or 0,
            "remind_on_due_date": schedule.on_due_date,
            "remind_overdue_every_days": schedule.overdue_every_days or 0,
            "remind_nothing_received_days": schedule.nothing_received_days or 0,
        }

    def client_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in self.REMINDER_FIELDS]

    def reminder_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.REMINDER_FIELDS]

    def schedule(self) -> Schedule:
        data = self.cleaned_data
        return Schedule(
            days_before_due=data["remind_days_before_due"] or None,
            on_due_date=data["remind_on_due_date"],
            overdue_every_days=data["remind_overdue_every_days"] or None,
            nothing_received_days=data["remind_nothing_received_days"] or None,
        )


class RequestEditForm(ReminderScheduleFields, RequestAccessForm):
    password = forms.CharField(
        required=False,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="New password (optional)",
        help_text="Instead of a code, the client may enter a password you give them. Leave empty to keep the current one.",
    )
    clear_password = forms.BooleanField(required=False, label="Remove the password")
    send_reminders = forms.BooleanField(
        required=False,
        label="Send reminders",
        help_text="Off: no reminder goes, whatever the schedule below says (it is kept for when you switch them on).",
    )

    REMINDER_FIELDS = ("send_reminders", *ReminderScheduleFields.REMINDER_FIELDS)


class RequestNewForm(ReminderScheduleFields, RequestAccessForm):
    """A new request: the client's details and the code (as INTAKE_REQUEST_REQUIRE_CODE
    says), retention, the reminder schedule and "waits for staff" from the settings."""

    retention_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=36500,
        label="Delete files after … days",
        help_text="Each file the client sends is deleted for good this many days after it arrives, unless it is "
        "on legal hold. Leave empty to keep files until someone deletes them. Only an admin can change it.",
    )
    waits_for_staff = forms.BooleanField(
        required=False, label="When complete, wait for staff to close it (the client's receipt goes then)"
    )

    REMINDER_FIELDS = (*ReminderScheduleFields.REMINDER_FIELDS, "waits_for_staff")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The settings' schedule first; what the caller gives (a template's retention) on top.
        kwargs["initial"] = {
            **self.initial_of(default_schedule()),
            "waits_for_staff": settings.INTAKE_REQUEST_WAITS_FOR_STAFF,
            **(kwargs.get("initial") or {}),
        }
        super().__init__(*args, **kwargs)
        self.fields["require_code"].initial = settings.INTAKE_REQUEST_REQUIRE_CODE


class ItemEditForm(ItemForm):
    """An item row of the edit: an existing item (its id) or, without one, a new item."""

    item_id = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)


ItemEditFormSet = forms.formset_factory(ItemEditForm, extra=2, can_delete=True, max_num=50, validate_max=True)


def item_rows_of(items: list[RequestItem]) -> list[dict[str, object]]:
    return [
        {
            "item_id": item.pk,
            "title": item.title,
            "instructions": item.instructions,
            "required": item.required,
            "allowed_extensions": ", ".join(item.allowed_extensions),
            "allowed_content_types": ", ".join(item.allowed_content_types),
            "max_files": item.max_files,
            "due_date": item.due_date,
        }
        for item in items
    ]


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


def initial_items(template: RequestTemplate) -> list[dict[str, object]]:
    """The template's items as the item rows' initial values (a copy, edited per client)."""
    return [
        {
            "title": spec.title,
            "instructions": spec.instructions,
            "required": spec.required,
            "allowed_extensions": ", ".join(spec.allowed_extensions),
            "allowed_content_types": ", ".join(spec.allowed_content_types),
            "max_files": spec.max_files,
        }
        for spec in template_item_specs(template)
    ]


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="For staff choosing a template."
    )


class TemplateItemForm(ItemForm):
    """A template's item: what every request made from it asks (no due date: each
    request has its own)."""

    due_date = None  # type: ignore[assignment]


TemplateItemFormSet = forms.formset_factory(TemplateItemForm, extra=2, can_delete=True, max_num=50, validate_max=True)
