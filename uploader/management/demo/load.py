"""Write demo rows fast: COPY on PostgreSQL, multi-row INSERTs elsewhere (SQLite)."""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

from uploader.audit.models import AuditEntry
from uploader.ingest.models import UploadEvent
from uploader.management.demo.generate import COLUMNS, SPAN_DAYS, Cast, make_batch
from uploader.portals.models import Portal
from uploader.processing.models import Derivative
from uploader.uploads import search_table
from uploader.uploads.models import (
    Upload,
    UploadDailyBreakdown,
    UploadDailyRollup,
    UploadMonthlyBreakdown,
    UploadSearchRow,
    UploadTotal,
)
from uploader.uploads.recount import rollup_recount

MODELS: dict[str, type[models.Model]] = {
    "upload": Upload,
    "audit": AuditEntry,
    "event": UploadEvent,
    "derivative": Derivative,
}
BATCH_UPLOADS = 10_000
# From this many uploads on PostgreSQL, the tables' secondary indexes are dropped for
# the load and built again after it (one sort each instead of a million insertions,
# the trigram index above all): the whole load is then one transaction.
DEFER_INDEXES_FROM = 100_000
INSERT_ROWS = 500  # rows per INSERT statement on SQLite (its variable limit is 32,766)
# What the recount writes, vacuumed with the loaded tables.
ROLLUP_MODELS: tuple[type[models.Model], ...] = (
    UploadDailyRollup,
    UploadDailyBreakdown,
    UploadMonthlyBreakdown,
    UploadTotal,
)


def demo_cast(*, staff: int, portals: int) -> Cast:
    """The demo's staff users and portals, made once and found again on later runs."""
    user_model = get_user_model()
    staff_rows = []
    for n in range(1, staff + 1):
        user, _ = user_model.objects.get_or_create(
            username=f"demo-staff-{n:02}", defaults={"email": f"demo-staff-{n:02}@example.com", "is_staff": True}
        )
        staff_rows.append((user.pk, user.username))
    portal_rows = []
    for n in range(1, portals + 1):
        slug = f"demo-{n:03}"
        portal = Portal.objects.filter(slug=slug).first() or Portal.objects.create(
            name=f"{['Müller', 'García', 'Smith', 'Dubois', 'Kowalski'][n % 5]} & Co {n:03}",
            slug=slug,
            title=f"Files for demo client {n:03}",
            token_nonce=secrets.token_hex(16),
            token_digest=secrets.token_hex(32),
            require_name=True,
            require_email=True,
        )
        portal_rows.append((portal.pk, portal.slug))
    return Cast(staff=staff_rows, portals=portal_rows)


def _copy(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    quote = connection.ops.quote_name
    statement = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _insert(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Multi-row INSERTs with each value prepared as Django would (SQLite keeps UUIDs,
    times and JSON in its own text forms)."""
    quote = connection.ops.quote_name
    by_column = {model_field.column: model_field for model_field in model._meta.concrete_fields}
    fields = [by_column[column] for column in columns]
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_ROWS):
            chunk = rows[start : start + INSERT_ROWS]
            params = [_prepared(f, value) for row in chunk for f, value in zip(fields, row, strict=True)]
            cursor.execute(
                # Names come from the model; values are parameters.
                f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
                f"VALUES {', '.join([row_sql] * len(chunk))}",
                params,
            )


def _prepared(model_field: models.Field[Any, Any], value: Any) -> Any:
    if isinstance(model_field, models.ForeignKey):
        model_field = model_field.target_field
    if isinstance(model_field, models.JSONField):
        return value  # already JSON text
    return model_field.get_db_prep_value(value, connection)


def _drop_secondary_indexes() -> list[str]:
    """Drop the indexes of the loaded tables (and of the search table, filled after
    the load) that no constraint owns; returns their definitions, to run again after
    the load."""
    tables = [model._meta.db_table for model in MODELS.values()] + [search_table.TABLE]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)",
            [tables],
        )
        found = cursor.fetchall()
        for name, _ in found:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    # A partitioned table's index reads "ON ONLY table" in pg_indexes: run as it is, it
    # would make the parent's index alone (invalid, and no partition indexed).
    return [definition.replace(" ON ONLY ", " ON ", 1) for _, definition in found]


def seed(
    *,
    uploads: int,
    staff: int = 20,
    portals: int = 200,
    seed_value: int | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, int]:
    """Add `uploads` demo uploads (and their events, audit entries, derivatives), then
    recount the rollup. Returns how many rows of each table were written."""
    rng = random.Random(seed_value)  # noqa: S311 - demo data, not secrets
    cast = demo_cast(staff=staff, portals=portals)
    now = timezone.now()
    bucket = "intake-demo"
    written = dict.fromkeys(COLUMNS, 0)
    started = time.monotonic()
    defer = connection.vendor == "postgresql" and uploads >= DEFER_INDEXES_FROM
    # The search table's quarters of the demo's two years, so its rows go straight to
    # their partitions.
    search_table.ensure_partitions(since=search_table.quarter_of(now - dt.timedelta(days=SPAN_DAYS)))
    upload_table = connection.ops.quote_name(Upload._meta.db_table)
    with transaction.atomic():
        dropped = _drop_secondary_indexes() if defer else []
        if dropped:
            progress(f"{len(dropped)} indexes dropped for the load; built again after it")
            with connection.cursor() as cursor:
                # The search table is filled once after the load, in time order. A table
                # with foreign-key checks pending cannot be altered: run them first.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                search_table.set_triggers(cursor, upload_table=upload_table, enabled=False)
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        done = 0
        while done < uploads:
            count = min(BATCH_UPLOADS, uploads - done)
            batch = make_batch(rng, cast, count, now=now, bucket=bucket)
            with transaction.atomic():
                for name, rows in batch.rows.items():
                    model = MODELS[name]
                    if connection.vendor == "postgresql":
                        _copy(model._meta.db_table, COLUMNS[name], rows)
                    else:
                        _insert(model, COLUMNS[name], rows)
                    written[name] += len(rows)
            done += count
            elapsed = time.monotonic() - started
            progress(f"{done:,}/{uploads:,} uploads ({elapsed:,.0f} s, {done / max(elapsed, 0.001):,.0f}/s)")
        if dropped:
            _check_foreign_keys(progress)
            step_started = time.monotonic()
            with connection.cursor() as cursor:
                search_table.fill(cursor, upload_table=upload_table)
                search_table.set_triggers(cursor, upload_table=upload_table, enabled=True)
            progress(f"search table filled ({time.monotonic() - step_started:,.0f} s)")
            _build_indexes(dropped, progress)
    progress("recounting the daily rollup")
    days, totals = rollup_recount()
    progress(f"rollup: {days:,} day rows, {totals:,} total rows")
    if connection.vendor == "postgresql":
        # VACUUM as autovacuum would soon: it marks the new pages all-visible, so counts
        # read from an index alone (index-only scans) from the first page load, and the
        # first reads do not pay for setting every row's hint bits. VACUUM cannot run in
        # a transaction (a test's); ANALYZE alone then.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            vacuumed: tuple[type[models.Model], ...] = (*MODELS.values(), *ROLLUP_MODELS, UploadSearchRow)
            for model in vacuumed:
                step_started = time.monotonic()
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
                progress(f"{command} of {model._meta.db_table} ({time.monotonic() - step_started:,.0f} s)")
    progress(f"done in {time.monotonic() - started:,.0f} s")
    return written


def _check_foreign_keys(progress: Callable[[str], None]) -> None:
    """The deferred foreign-key checks, now: PostgreSQL alters no table (the search
    triggers) and builds no index on one with checks still pending."""
    progress("checking the foreign keys of the rows loaded")
    step_started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    progress(f"foreign keys checked ({time.monotonic() - step_started:,.0f} s)")


def _build_indexes(definitions: list[str], progress: Callable[[str], None]) -> None:
    """The dropped indexes again, each said as it is built (minutes each at 10M rows)."""
    with connection.cursor() as cursor:
        progress(f"building {len(definitions)} indexes")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for number, definition in enumerate(definitions, start=1):
            step_started = time.monotonic()
            cursor.execute(definition)
            named = re.search(r"INDEX (\S+) ON", definition)
            name = named.group(1) if named else "?"
            progress(f"index {number}/{len(definitions)} built: {name} ({time.monotonic() - step_started:,.0f} s)")
