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

from django.db import connection, models
from django.db.models import QuerySet
from django.utils import timezone

from uploader.access.roles import Permission, require_permission
from uploader.audit.models import AuditEntry
from uploader.uploads.keyset import Column, Sort, parse_int, parse_time

# Newest first, a page at a time from a cursor, over the index on (created_at, id) or
# one that starts with the filtered column (uploader.audit.models).
AUDIT_NEWEST = Sort(
    (Column("created_at", parse_time, models.DateTimeField()), Column("id", parse_int, models.BigIntegerField())),
    descending=True,
)
# Past this many matching entries the page says "1,000+" instead of counting on, as the
# file list does: past a thousand the filters need narrowing, and counting to 10,000
# entries of one action was most of that page's time at 3M entries.
COUNTED_UP_TO = 1_000

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
    # DISTINCT would read every entry; a recursive walk of the action index reads one
    # index entry per action ("loose index scan"), on PostgreSQL and SQLite alike.
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            # The table name comes from the model; nothing here comes from the request.
            f"WITH RECURSIVE actions(action) AS ("  # noqa: S608
            f" SELECT MIN(action) FROM {table}"
            f" UNION ALL"
            f" SELECT (SELECT MIN(action) FROM {table} AS e WHERE e.action > actions.action)"
            f" FROM actions WHERE actions.action IS NOT NULL"
            f") SELECT action FROM actions WHERE action IS NOT NULL"
        )
        return [row[0] for row in cursor.fetchall()]


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
            # A prefix becomes the known actions it starts (an index can serve a list;
            # LIKE 'x%' needs a "C" collation to use one).
            starting = [action for action in actions if action.startswith(filters.action)]
            entries = entries.filter(action__in=starting)
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


def count_capped(entries: QuerySet[AuditEntry]) -> tuple[int, bool]:
    """How many entries match, counting no further than COUNTED_UP_TO: (count, capped)."""
    counted = entries.order_by()[: COUNTED_UP_TO + 1].count()
    return (COUNTED_UP_TO, True) if counted > COUNTED_UP_TO else (counted, False)


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
