"""The staff form for a portal. Fields carry the service's names, so the service's
validation errors land on the right field; parsing (sizes, lists) is the service's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from uploader.portals.models import Portal, ProcessingOption

SIZE_HELP = "For example 50 MiB or 2 GiB. Leave empty for no limit of its own."

# The form in sections, in this order: (heading, field names). Fields a form lacks
# (the link name once the portal exists) are skipped.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("The portal", ("name", "slug", "is_active", "expires_at", "password", "remove_password")),
    ("What clients see", ("title", "welcome_message", "brand_colour", "require_name", "require_email")),
    (
        "What clients may send",
        ("max_file_bytes", "max_files", "max_total_bytes", "allowed_extensions", "allowed_content_types"),
    ),
    ("When files arrive", ("notify_emails", "notify_webhooks", "processing")),
    ("Keeping files safe", ("release_unscannable", "retention_days")),
)


class PortalForm(forms.Form):
    name = forms.CharField(
        max_length=120, label="Name (for staff)", help_text="For you and your colleagues; clients see the heading."
    )
    slug = forms.SlugField(
        max_length=50,
        required=False,
        label="Link name",
        help_text="Lower-case letters, digits and hyphens; names the folder of its files. Made from the name when "
        "empty, and fixed once the portal exists.",
    )
    title = forms.CharField(max_length=200, required=False, label="Heading clients see")
    welcome_message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Welcome message",
        help_text="Shown under the heading.",
    )
    brand_colour = forms.CharField(
        max_length=32, initial="#1f5fbf", label="Colour", help_text="A hex colour such as #1f5fbf."
    )
    expires_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        label="Closes on",
        help_text="The link closes then. Leave empty to keep it open.",
    )
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        label="Password",
        help_text="Optional. Clients must enter it before they can upload.",
    )
    remove_password = forms.BooleanField(required=False, label="Remove the password")
    max_file_bytes = forms.CharField(required=False, label="Largest file", help_text=SIZE_HELP)
    max_files = forms.IntegerField(
        required=False, min_value=1, label="Number of files", help_text="Empty for no limit."
    )
    max_total_bytes = forms.CharField(required=False, label="Total size of all files", help_text=SIZE_HELP)
    allowed_extensions = forms.CharField(
        required=False, label="File endings allowed", help_text="For example .pdf, .jpg. Empty allows any."
    )
    allowed_content_types = forms.CharField(
        required=False, label="File types allowed", help_text="For example application/pdf, image/*. Empty allows any."
    )
    require_name = forms.BooleanField(required=False, initial=True, label="Ask for the uploader's name")
    require_email = forms.BooleanField(required=False, initial=True, label="Ask for the uploader's e-mail address")
    notify_emails = forms.CharField(
        required=False,
        label="E-mail when files arrive",
        help_text="E-mail addresses, comma-separated; they get one message per batch of files.",
    )
    notify_webhooks = forms.CharField(
        required=False,
        label="Webhooks",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Up to 5 https:// URLs, one a line; each gets a signed JSON POST when files arrive.",
    )
    processing = forms.MultipleChoiceField(
        choices=ProcessingOption.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Previews",
        help_text="What Intake makes from each file that arrives; staff see it beside the file.",
    )
    retention_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=36500,
        label="Delete files after … days",
        help_text="Each file is deleted for good this many days after it arrives, unless it is on legal hold. "
        "Leave empty to keep files until someone deletes them. Only an admin can change it.",
    )
    release_unscannable = forms.BooleanField(
        required=False,
        label="Let staff use files the malware scanner cannot check",
        help_text="Files too big for the scanner, or encrypted archives, are otherwise held until an admin "
        "releases them. Only an admin can change it.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Open (clients can upload)")

    def __init__(self, *args: Any, portal: Portal | None = None, **kwargs: Any) -> None:
        if portal is not None:
            kwargs.setdefault("initial", initial_for(portal))
        super().__init__(*args, **kwargs)
        if portal is None:
            del self.fields["remove_password"]
            del self.fields["is_active"]
        else:
            del self.fields["slug"]  # fixed at creation: it names the portal's folder
            self.fields["password"].help_text = "Leave empty to keep the current password."

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The fields in their sections (SECTIONS), for the template."""
        return [(title, [self[name] for name in names if name in self.fields]) for title, names in SECTIONS]

    def service_options(self) -> dict[str, Any]:
        """The cleaned data as portal_create/portal_update keyword arguments."""
        data = dict(self.cleaned_data)
        remove = data.pop("remove_password", False)
        password = data.pop("password", "")
        if "slug" in data and not data["slug"]:
            data.pop("slug")
        if remove:
            data["password"] = ""
        elif password:
            data["password"] = password
        elif "is_active" in self.fields:
            data["password"] = None  # editing: keep the current one
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                if field == "slug" and any("already exists" in message for message in messages):
                    messages = ["Another portal already uses this link name; choose another."]
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.add_error(None, error.messages)


def initial_for(portal: Portal) -> dict[str, Any]:
    return {
        "name": portal.name,
        "title": portal.title,
        "welcome_message": portal.welcome_message,
        "brand_colour": portal.brand_colour,
        "expires_at": portal.expires_at,
        "max_file_bytes": portal.max_file_bytes or "",
        "max_files": portal.max_files,
        "max_total_bytes": portal.max_total_bytes or "",
        "allowed_extensions": ", ".join(portal.allowed_extensions),
        "allowed_content_types": ", ".join(portal.allowed_content_types),
        "require_name": portal.require_name,
        "require_email": portal.require_email,
        "notify_emails": ", ".join(portal.notify_emails),
        "notify_webhooks": "\n".join(portal.notify_webhooks),
        "processing": list(portal.processing),
        "retention_days": portal.retention_days,
        "release_unscannable": portal.release_unscannable,
        "is_active": portal.is_active,
    }
