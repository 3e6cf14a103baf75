"""The daily rollup and the all-time totals (`UploadDailyRollup`, `UploadTotal`): kept
in the same transaction as every change they count, and recounted from the rows.

Writers: `rollup_apply` is called by the state writer (uploader.uploads.state) with what
each moved upload counted for before and after its move, and by the registration
services for a new row; nothing else changes the fields the rollup counts (portal,
declared type, times, sizes, state). `rollup_recount` rebuilds both tables from the
uploads (after a bulk load, a time zone change, or to repair), and `rollup_differences`
says where they disagree with a recount.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from uploader.uploads.kinds import kind_case, kind_content_type, kind_of
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
    breakdown = _breakdown(days)
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
    months = _by_month(breakdown)
    _upsert(
        UploadMonthlyBreakdown,
        ["dimension", "month", "value"],
        [(*k, *v) for k, v in sorted(months.items()) if any(v)],
    )
    _upsert(UploadTotal, ["portal_key", "kind", "state"], [(*k, *v) for k, v in sorted(totals.items()) if any(v)])


def _by_month(breakdown: dict[BreakdownKey, Any]) -> dict[BreakdownKey, list[int]]:
    """The breakdown's rows summed by calendar month (keyed by the month's first day)."""
    sums: dict[BreakdownKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (dimension, day, value), values in breakdown.items():
        row = sums[(dimension, day.replace(day=1), value)]
        for index, count in enumerate(values):
            row[index] += count
    return sums


def _breakdown(days: dict[DayKey, Any]) -> dict[BreakdownKey, list[int]]:
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


# --- Recount ---------------------------------------------------------------------------


def _grouped(uploads: QuerySet[Upload], day_field: str | None) -> QuerySet[Any]:
    zone = timezone.get_default_timezone()
    keys = ["portal_key", "kind", "state"]
    annotated = uploads.annotate(**kind_content_type()).annotate(
        portal_key=Coalesce("portal_id", Value(STAFF_PORTAL_KEY)), kind=kind_case()
    )
    if day_field is not None:
        annotated = annotated.annotate(day=TruncDate(day_field, tzinfo=zone))
        keys = ["day", *keys]
    size = (
        Coalesce("stored_size", "declared_size", Value(0))
        if day_field != "stored_at"
        else Coalesce("stored_size", Value(0))
    )
    return annotated.values(*keys).annotate(files=Count("pk"), bytes=Sum(size)).order_by()


def recounted_days(upload_model: Any = Upload) -> dict[DayKey, tuple[int, int, int, int]]:
    counts: dict[DayKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in _grouped(upload_model.objects.all(), "created_at"):
        counts[(row["day"], row["portal_key"], row["kind"], row["state"])][0:2] = [row["files"], row["bytes"] or 0]
    for row in _grouped(upload_model.objects.filter(stored_at__isnull=False), "stored_at"):
        counts[(row["day"], row["portal_key"], row["kind"], row["state"])][2:4] = [row["files"], row["bytes"] or 0]
    return {key: (a, b, c, d) for key, (a, b, c, d) in counts.items()}


def recounted_reasons(upload_model: Any = Upload) -> dict[BreakdownKey, tuple[int, int, int, int]]:
    """The "reason" rows of the breakdown, from the rejected uploads (folded in Python:
    SQLite has no regular expressions)."""
    zone = timezone.get_default_timezone()
    counts: dict[BreakdownKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    rows = (
        upload_model.objects.filter(state=REJECTED)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "rejection_reason")
        .annotate(files=Count("pk"), bytes=Sum(Coalesce("stored_size", "declared_size", Value(0))))
        .order_by()
    )
    for row in rows:
        folded = counts[("reason", row["day"], fold_reason(row["rejection_reason"]))]
        folded[0] += row["files"]
        folded[1] += row["bytes"] or 0
    return {key: (a, b, c, d) for key, (a, b, c, d) in counts.items()}


def recounted_totals(upload_model: Any = Upload) -> dict[TotalKey, tuple[int, int]]:
    return {
        (row["portal_key"], row["kind"], row["state"]): (row["files"], row["bytes"] or 0)
        for row in _grouped(upload_model.objects.all(), None)
    }


def stored_days() -> dict[DayKey, tuple[int, int, int, int]]:
    return {
        (row.day, row.portal_key, row.kind, row.state): (
            row.started_files,
            row.started_bytes,
            row.stored_files,
            row.stored_bytes,
        )
        for row in UploadDailyRollup.objects.all()
        if row.started_files or row.started_bytes or row.stored_files or row.stored_bytes
    }


def stored_breakdown() -> dict[BreakdownKey, tuple[int, int, int, int]]:
    return {
        (row.dimension, row.day, row.value): (row.started_files, row.started_bytes, row.stored_files, row.stored_bytes)
        for row in UploadDailyBreakdown.objects.all()
        if row.started_files or row.started_bytes or row.stored_files or row.stored_bytes
    }


def stored_months() -> dict[BreakdownKey, tuple[int, int, int, int]]:
    return {
        (row.dimension, row.month, row.value): (
            row.started_files,
            row.started_bytes,
            row.stored_files,
            row.stored_bytes,
        )
        for row in UploadMonthlyBreakdown.objects.all()
        if row.started_files or row.started_bytes or row.stored_files or row.stored_bytes
    }


def stored_totals() -> dict[TotalKey, tuple[int, int]]:
    return {
        (row.portal_key, row.kind, row.state): (row.files, row.bytes)
        for row in UploadTotal.objects.all()
        if row.files or row.bytes
    }


def rollup_differences() -> list[str]:
    """Where the kept tables disagree with a recount (empty when they agree)."""
    problems: list[str] = []
    counted_days = recounted_days()
    counted_breakdown = {key: tuple(values) for key, values in _breakdown(counted_days).items() if any(values)}
    counted_breakdown.update(recounted_reasons())
    counted_months = {key: tuple(values) for key, values in _by_month(counted_breakdown).items() if any(values)}
    pairs: list[tuple[str, dict[Any, Any], dict[Any, Any]]] = [
        ("day", stored_days(), counted_days),
        ("breakdown", stored_breakdown(), counted_breakdown),
        ("month", stored_months(), counted_months),
        ("total", stored_totals(), recounted_totals()),
    ]
    for label, kept, counted in pairs:
        for key in sorted(set(kept) | set(counted), key=str):
            if kept.get(key) != counted.get(key):
                problems.append(f"{label} {key}: kept {kept.get(key)}, recount {counted.get(key)}")
    return problems


def _recount_in_sql(upload_model: Any, day_model: Any, breakdown_model: Any, total_model: Any) -> None:
    """INSERT ... SELECT from the grouped uploads (the same statements on PostgreSQL and
    SQLite): a million uploads in seconds, none of them through Python."""
    quote = connection.ops.quote_name
    days, breakdown, totals = (quote(m._meta.db_table) for m in (day_model, breakdown_model, total_model))
    keys = "day, portal_key, kind, state"
    counts = "started_files, started_bytes, stored_files, stored_bytes"
    started_sql, started_params = _grouped(upload_model.objects.all(), "created_at").query.sql_with_params()
    stored_sql, stored_params = _grouped(
        upload_model.objects.filter(stored_at__isnull=False), "stored_at"
    ).query.sql_with_params()
    with connection.cursor() as cursor:
        # Names come from the models and from this module; values are parameters.
        cursor.execute(
            f"INSERT INTO {days} ({keys}, {counts}) "  # noqa: S608
            f"SELECT g.day, g.portal_key, g.kind, g.state, g.files, COALESCE(g.bytes, 0), 0, 0 FROM ({started_sql}) g",
            started_params,
        )
        cursor.execute(
            f"INSERT INTO {days} ({keys}, {counts}) "  # noqa: S608
            f"SELECT g.day, g.portal_key, g.kind, g.state, 0, 0, g.files, COALESCE(g.bytes, 0) FROM ({stored_sql}) g "
            f"WHERE true ON CONFLICT ({keys}) DO UPDATE SET "
            f"stored_files = excluded.stored_files, stored_bytes = excluded.stored_bytes",
            stored_params,
        )
        sums = "SUM(started_files), SUM(started_bytes), SUM(stored_files), SUM(stored_bytes)"
        for dimension, column in (("portal", "CAST(portal_key AS VARCHAR(32))"), ("kind", "kind"), ("state", "state")):
            cursor.execute(
                f"INSERT INTO {breakdown} (dimension, day, value, {counts}) "  # noqa: S608
                f"SELECT %s, day, {column}, {sums} FROM {days} GROUP BY day, {column}",
                [dimension],
            )
        cursor.execute(
            f"INSERT INTO {totals} (portal_key, kind, state, files, bytes) "  # noqa: S608
            f"SELECT portal_key, kind, state, SUM(started_files), SUM(started_bytes) FROM {days} "
            f"GROUP BY portal_key, kind, state HAVING SUM(started_files) <> 0 OR SUM(started_bytes) <> 0",
        )


def recount_months(*, breakdown_model: Any = UploadDailyBreakdown, month_model: Any = UploadMonthlyBreakdown) -> None:
    """The monthly rows from the daily breakdown (reasons included), in one INSERT ... SELECT."""
    quote = connection.ops.quote_name
    counts = ["started_files", "started_bytes", "stored_files", "stored_bytes"]
    grouped = (
        breakdown_model.objects.annotate(month=TruncMonth("day"))
        .values("dimension", "month", "value")
        .annotate(**{f"sum_{name}": Sum(name) for name in counts})
        .order_by()
    )
    select_sql, params = grouped.query.sql_with_params()
    columns = ", ".join(quote(name) for name in ["dimension", "month", "value", *counts])
    with connection.cursor() as cursor:
        cursor.execute(
            # Names come from the model; values are parameters.
            f"INSERT INTO {quote(month_model._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT g.dimension, g.month, g.value, {', '.join(f'g.sum_{name}' for name in counts)} FROM ({select_sql}) g",
            params,
        )


def rollup_recount(
    *,
    upload_model: Any = Upload,
    day_model: Any = UploadDailyRollup,
    breakdown_model: Any = UploadDailyBreakdown,
    total_model: Any = UploadTotal,
    month_model: Any = UploadMonthlyBreakdown,
) -> tuple[int, int]:
    """Rebuild the tables from the uploads; returns (day rows, total rows). (A
    migration passes its historical models, and `month_model=None` before the monthly
    table exists.) On PostgreSQL the tables are locked first: a writer that has already added to them is
    waited for and then counted, one that has not yet waits for the recount and then
    adds on top of it."""
    models = [m for m in (day_model, breakdown_model, total_model, month_model) if m is not None]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {', '.join(quote(m._meta.db_table) for m in models)} IN SHARE ROW EXCLUSIVE MODE"
                )
        for model in models:
            model.objects.all().delete()
        _recount_in_sql(upload_model, day_model, breakdown_model, total_model)
        breakdown_model.objects.bulk_create(
            [
                breakdown_model(dimension=dimension, day=day, value=value, started_files=files, started_bytes=size)
                for (dimension, day, value), (files, size, _, _) in recounted_reasons(upload_model).items()
            ],
            batch_size=5000,
        )
        if month_model is not None:
            recount_months(breakdown_model=breakdown_model, month_model=month_model)
        days, totals = day_model.objects.count(), total_model.objects.count()
    return days, totals
