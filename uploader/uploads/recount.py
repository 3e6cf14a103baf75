"""Recounting the rollup (uploader.uploads.rollup) from the uploads: rebuilding its
tables (`rollup_recount`, after a bulk load, a change of TIME_ZONE or to repair; `manage.py
recount_upload_rollup`) and saying where the kept rows differ from a recount
(`rollup_differences`, its `--check`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from uploader.uploads.kinds import kind_case, kind_content_type
from uploader.uploads.models import (
    Upload,
    UploadDailyBreakdown,
    UploadDailyRollup,
    UploadMonthlyBreakdown,
    UploadTotal,
)
from uploader.uploads.rollup import (
    REJECTED,
    STAFF_PORTAL_KEY,
    BreakdownKey,
    DayKey,
    TotalKey,
    breakdown_of,
    by_month,
    fold_reason,
)


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
    counted_breakdown = {key: tuple(values) for key, values in breakdown_of(counted_days).items() if any(values)}
    counted_breakdown.update(recounted_reasons())
    counted_months = {key: tuple(values) for key, values in by_month(counted_breakdown).items() if any(values)}
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
