"""The search table of PostgreSQL: each upload's search text, time, portal and owner,
in one partition per calendar quarter (UTC), each with its own trigram index and time
index (ADR 0014).

Why quarters: PostgreSQL keeps statistics per partition, so for each quarter the
planner sees whether a word is common there or rare, and picks a walk of that
quarter's time index (common: the newest matches are near the top) or its trigram
index (rare). A word whose matches are all old ("2025" in December 2026) is rare in
every newer quarter, a few trigram lookups, and common in the quarter that holds its
newest matches. One table-wide trigram index cannot say "newest first": a common
word's whole match list had to be read and sorted, which grew with the table.

The rows are written by triggers on the uploads table, in the statement that writes
the upload, so no path (a service, the admin, a bulk load) can leave them behind.
Rows of a quarter that has no partition yet go to the default partition, so a write
never fails; `ensure_partitions` (daily, from Celery beat, and by the migration and
`seed_demo`) makes the coming quarters' partitions ahead and moves any such rows.
SQLite has none of this: its search reads the uploads table (uploader.uploads.search).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from uploader.uploads.keyset import Sort, past_cursor
from uploader.uploads.models import UploadSearchRow
from uploader.uploads.search import Search

logger = logging.getLogger(__name__)

TABLE = "uploader_uploadsearch"
DEFAULT_PARTITION = f"{TABLE}_default"
SYNC_FUNCTION = "uploader_uploadsearch_sync"
QUARTERS_AHEAD = 4  # partitions made beyond the current quarter

_TRIGGERS = (
    ("uploader_uploadsearch_insert", "AFTER INSERT", ""),
    (
        "uploader_uploadsearch_update",
        "AFTER UPDATE OF search_text, created_at, portal_id, owner_id",
        # Upload.save() names search_text in every update_fields: only a real change
        # rewrites the row.
        "WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text OR OLD.created_at IS DISTINCT FROM NEW.created_at"
        " OR OLD.portal_id IS DISTINCT FROM NEW.portal_id OR OLD.owner_id IS DISTINCT FROM NEW.owner_id)",
    ),
    ("uploader_uploadsearch_delete", "AFTER DELETE", ""),
)


def quarter_of(moment: dt.datetime | dt.date) -> dt.date:
    """The first day of the calendar quarter (UTC) holding `moment`."""
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.UTC).date()
    return dt.date(moment.year, (moment.month - 1) // 3 * 3 + 1, 1)


def next_quarter(quarter: dt.date) -> dt.date:
    return dt.date(quarter.year + 1, 1, 1) if quarter.month == 10 else dt.date(quarter.year, quarter.month + 3, 1)


def quarter_start(quarter: dt.date) -> dt.datetime:
    return dt.datetime(quarter.year, quarter.month, 1, tzinfo=dt.UTC)


def partition_name(quarter: dt.date) -> str:
    return f"{TABLE}_{quarter.year}q{(quarter.month - 1) // 3 + 1}"


def create(cursor: Any, *, upload_table: str) -> None:
    """The partitioned table, its default partition and the triggers (empty; the
    indexes come with `create_indexes`, after a fill)."""
    cursor.execute(
        f"CREATE TABLE {TABLE} (id uuid NOT NULL, created_at timestamptz NOT NULL, search_text text NOT NULL, "
        f"portal_id bigint NULL, owner_id integer NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)"
    )
    cursor.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")
    cursor.execute(
        f"CREATE FUNCTION {SYNC_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608 - our names
        f"IF TG_OP <> 'INSERT' THEN DELETE FROM {TABLE} WHERE id = OLD.id AND created_at = OLD.created_at; END IF; "
        f"IF TG_OP <> 'DELETE' THEN INSERT INTO {TABLE} (id, created_at, search_text, portal_id, owner_id) "
        f"VALUES (NEW.id, NEW.created_at, NEW.search_text, NEW.portal_id, NEW.owner_id); END IF; "
        f"RETURN NULL; END $$"
    )
    for name, when, condition in _TRIGGERS:
        cursor.execute(
            f"CREATE TRIGGER {name} {when} ON {upload_table} FOR EACH ROW {condition} EXECUTE FUNCTION {SYNC_FUNCTION}()"
        )


def create_indexes(cursor: Any) -> None:
    """Each partition's time index (a quarter's walk, newest or oldest first) and
    trigram index (its rare words); partitions made later get theirs when attached.
    The trigram index has no pending list (`fastupdate = off`): with one, every search
    also read the list of entries not yet merged, up to 4 MB (gin_pending_list_limit),
    which cost 50 ms for a word in one quarter of the benchmark's million uploads, and
    0.7 ms once merged. Each upload's insert updates the index at once instead."""
    cursor.execute(f"CREATE INDEX {TABLE}_created_id ON {TABLE} (created_at, id)")
    cursor.execute(f"CREATE INDEX {TABLE}_trgm ON {TABLE} USING gin (search_text gin_trgm_ops) WITH (fastupdate = off)")


def drop(cursor: Any, *, upload_table: str) -> None:
    for name, _, _ in _TRIGGERS:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {upload_table}")
    cursor.execute(f"DROP FUNCTION IF EXISTS {SYNC_FUNCTION}()")
    cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def fill(cursor: Any, *, upload_table: str) -> None:
    """Every upload's row that is missing, in time order (as uploads arrive): for a
    table made after its uploads (the migration), or after a bulk load with the
    triggers off."""
    cursor.execute(
        f"INSERT INTO {TABLE} (id, created_at, search_text, portal_id, owner_id) "  # noqa: S608 - our names
        f"SELECT id, created_at, search_text, portal_id, owner_id FROM {upload_table} ORDER BY created_at, id "
        f"ON CONFLICT DO NOTHING"
    )


def set_triggers(cursor: Any, *, upload_table: str, enabled: bool) -> None:
    """Off for a bulk load that fills the table once afterwards (`fill`)."""
    for name, _, _ in _TRIGGERS:
        cursor.execute(f"ALTER TABLE {upload_table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {name}")


def ensure_partitions(*, since: dt.date | None = None, through: dt.date | None = None) -> list[str]:
    """Make the partition of each quarter from `since` (default: this one) through
    `through` (default: QUARTERS_AHEAD after this one) that is missing, moving its
    rows out of the default partition. Returns the partitions made. Idempotent;
    nothing on SQLite."""
    if connection.vendor != "postgresql":
        return []
    this_quarter = quarter_of(dt.datetime.now(dt.UTC))
    quarter = quarter_of(since or this_quarter)
    last = through or this_quarter
    if through is None:
        for _ in range(QUARTERS_AHEAD):
            last = next_quarter(last)
    made = []
    while quarter <= last:
        if _make_partition(quarter):
            made.append(partition_name(quarter))
        quarter = next_quarter(quarter)
    if made:
        logger.info("search partitions made: %s", ", ".join(made))
    return made


def _make_partition(quarter: dt.date) -> bool:
    name = partition_name(quarter)
    start, end = quarter_start(quarter), quarter_start(next_quarter(quarter))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            return False
        # New rows of the quarter wait while its rows move out of the default partition
        # (none, unless the partition is late or rows were loaded from the past).
        cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN EXCLUSIVE MODE")
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE created_at >= %s AND created_at < %s RETURNING *) "  # noqa: S608
            f"INSERT INTO {name} SELECT * FROM moved",
            [start, end],
        )
        moved = cursor.rowcount
        # Attaching builds the partition's share of each of the table's indexes.
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
        if moved:
            cursor.execute(f"ANALYZE {name}")  # its statistics are what the planner chooses by
    return True


def quarters_of_rows() -> list[dt.date]:
    """Each quarter from the oldest row's through the current one, newest first (one
    index lookup): what a search asks, one quarter at a time."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(created_at) FROM {TABLE}")  # noqa: S608 - our table's name
        oldest = cursor.fetchone()[0]
    this_quarter = quarter_of(dt.datetime.now(dt.UTC))
    quarter = quarter_of(oldest) if oldest is not None else this_quarter
    quarters = []
    while quarter <= this_quarter:
        quarters.append(quarter)
        quarter = next_quarter(quarter)
    return quarters[::-1]


# The one compiled query of every quarter is written between these two times (objects
# found again by identity among its parameters), then run with each quarter's bounds.
_START_PROBE = dt.datetime(1111, 1, 1, tzinfo=dt.UTC)
_END_PROBE = dt.datetime(1111, 1, 2, tzinfo=dt.UTC)
# Bounds that hold every row: the newest quarter's query also reads anything later
# (a clock ahead), the oldest's anything earlier, however the partitions lie.
_EARLIEST = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def quarter_bounds(quarters: Sequence[dt.date]) -> list[tuple[dt.datetime, dt.datetime]]:
    """The [start, end) of each of `quarters` (newest first), the newest open to the
    future and the oldest to the past, so together they hold every row."""
    last = len(quarters) - 1
    return [
        (
            _EARLIEST if index == last else quarter_start(quarter),
            _LATEST if index == 0 else quarter_start(next_quarter(quarter)),
        )
        for index, quarter in enumerate(quarters)
    ]


def _within_a_quarter() -> QuerySet[UploadSearchRow]:
    return UploadSearchRow.objects.filter(created_at__gte=_START_PROBE, created_at__lt=_END_PROBE)


def ids_in_order_by_quarter(
    search: Search,
    *,
    quarters: Sequence[dt.date],
    narrowed: Q,
    sort: Sort,
    limit: int,
    cursor: str | None = None,
    backwards: bool = False,
) -> list[uuid.UUID]:
    """The ids of the first `limit` matches past the cursor in the sort (by time,
    either way), in that order, in one query: each quarter's first `limit` in order,
    the quarters one after another in the same order, read until there are `limit`.
    A quarter where the words are common walks its time index and stops early; one
    where they are rare reads its few matches from its trigram index; the quarters
    past the last one needed are not read at all. Only ids: their times would be
    1,001 timestamps parsed for the 51 rows read again anyway. Raises BadCursor."""
    descending = sort.descending != backwards
    rows = past_cursor(_within_a_quarter().filter(search.q(), narrowed), sort=sort, cursor=cursor, backwards=backwards)
    bounds = quarter_bounds(quarters)
    return _in_turn(rows.values_list("id", flat=True)[:limit], bounds if descending else bounds[::-1], limit)


def ids_by_quarter(search: Search, *, quarters: Sequence[dt.date], narrowed: Q, up_to: int) -> list[uuid.UUID]:
    """The ids of at most `up_to` matches, newest quarters first, in one query that
    stops reading once it has them (for a count that stops there)."""
    rows = _within_a_quarter().filter(search.q(), narrowed).values_list("id", flat=True)[:up_to]
    return _in_turn(rows, quarter_bounds(quarters), up_to)


def _in_turn(rows: QuerySet[Any], bounds: Sequence[tuple[dt.datetime, dt.datetime]], limit: int) -> list[Any]:
    """The first `limit` of `rows` (a query of one column, written between the probe
    times) read from each quarter's bounds one after another: one UNION ALL of the
    query once per quarter, with no ORDER BY (PostgreSQL's Append runs its parts in
    turn and stops at the LIMIT; an ORDER BY would merge them, which starts every
    part). The query is compiled once and its two times set per quarter: the ORM
    building nine copies of it cost about 3 ms a search. Each part names its
    quarter's times, so each is planned on that partition's own statistics. A
    parallel plan could interleave the parts, so this one query plans none."""
    sql, params = rows.query.get_compiler(connection=connection).as_sql()
    start_at = [index for index, param in enumerate(params) if param is _START_PROBE]
    end_at = [index for index, param in enumerate(params) if param is _END_PROBE]
    if len(start_at) != 1 or len(end_at) != 1:
        raise RuntimeError("the quarter's times are not parameters of its compiled query")
    parts: list[Any] = []
    for start, end in bounds:
        part = list(params)
        part[start_at[0]], part[end_at[0]] = start, end
        parts += part
    if len(bounds) == 1:  # PostgreSQL takes no LIMIT after a part's own
        statement = sql
    else:
        statement = " UNION ALL ".join([f"({sql})"] * len(bounds)) + " LIMIT %s"
        parts.append(limit)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute(statement, parts)
        return [row[0] for row in cursor.fetchall()]
