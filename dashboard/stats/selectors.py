"""Reads for the stats page: what arrived over a period, in aggregate queries only.

Every figure is a GROUP BY over the daily rollup's breakdown
(`UploadDailyBreakdown`) and, for the whole calendar months of a long period, its
monthly sums (`UploadMonthlyBreakdown`), so the page costs the same handful of queries,
each over a few hundred rows a day or month, however many files there are (tests/integration/test_dashboard_stats.py
counts them). Days are the business's days: `TruncDate` in `TIME_ZONE`, and the
series is filled in Python so a day with nothing shows as zero instead of missing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from html import escape
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from uploader.access.roles import Permission, require_permission
from uploader.portals.models import Portal
from uploader.uploads.kinds import OTHER_KIND
from uploader.uploads.models import UploadDailyBreakdown, UploadMonthlyBreakdown, UploadState
from uploader.uploads.rollup import STAFF_PORTAL_KEY
from uploader.uploads.sizes import format_bytes

PERIOD_DAYS_CHOICES: tuple[int, ...] = (7, 30, 90, 365)
DEFAULT_PERIOD_DAYS = 30
TOP_PORTALS = 10
TOP_REJECTION_REASONS = 8

STAFF_UPLOADS_LABEL = "Staff uploads"


@dataclass(frozen=True)
class Period:
    """The last `days` days, today included, in the business's time zone."""

    days: int
    first_day: datetime.date
    last_day: datetime.date
    start: datetime.datetime  # local midnight of first_day, aware
    # Set when the asked-for period was not one we offer and the default was used.
    note: str = ""

    @property
    def day_list(self) -> list[datetime.date]:
        return [self.first_day + datetime.timedelta(days=offset) for offset in range(self.days)]


def period_from(value: str | None, *, now: datetime.datetime | None = None) -> Period:
    """Parse the `days` query parameter. Anything but an offered choice falls back to
    the default with a note saying so; a bad link never becomes an error page."""
    note = ""
    days = DEFAULT_PERIOD_DAYS
    if value not in (None, ""):
        text = str(value).strip()
        # Compared as text: int() of a link's thousands of digits raises (Python's
        # limit on converting long digit strings), and only the offered values matter.
        offered_texts = {str(choice): choice for choice in PERIOD_DAYS_CHOICES}
        if text in offered_texts:
            days = offered_texts[text]
        else:
            offered = ", ".join(str(choice) for choice in PERIOD_DAYS_CHOICES)
            note = (
                f"“{text[:20]}” is not a period we offer ({offered} days); showing the last {DEFAULT_PERIOD_DAYS} days."
            )
    zone = timezone.get_default_timezone()
    local_now = timezone.localtime(now or timezone.now(), zone)
    last_day = local_now.date()
    first_day = last_day - datetime.timedelta(days=days - 1)
    start = datetime.datetime.combine(first_day, datetime.time.min, tzinfo=zone)
    return Period(days=days, first_day=first_day, last_day=last_day, start=start, note=note)


@dataclass(frozen=True)
class Breakdown:
    """One row of a breakdown: a label, how many files and how many bytes."""

    label: str
    files: int
    bytes: int = 0


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class DayCount:
    day: datetime.date
    files: int
    bytes: int

    @property
    def label(self) -> str:
        """As `date:"D j M"`: "Mon 3 Mar"."""
        return f"{_WEEKDAYS[self.day.weekday()]} {self.day.day} {_MONTHS[self.day.month - 1]}"


@dataclass(frozen=True)
class UploadStats:
    period: Period
    files: int
    bytes: int
    by_day: list[DayCount]
    by_portal: list[Breakdown]
    by_kind: list[Breakdown]
    by_state: list[Breakdown]
    rejection_reasons: list[Breakdown] = field(default_factory=list)

    @property
    def day_rows_html(self) -> SafeString:
        """The day table's rows, made here: a year is 365 rows, and the template's tags
        and filters per row cost more than the rest of the page (format_html per row,
        4 ms a year). The numbers and dates are ours; the texts are escaped all the same."""
        return mark_safe(  # noqa: S308 - ints, ISO dates and escaped text only
            "\n".join(
                f'<tr data-day="{day.day.isoformat()}"><th scope="row" data-label="Day">{escape(day.label)}</th>'
                f'<td data-label="Files" data-files>{int(day.files)}</td>'
                f'<td data-label="Size" data-bytes="{int(day.bytes)}">{escape(format_bytes(day.bytes))}</td></tr>'
                for day in self.by_day
            )
        )

    def chart_data(self) -> dict[str, Any]:
        """What static/intake/stats.js draws, for `json_script`."""
        return {
            "byDay": {
                "labels": [day.day.isoformat() for day in self.by_day],
                "files": [day.files for day in self.by_day],
                "bytes": [day.bytes for day in self.by_day],
            },
            "byKind": {"labels": [row.label for row in self.by_kind], "files": [row.files for row in self.by_kind]},
            "byState": {"labels": [row.label for row in self.by_state], "files": [row.files for row in self.by_state]},
        }


# The kinds shown, in this order (uploader.uploads.kinds decides a file's kind).
KIND_LABELS: dict[str, str] = {
    "images": "Images",
    "pdf": "PDF",
    "documents": "Documents",
    "video": "Video",
    "audio": "Audio",
    OTHER_KIND: "Other",
}

# The states shown, in this order; registered and uploading are both "in progress".
STATE_LABELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Stored", (UploadState.STORED,)),
    ("Rejected", (UploadState.REJECTED,)),
    ("Aborted", (UploadState.ABORTED,)),
    ("In progress", (UploadState.REGISTERED, UploadState.UPLOADING)),
    ("Deleted", (UploadState.DELETED,)),
)


def upload_stats(*, user: Any, period: Period) -> UploadStats:
    """Everything the stats page shows, for someone who may browse the business's files.

    Received means arrived: `stored_at` in the period, whatever the file's state now, so
    a file deleted or replaced later still counts on the day it came (one rejected on
    arrival never got a `stored_at`). The state breakdown and the rejection reasons are
    over uploads started (`created_at`) in the period, since a rejected or aborted
    upload has no `stored_at`.

    Everything comes from the daily rollup's breakdown by portal, kind, state and
    rejection reason (uploader.uploads.rollup), a few hundred rows a day however many
    files there are."""
    require_permission(user, Permission.BROWSE)
    days = UploadDailyBreakdown.objects.filter(day__gte=period.first_day, day__lte=period.last_day)

    # By day and by kind in one query: the kind rows are a handful a day.
    per_day: dict[datetime.date, list[int]] = {}
    per_kind: dict[str, list[int]] = {}
    # One row per day and kind already (the breakdown's key), so no GROUP BY; tuples,
    # not dicts: a year is a couple of thousand rows.
    kind_rows = days.filter(dimension="kind", stored_files__gt=0).values_list(
        "day", "value", "stored_files", "stored_bytes"
    )
    for day, kind, files, size in kind_rows:
        for counted in (per_day.setdefault(day, [0, 0]), per_kind.setdefault(kind, [0, 0])):
            counted[0] += files
            counted[1] += size
    by_day = [
        DayCount(day=day, files=per_day[day][0], bytes=per_day[day][1])
        if day in per_day
        else DayCount(day=day, files=0, bytes=0)
        for day in period.day_list
    ]

    per_portal = _summed(period, "portal", "stored_files", "stored_bytes")
    # Every portal's name (a few hundred short rows), so the page always makes the same queries.
    names = dict(Portal.objects.values_list("pk", "name"))
    portal_rows = sorted(
        (
            Breakdown(label=names[int(key)], files=files, bytes=size)
            for key, (files, size) in per_portal.items()
            if key.isdigit() and int(key) in names
        ),
        key=lambda row: (-row.files, -row.bytes, row.label),
    )[:TOP_PORTALS]
    if str(STAFF_PORTAL_KEY) in per_portal:
        staff_files, staff_bytes = per_portal[str(STAFF_PORTAL_KEY)]
        portal_rows.append(Breakdown(label=STAFF_UPLOADS_LABEL, files=staff_files, bytes=staff_bytes))
        portal_rows.sort(key=lambda row: (-row.files, -row.bytes))

    by_kind = [
        Breakdown(label=label, files=per_kind[key][0], bytes=per_kind[key][1])
        for key, label in KIND_LABELS.items()
        if key in per_kind
    ]

    per_state = _summed(period, "state", "started_files", "started_bytes")
    by_state = [
        Breakdown(label=label, files=sum(per_state.get(state, (0, 0))[0] for state in states))
        for label, states in STATE_LABELS
    ]

    return UploadStats(
        period=period,
        files=sum(day.files for day in by_day),
        bytes=sum(day.bytes for day in by_day),
        by_day=by_day,
        by_portal=portal_rows,
        by_kind=by_kind,
        by_state=by_state,
        rejection_reasons=_rejection_reasons(period),
    )


def _rejection_reasons(period: Period) -> list[Breakdown]:
    """The reasons most seen among the uploads begun in the period and rejected. Reasons
    carry the file's numbers ("stored object is 12 MB, over the 10 MB limit"), so the
    rollup keeps them with their numbers folded (uploader.uploads.rollup.fold_reason)."""
    reasons = _summed(period, "reason", "started_files", "started_bytes")
    top = sorted(reasons.items(), key=lambda item: (-item[1][0], item[0]))[:TOP_REJECTION_REASONS]
    return [Breakdown(label=value or "(no reason recorded)", files=files) for value, (files, _) in top]


def month_spans(period: Period) -> tuple[datetime.date, datetime.date]:
    """[start, end) of the whole calendar months inside the period (start == end when
    there are none): those are read from the monthly breakdown, the days either side
    from the daily one."""
    after_last = period.last_day + datetime.timedelta(days=1)
    first_month = period.first_day if period.first_day.day == 1 else _next_month(period.first_day)
    end = after_last.replace(day=1)
    return (first_month, end) if first_month < end else (end, end)


def _next_month(day: datetime.date) -> datetime.date:
    return (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)


def _summed(period: Period, dimension: str, files: str, size: str) -> dict[str, tuple[int, int]]:
    """`files` and `size` of each value of `dimension` over the period (rows with files
    only), in one query: the whole months from the monthly breakdown and the days
    before and after them from the daily one, so a year reads about 12 + 60 rows per
    value rather than 365."""
    months_start, months_end = month_spans(period)
    daily = UploadDailyBreakdown.objects.filter(
        Q(day__gte=period.first_day, day__lt=months_start) | Q(day__gte=months_end, day__lte=period.last_day),
        dimension=dimension,
        **{f"{files}__gt": 0},
    )
    monthly = UploadMonthlyBreakdown.objects.filter(
        month__gte=months_start, month__lt=months_end, dimension=dimension, **{f"{files}__gt": 0}
    )
    rows = (
        daily.values("value")
        .annotate(files=Sum(files), bytes=Sum(size))
        .order_by()
        .union(monthly.values("value").annotate(files=Sum(files), bytes=Sum(size)).order_by(), all=True)
    )
    sums: dict[str, tuple[int, int]] = {}
    for row in rows:
        counted_files, counted_bytes = sums.get(row["value"], (0, 0))
        sums[row["value"]] = (counted_files + row["files"], counted_bytes + (row["bytes"] or 0))
    return sums
