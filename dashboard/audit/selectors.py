"""Reads of the audit trail for the audit page and its CSV export (admins only).

The trail is append-only (uploader.audit.models.AuditEntry); nothing here writes. Filters
arrive as an `AuditFilters` value made by dashboard.audit.forms, so the page and the
export read exactly the same rows.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from uploader.access.roles import Permission, require_permission
from uploader.audit.models import AuditEntry

# A detail value longer than this is cut on the page (the CSV has it whole).
DETAIL_VALUE_MAX_CHARS = 200


@dataclass(frozen=True)
class AuditFilters:
    """What the admin asked for; empty means "any"."""

    action: str = ""
    actor: str = ""
    upload_id: uuid.UUID | None = None
    request_id: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    # Only entries up to this id: the list as it was when its first page was shown.
    until_id: int | None = None

    def as_detail(self) -> dict[str, str]:
        """The filters as they are recorded in the `audit.viewed`/`audit.exported` entry."""
        values = {
            "action": self.action,
            "actor": self.actor,
            "upload_id": str(self.upload_id) if self.upload_id else "",
            "request_id": self.request_id,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "until": str(self.until_id) if self.until_id is not None else "",
        }
        return {name: value for name, value in values.items() if value}


def audit_actions(*, user: Any) -> list[str]:
    """The distinct actions present in the trail, for the action filter's suggestions."""
    require_permission(user, Permission.VIEW_AUDIT)
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())


def latest_entry_id(*, user: Any) -> int | None:
    """The id of the newest entry now (ids only grow: the trail is append-only), to
    freeze a paged list at; None while the trail is empty."""
    require_permission(user, Permission.VIEW_AUDIT)
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()


def audit_entries(*, user: Any, filters: AuditFilters, known_actions: list[str] | None = None) -> QuerySet[AuditEntry]:
    """Entries matching the filters, newest first.

    The action filter is exact when it names an action present in the trail, and a
    prefix otherwise ("portal." or "portal" gives every portal action). Dates are whole
    days in the business's time zone, both ends included."""
    require_permission(user, Permission.VIEW_AUDIT)
    entries = AuditEntry.objects.order_by("-created_at", "-id")
    if filters.action:
        actions = known_actions if known_actions is not None else audit_actions(user=user)
        if filters.action in actions:
            entries = entries.filter(action=filters.action)
        else:
            entries = entries.filter(action__startswith=filters.action)
    if filters.actor:
        entries = entries.filter(actor_label__icontains=filters.actor)
    if filters.upload_id:
        entries = entries.filter(upload_id=filters.upload_id)
    if filters.request_id:
        entries = entries.filter(request_id=filters.request_id)
    if filters.date_from:
        entries = entries.filter(created_at__gte=_local_midnight(filters.date_from))
    if filters.date_to:
        entries = entries.filter(created_at__lt=_local_midnight(filters.date_to + datetime.timedelta(days=1)))
    if filters.until_id is not None:
        entries = entries.filter(id__lte=filters.until_id)
    return entries


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def detail_pairs(detail: Any) -> list[tuple[str, str]]:
    """An entry's detail as short `key: value` pairs for the page (auto-escaped there).
    Nested values are compact JSON; a detail that is not an object is one pair."""
    if not isinstance(detail, dict):
        return [("", _compact(detail))] if detail not in (None, "", [], {}) else []
    return [(str(key), _compact(value)) for key, value in detail.items()]


def detail_text(detail: Any) -> str:
    """The whole detail as compact JSON, for the CSV."""
    if detail in (None, {}, []):
        return ""
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def _compact(value: Any) -> str:
    text = (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    )
    if len(text) > DETAIL_VALUE_MAX_CHARS:
        return text[: DETAIL_VALUE_MAX_CHARS - 1] + "…"
    return text
