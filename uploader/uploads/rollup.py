"""The daily rollup and the all-time totals (`UploadDailyRollup`, `UploadTotal`): kept
in the same transaction as every change they count, and recounted from the rows.

Writers: `rollup_apply` is called by the state writer (uploader.uploads.state) with what
each moved upload counted for before and after its move, and by the registration
services for a new row; nothing else changes the fields the rollup counts (portal,
declared type, times, sizes, state). uploader.uploads.recount rebuilds the tables from
the uploads (after a bulk load, a time zone change, or to repair) and says where they
disagree with a recount.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from uploader.uploads.kinds import kind_of
from uploader.uploads.models import (
    Upload,
    UploadDailyBreakdown,
    UploadDailyRollup,
    UploadMonthlyBreakdown,
    UploadTotal,
)

STAFF_PORTAL_KEY = 0
REJECTED = "rejected"
# The Upload fields a rollup row is made of (what `facts_of` reads).
FACT_FIELDS = (
    "portal_id",
    "declared_content_type",
    "state",
    "created_at",
    "stored_at",
    "stored_size",
    "declared_size",
    "rejection_reason",
)
REASON_CHARS = 200
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def fold_reason(reason: str) -> str:
    """A rejection reason without its numbers ("stored object is … bytes, over the …
    byte limit"): reasons carry the file's numbers, so texts differing only in them
    count as one."""
    return _NUMBER.sub("…", reason.strip())[:REASON_CHARS]


DayKey = tuple[dt.date, int, str, str]  # day, portal_key, kind, state
TotalKey = tuple[int, str, str]  # portal_key, kind, state
BreakdownKey = tuple[str, dt.date, str]  # dimension, day, value
DIMENSIONS = ("portal", "kind", "state")


@dataclass(frozen=True)
class Facts:
    """What the rollup counts of one upload."""

    portal_key: int
    kind: str
    state: str
    created_day: dt.date
    stored_day: dt.date | None
    size: int  # stored, else declared, else 0
    stored_size: int
    reason: str = ""  # folded

    def with_values(self, *, state: str, values: dict[str, Any]) -> Facts:
        """These facts after a move to `state` that also writes `values`."""
        stored_at = values.get("stored_at", _MISSING)
        stored_size = values.get("stored_size", _MISSING)
        return Facts(
            portal_key=self.portal_key,
            kind=self.kind,
            state=state,
            created_day=self.created_day,
            stored_day=self.stored_day if stored_at is _MISSING else _local_day(stored_at),
            size=self.size if stored_size is _MISSING or stored_size is None else int(stored_size),
            stored_size=self.stored_size if stored_size is _MISSING else int(stored_size or 0),
            reason=fold_reason(str(values["rejection_reason"])) if "rejection_reason" in values else self.reason,
        )


_MISSING: Any = object()


def _local_day(moment: dt.datetime | None) -> dt.date | None:
    return None if moment is None else timezone.localtime(moment, timezone.get_default_timezone()).date()


def facts_of(row: Any) -> Facts:
    """Facts of an Upload, or of a dict of FACT_FIELDS."""
    get: Any = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    stored_size, declared_size = get("stored_size"), get("declared_size")
    created_day = _local_day(get("created_at"))
    assert created_day is not None
    return Facts(
        portal_key=get("portal_id") or STAFF_PORTAL_KEY,
        kind=kind_of(get("declared_content_type")),
        state=get("state"),
        created_day=created_day,
        stored_day=_local_day(get("stored_at")),
        size=int(stored_size if stored_size is not None else declared_size or 0),
        stored_size=int(stored_size or 0),
        reason=fold_reason(get("rejection_reason") or ""),
    )


def facts_for_update(upload_ids: Iterable[Any], *, states: Sequence[str]) -> dict[Any, Facts]:
    """The facts of these uploads, where in one of `states`, their rows locked until the
    transaction ends (so the move that follows changes exactly what was read)."""
    rows = (
        Upload.objects.filter(pk__in=list(upload_ids), state__in=states)
        .select_for_update()
        .order_by("pk")
        .values("pk", *FACT_FIELDS)
    )
    return {row["pk"]: facts_of(row) for row in rows}


def rollup_apply(*, before: Sequence[Facts], after: Sequence[Facts]) -> None:
    """Take `before` out of the rollup and put `after` in (call inside the transaction
    that changes the rows). Keys are written in sorted order, so two transactions
    touching the same keys wait for each other instead of deadlocking."""
    days: dict[DayKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    totals: dict[TotalKey, list[int]] = defaultdict(lambda: [0, 0])
    for sign, facts in [(-1, f) for f in before] + [(1, f) for f in after]:
        started = days[(facts.created_day, facts.portal_key, facts.kind, facts.state)]
        started[0] += sign
        started[1] += sign * facts.size
        if facts.stored_day is not None:
            stored = days[(facts.stored_day, facts.portal_key, facts.kind, facts.state)]
            stored[2] += sign
            stored[3] += sign * facts.stored_size
        total = totals[(facts.portal_key, facts.kind, facts.state)]
        total[0] += sign
        total[1] += sign * facts.size
    days = {key: values for key, values in days.items() if any(values)}
    breakdown = breakdown_of(days)
    for sign, facts in [(-1, f) for f in before] + [(1, f) for f in after]:
        if facts.state == REJECTED:
            row = breakdown[("reason", facts.created_day, facts.reason)]
            row[0] += sign
            row[1] += sign * facts.size
    _upsert(UploadDailyRollup, ["day", "portal_key", "kind", "state"], [(*k, *v) for k, v in sorted(days.items())])
    _upsert(
        UploadDailyBreakdown,
        ["dimension", "day", "value"],
        [(*k, *v) for k, v in sorted(breakdown.items()) if any(v)],
    )
    months = by_month(breakdown)
    _upsert(
        UploadMonthlyBreakdown,
        ["dimension", "month", "value"],
        [(*k, *v) for k, v in sorted(months.items()) if any(v)],
    )
    _upsert(UploadTotal, ["portal_key", "kind", "state"], [(*k, *v) for k, v in sorted(totals.items()) if any(v)])


def by_month(breakdown: dict[BreakdownKey, Any]) -> dict[BreakdownKey, list[int]]:
    """The breakdown's rows summed by calendar month (keyed by the month's first day)."""
    sums: dict[BreakdownKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (dimension, day, value), values in breakdown.items():
        row = sums[(dimension, day.replace(day=1), value)]
        for index, count in enumerate(values):
            row[index] += count
    return sums


def breakdown_of(days: dict[DayKey, Any]) -> dict[BreakdownKey, list[int]]:
    """The day rows summed along each dimension."""
    sums: dict[BreakdownKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (day, portal_key, kind, state), values in days.items():
        for dimension, value in zip(DIMENSIONS, (str(portal_key), kind, state), strict=True):
            row = sums[(dimension, day, value)]
            for index, count in enumerate(values):
                row[index] += count
    return sums


_COUNTS = {
    UploadDailyRollup: ["started_files", "started_bytes", "stored_files", "stored_bytes"],
    UploadDailyBreakdown: ["started_files", "started_bytes", "stored_files", "stored_bytes"],
    UploadMonthlyBreakdown: ["started_files", "started_bytes", "stored_files", "stored_bytes"],
    UploadTotal: ["files", "bytes"],
}


def _upsert(
    model: type[UploadDailyRollup] | type[UploadDailyBreakdown] | type[UploadMonthlyBreakdown] | type[UploadTotal],
    keys: list[str],
    rows: list[tuple[Any, ...]],
) -> None:
    """Add each row's counts to its key's row (INSERT ... ON CONFLICT DO UPDATE, the
    same statement on PostgreSQL and SQLite)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    counts = _COUNTS[model]
    columns = ", ".join(quote(name) for name in [*keys, *counts])
    placeholders = ", ".join(["(" + ", ".join(["%s"] * (len(keys) + len(counts))) + ")"] * len(rows))
    additions = ", ".join(f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in counts)
    with connection.cursor() as cursor:
        cursor.execute(
            # Names come from the models; values are parameters.
            f"INSERT INTO {table} ({columns}) VALUES {placeholders} "  # noqa: S608
            f"ON CONFLICT ({', '.join(quote(name) for name in keys)}) DO UPDATE SET {additions}",
            [value for row in rows for value in row],
        )
