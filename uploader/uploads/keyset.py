"""Keyset (cursor) pagination: a page starts after (or ends before) the sort key of a
row, so page 500 is one index range like page 1, and rows added between two page loads
neither repeat nor push a row past the next page.

A `Sort` names the key, column by column, all in one direction and ending with the
primary key (so the key is unique); the model has an index on the same columns. The
cursor is the key of a page's last (or first) row, as URL-safe base64 of JSON: opaque
but stable, so a page link can be shared.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import models
from django.db.models import Expression, F, Q, QuerySet
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

M = TypeVar("M", bound=models.Model)
T = TypeVar("T")

CURSOR_MAX_CHARS = 2_000


class BadCursor(ValueError):
    """A cursor that is not one this sort made (damaged, or from another sort)."""


@dataclass(frozen=True)
class Column:
    """One column of a sort key: the row attribute holding it, the expression to
    annotate when it is not a plain field, and how its JSON value is read back."""

    name: str
    parse: Callable[[Any], Any]
    field: models.Field[Any, Any]
    expression: Combinable | None = None


@dataclass(frozen=True)
class Sort:
    columns: tuple[Column, ...]
    descending: bool

    def unindexed(self) -> Sort:
        """The same order and cursors, in expressions no index matches
        (`COALESCE(x, x)`): for a filter so narrow that finding its rows by another
        index and sorting them beats walking this sort's index."""
        hidden = []
        for column in self.columns[:-1]:  # the primary key stays: ties are rare, lookups cheap
            expression = column.expression if column.expression is not None else F(column.name)
            hidden.append(
                Column(f"{column.name}_unindexed", column.parse, column.field, Coalesce(expression, expression))
            )
        return Sort((*hidden, self.columns[-1]), descending=self.descending)

    def annotations(self) -> dict[str, Any]:
        return {column.name: column.expression for column in self.columns if column.expression is not None}

    def order(self, *, reverse: bool = False) -> list[Any]:
        descending = self.descending != reverse
        return [F(column.name).desc() if descending else F(column.name).asc() for column in self.columns]

    def cursor_of(self, row: Any) -> str:
        values = [_jsonable(getattr(row, column.name)) for column in self.columns]
        return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")

    def at_cursor(self, cursor: str | None) -> Q:
        """True for the row whose key is the cursor's (the row a page link starts
        after or ends before), on a queryset annotated with `annotations()`; always
        false without a cursor. Raises BadCursor."""
        if cursor is None:
            return Q(pk__in=[])
        condition = Q()
        for column, value in zip(self.columns, self.parse_cursor(cursor), strict=True):
            condition &= Q(**{column.name: value})
        return condition

    def parse_cursor(self, cursor: str) -> list[Any]:
        if len(cursor) > CURSOR_MAX_CHARS:
            raise BadCursor("The page link is too long.")
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if not isinstance(raw, list) or len(raw) != len(self.columns):
                raise ValueError("wrong shape")
            return [column.parse(value) for column, value in zip(self.columns, raw, strict=True)]
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise BadCursor("This page link is damaged.") from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def parse_time(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("a cursor's time has its offset")
    return moment


def parse_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("not a whole number")
    return value


def parse_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    return value


class RowCompare(Expression):
    """`(a, b, c) < (x, y, z)` (or `>`, `<=`, `>=`): a row comparison, which PostgreSQL
    answers with one index range over an index on (a, b, c), and SQLite (3.15+) too."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, columns: Sequence[Any], values: Sequence[Any], *, less: bool, or_equal: bool = False) -> None:
        super().__init__()
        self.columns = list(columns)
        self.values = list(values)
        self.less = less
        self.or_equal = or_equal

    def get_source_expressions(self) -> list[Any]:
        return [*self.columns, *self.values]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.columns, self.values = list(exprs[: len(self.columns)]), list(exprs[len(self.columns) :])

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        sql_parts: list[str] = []
        params: list[Any] = []
        for expression in [*self.columns, *self.values]:
            sql, expression_params = compiler.compile(expression)
            sql_parts.append(sql)
            params.extend(expression_params)
        width = len(self.columns)
        left, right = ", ".join(sql_parts[:width]), ", ".join(sql_parts[width:])
        operator = ("<" if self.less else ">") + ("=" if self.or_equal else "")
        return f"({left}) {operator} ({right})", tuple(params)


@dataclass(frozen=True)
class KeysetPage(Generic[M]):
    object_list: list[M]
    next_cursor: str | None  # `after` of the next page
    previous_cursor: str | None  # `before` of the previous page

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


def keyset_page(
    queryset: QuerySet[M], *, sort: Sort, size: int, after: str | None = None, before: str | None = None
) -> KeysetPage[M]:
    """The `size` rows after the cursor `after` (or before `before`; or the first
    page), in one query. Raises BadCursor for a cursor this sort did not make."""
    backwards = before is not None and after is None
    cursor = before if backwards else after
    fetched = list(past_cursor(queryset, sort=sort, cursor=cursor, backwards=backwards)[: size + 1])
    return page_of(fetched, sort=sort, size=size, backwards=backwards, from_cursor=cursor is not None)


def keyset_walk(
    queryset: QuerySet[M],
    *,
    among: QuerySet[M],
    rows: int,
    sort: Sort,
    size: int,
    after: str | None = None,
    before: str | None = None,
) -> KeysetPage[M] | None:
    """`keyset_page(queryset, ...)` found among only the next `rows` rows of `among` (the
    same rows before a narrowing filter, such as a search) in the sort's order: the
    key of the last of them is read from the sort's index first, and the page's walk
    of that index stops there, however few rows match. None when the rows up to there
    hold less than a whole page and more rows follow (the caller finds the rest another
    way). Raises BadCursor."""
    backwards = before is not None and after is None
    cursor = before if backwards else after
    names = [column.name for column in sort.columns]
    last = past_cursor(among, sort=sort, cursor=cursor, backwards=backwards).values_list(*names)[rows - 1 : rows]
    narrowed = past_cursor(queryset, sort=sort, cursor=cursor, backwards=backwards)
    bounded = False
    for bound in last:  # none when fewer rows are left: then the walk reads them all
        bounded = True
        values = [
            models.Value(value, output_field=column.field) for column, value in zip(sort.columns, bound, strict=True)
        ]
        narrowed = narrowed.filter(
            RowCompare([F(name) for name in names], values, less=sort.descending == backwards, or_equal=True)
        )
    fetched = list(narrowed[: size + 1])
    if len(fetched) <= size and bounded:
        return None
    return page_of(fetched, sort=sort, size=size, backwards=backwards, from_cursor=cursor is not None)


def past_cursor(queryset: QuerySet[M], *, sort: Sort, cursor: str | None, backwards: bool) -> QuerySet[M]:
    """The rows after the cursor (before it, backwards), nearest first."""
    rows = queryset.annotate(**sort.annotations()) if sort.annotations() else queryset
    if cursor is not None:
        values = [
            models.Value(value, output_field=column.field)
            for column, value in zip(sort.columns, sort.parse_cursor(cursor), strict=True)
        ]
        # Forwards in a descending sort, or backwards in an ascending one: smaller keys.
        less = sort.descending != backwards
        rows = rows.filter(RowCompare([F(column.name) for column in sort.columns], values, less=less))
    return rows.order_by(*sort.order(reverse=backwards))


def rows_around(
    ordered: Sequence[T], *, cursor_at: int | None, size: int, backwards: bool, complete: bool
) -> list[T] | None:
    """What `keyset_page` would read, taken from rows already read in the sort's order:
    the `size + 1` after the row at `cursor_at` (from the start without one), or the
    `size + 1` before it going backwards, nearest first. `ordered` is every row that
    matches when `complete`, else the first of them; None when the page reaches past
    them (read it from the database then)."""
    if backwards:
        if cursor_at is None:
            raise ValueError("going backwards needs the cursor's row")
        return list(reversed(ordered[max(0, cursor_at - size - 1) : cursor_at]))
    start = 0 if cursor_at is None else cursor_at + 1
    if start + size + 1 > len(ordered) and not complete:
        return None
    return list(ordered[start : start + size + 1])


def page_of(fetched: list[M], *, sort: Sort, size: int, backwards: bool, from_cursor: bool) -> KeysetPage[M]:
    """The page from up to `size + 1` rows in the order they were read (page order, or
    reversed going backwards): a row past the page means another page that way."""
    more = len(fetched) > size
    fetched = fetched[:size]
    if backwards:
        fetched.reverse()
        return KeysetPage(
            fetched,
            next_cursor=sort.cursor_of(fetched[-1]) if fetched else None,
            previous_cursor=sort.cursor_of(fetched[0]) if more else None,
        )
    return KeysetPage(
        fetched,
        next_cursor=sort.cursor_of(fetched[-1]) if more else None,
        previous_cursor=sort.cursor_of(fetched[0]) if from_cursor and fetched else None,
    )
