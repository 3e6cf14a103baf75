"""The audit trail in words people read: a label for each action ("File stored"),
field names ("Stored size"), values shown as the pages show them (sizes in the one
size format, portals and files by name with a link, yes/no, dates), for /audit/ and a
file's page. The CSV export keeps the raw codes and JSON: it is for machines.

An entry's detail is JSON any caller of `audit_record` may fill, so whatever is not
known here is still shown, its key made readable, its value as compact text; every
value is text (auto-escaped on the page), never markup.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from uploader.audit.models import AuditEntry
from uploader.portals.models import Portal
from uploader.uploads.models import Upload
from uploader.uploads.sizes import format_bytes

ACTION_LABELS: dict[str, str] = {
    "upload.registered": "Upload started",
    "upload.uploading": "Upload in progress",
    "upload.stored": "File stored",
    "upload.rejected": "File refused",
    "upload.replaced": "File replaced after it arrived (refused)",
    "upload.aborted": "Upload cancelled",
    "upload.deleted": "File removed from storage",
    "upload.deleted_by_staff": "File deleted by staff",
    "upload.expired": "Unfinished upload expired",
    "upload.downloaded": "File downloaded",
    "upload.processing_started": "Preview started",
    "upload.processed": "Preview made",
    "upload.processing_failed": "Preview failed",
    "upload.processing_interrupted": "Preview interrupted",
    "upload.derivative_removed": "Preview removed",
    "upload.note_changed": "Note changed",
    "upload.tag_added": "Tag added",
    "upload.tag_removed": "Tag removed",
    "bundle.requested": "Zip of all files asked for",
    "bundle.downloaded": "Zip of all files downloaded",
    "portal.created": "Portal created",
    "portal.changed": "Portal changed",
    "portal.disabled": "Portal disabled",
    "portal.reopened": "Portal re-opened",
    "portal.link_rotated": "New portal link made",
    "portal.notified": "Portal contacts told of new files",
    "portal.notify_failed": "Telling portal contacts failed",
    "portal.receipt_sent": "Receipt sent to the client",
    "portal.files_arrived": "Files arrived (webhook)",
    "portal.webhook_delivered": "Webhook delivered",
    "portal.webhook_failed": "Webhook attempt failed",
    "portal.webhook_gave_up": "Webhook given up",
    "portal.webhook_retried": "Webhook sent again",
    "auth.sign_in": "Signed in",
    "auth.sign_in_refused": "Sign-in refused",
    "auth.sign_out": "Signed out",
    "auth.role_changed": "Role changed",
    "audit.viewed": "Audit trail viewed",
    "audit.exported": "Audit trail exported",
    "events.dlq_replayed": "Failed events replayed",
    "events.dlq_discarded": "Failed events discarded",
    "events.ledger_retried": "Stuck events retried",
    "cors.checked": "Browser access (CORS) checked",
    "doctor.ran": "Set-up check run",
}

FIELD_LABELS: dict[str, str] = {
    "stored_size": "Stored size",
    "declared_size": "Declared size",
    "new_size": "New size",
    "size": "Size",
    "max_file_bytes": "Largest file",
    "max_total_bytes": "Total size of all files",
    "max_files": "Most files",
    "etag": "ETag",
    "old_etag": "Old ETag",
    "new_etag": "New ETag",
    "reason": "Reason",
    "sequencer": "S3 sequence",
    "kind": "Kind",
    "key": "Storage key",
    "via": "Through",
    "portal": "Portal",
    "bundle": "Zip",
    "files": "Files",
    "left_out": "Left out (held by the malware scan)",
    "slug": "Link name",
    "name": "Name",
    "is_active": "Open",
    "expires_at": "Closes",
    "has_password": "Password",
    "allowed_extensions": "File endings allowed",
    "allowed_content_types": "File types allowed",
    "processing": "Previews",
    "notify_webhooks": "Webhooks",
    "changed": "Changed",
    "tag": "Tag",
    "old": "Before",
    "new": "After",
    "role": "Role",
    "user": "Person",
    "username": "User name",
    "action": "Action",
    "actor": "Actor",
    "upload": "File",
    "date_from": "From",
    "date_to": "Until",
    "until_id": "Up to entry",
    "page": "Page",
    "count": "Count",
    "attempts": "Attempts",
    "status": "Answer",
    "url": "Address",
}
SIZE_FIELDS = frozenset({"stored_size", "declared_size", "new_size", "size", "max_file_bytes", "max_total_bytes"})
# What a portal entry repeats about the portal whatever happened: shown for the
# fields that changed (portal.changed) and left out of the others, where the portal's
# name (linked, from its id) says enough.
PORTAL_DESCRIPTION = frozenset(
    {
        "slug",
        "name",
        "is_active",
        "expires_at",
        "has_password",
        "max_file_bytes",
        "max_files",
        "max_total_bytes",
        "allowed_extensions",
        "allowed_content_types",
        "processing",
        "notify_webhooks",
    }
)
VALUE_MAX_CHARS = 300


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action) or action.replace("_", " ").replace(".", ": ").capitalize()


def field_label(key: str) -> str:
    return FIELD_LABELS.get(key) or key.replace("_", " ").capitalize()


@dataclass(frozen=True)
class DetailLine:
    label: str
    text: str
    url: str = ""


@dataclass(frozen=True)
class ReadableEntry:
    entry: AuditEntry
    action: str
    lines: list[DetailLine]
    file_name: str = ""
    file_url: str = ""
    time_iso: str = ""  # in TIME_ZONE, as the `date` filter's "c"
    time_text: str = ""  # "3 Dec 2026 13:05:09"

    @property
    def lines_html(self) -> SafeString:
        """The detail as a definition list, made here
        with format_html (every value escaped): a page of a hundred entries would
        otherwise run the template's loop and tags some thousand times."""
        if not self.lines:
            return SafeString("")
        items = format_html_join(
            "",
            "<div><dt>{}</dt><dd>{}</dd></div>",
            (
                (line.label, format_html('<a href="{}">{}</a>', line.url, line.text) if line.url else line.text)
                for line in self.lines
            ),
        )
        return format_html('<dl class="audit-lines">{}</dl>', items)


def _cut(text: str) -> str:
    return text if len(text) <= VALUE_MAX_CHARS else text[: VALUE_MAX_CHARS - 1] + "…"


def _when(value: str) -> str | None:
    parsed = parse_datetime(value) if len(value) >= 16 and value[4:5] == "-" else None
    if parsed is None:
        return None
    if timezone.is_aware(parsed):
        parsed = timezone.localtime(parsed)
    return f"{parsed:%-d %b %Y %H:%M}"


def value_text(key: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "none" if key not in {"reason", "old", "new"} else "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in SIZE_FIELDS and isinstance(value, int):
        return format_bytes(value)
    if key == "changed" and isinstance(value, list):
        return ", ".join(field_label(str(item)) for item in value)
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return _cut(", ".join(str(item) for item in value))
    if isinstance(value, str):
        return _when(value) or _cut(value)
    if isinstance(value, int | float):
        return f"{value:,}" if isinstance(value, int) and abs(value) >= 10_000 else str(value)
    return _cut(json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str))


class _Urls:
    """The two URLs an entry links to, reversed once per page (an id no row has, then
    the id put in its place): a hundred rows cost two reversals, not a hundred."""

    PLACEHOLDER_PORTAL = 987654321
    PLACEHOLDER_UPLOAD = uuid.UUID(int=0)

    def __init__(self) -> None:
        self.portal = reverse("dashboard:portal-detail", args=[self.PLACEHOLDER_PORTAL]).split(
            str(self.PLACEHOLDER_PORTAL)
        )
        self.upload = reverse("dashboard:upload-detail", args=[self.PLACEHOLDER_UPLOAD]).split(
            str(self.PLACEHOLDER_UPLOAD)
        )

    def portal_url(self, portal_id: int) -> str:
        return str(portal_id).join(self.portal)

    def upload_url(self, upload_id: uuid.UUID) -> str:
        return str(upload_id).join(self.upload)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _detail_lines(entry: AuditEntry, portal_names: dict[int, str], urls: _Urls) -> list[DetailLine]:
    detail = entry.detail
    if not isinstance(detail, dict):
        return [DetailLine("Detail", value_text("detail", detail))] if detail not in (None, "", [], {}) else []
    keys = list(detail)
    if entry.action.startswith("portal.") and isinstance(detail.get("portal"), int):
        changed = detail.get("changed") if entry.action == "portal.changed" else None
        shown = set(changed) if isinstance(changed, list) else set()
        keys = [key for key in keys if key not in PORTAL_DESCRIPTION or key in shown]
    lines = []
    for key in keys:
        value = detail[key]
        if key == "portal" and isinstance(value, int) and not isinstance(value, bool):
            name = portal_names.get(value)
            lines.append(
                DetailLine(
                    "Portal",
                    name or f"portal {value} (removed)",
                    urls.portal_url(value) if name else "",
                )
            )
            continue
        if key in {"upload", "upload_id"}:
            continue  # the File column names it
        lines.append(DetailLine(field_label(str(key)), value_text(str(key), value)))
    return lines


def readable_entries(entries: Iterable[AuditEntry]) -> list[ReadableEntry]:
    """The entries with their labels, file names and portal names: two queries for
    the lot (files, portals), whatever the number of entries."""
    entries = list(entries)
    upload_ids = {entry.upload_id for entry in entries if entry.upload_id is not None}
    names = dict(Upload.objects.filter(pk__in=upload_ids).values_list("pk", "original_filename")) if upload_ids else {}
    portal_ids = {
        entry.detail["portal"]
        for entry in entries
        if isinstance(entry.detail, dict) and isinstance(entry.detail.get("portal"), int)
    }
    portal_names = dict(Portal.objects.filter(pk__in=portal_ids).values_list("pk", "name")) if portal_ids else {}
    urls = _Urls()
    zone = timezone.get_default_timezone()
    readable = []
    for entry in entries:
        when = timezone.localtime(entry.created_at, zone)
        readable.append(
            ReadableEntry(
                entry=entry,
                action=action_label(entry.action),
                lines=_detail_lines(entry, portal_names, urls),
                file_name=_file_name(entry.upload_id, names),
                file_url=urls.upload_url(entry.upload_id) if entry.upload_id else "",
                time_iso=when.isoformat(),
                time_text=f"{when.day} {_MONTHS[when.month - 1]} {when:%Y %H:%M:%S}",
            )
        )
    return readable


def _file_name(upload_id: uuid.UUID | None, names: dict[uuid.UUID, str]) -> str:
    if upload_id is None:
        return ""
    return names.get(upload_id) or f"file {str(upload_id)[:8]}…"


def action_choices(actions: Sequence[str]) -> list[tuple[str, str]]:
    """(code, label) of each action, for the filter's suggestions."""
    return [(action, action_label(action)) for action in actions]


__all__ = ["ACTION_LABELS", "FIELD_LABELS", "ReadableEntry", "action_label", "readable_entries"]
