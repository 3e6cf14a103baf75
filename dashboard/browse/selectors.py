"""Reads for the file browser (`dashboard/browse/views.py`).

Who sees what: every role that may browse (viewer, staff, admin) sees the whole
business's files, as the read API answers (`uploader.access.principals`: BROWSE reads
everything); the principal is built the same way, so both stay one rule.

"Uploaded" means when the upload began (`created_at`, set for every row and indexed
for each sort), so files that never arrived can be found by date too. Pages are keyset
pages (uploader.uploads.keyset): page links carry the cursor, not a number. A file's
size is what S3 stored, or what the client declared while it has not arrived.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from uploader.access.principals import signed_in_principal
from uploader.access.roles import Permission, has_permission
from uploader.portals.models import Portal
from uploader.uploads import search_table
from uploader.uploads.keyset import KeysetPage, Sort, keyset_page, keyset_walk, page_of, rows_around
from uploader.uploads.kinds import KIND_CHOICES, kind_of, kind_q
from uploader.uploads.models import Upload, UploadTag, UploadTotal
from uploader.uploads.rollup import STAFF_PORTAL_KEY
from uploader.uploads.search import Search, search_for
from uploader.uploads.selectors import SIZE_KEY
from uploader.uploads.selectors import UPLOAD_SORTS as SORTS

logger = logging.getLogger(__name__)

__all__ = ["KIND_CHOICES", "kind_of"]  # the form and the detail page read them from here

SORT_CHOICES: tuple[tuple[str, str], ...] = (
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("largest", "Largest first"),
    ("name", "Name (A to Z)"),
)
DEFAULT_SORT = "newest"

# The portal filter's value for files that came through no portal (staff uploads).
NO_PORTAL = "none"

# Past this many matching files, the totals line says "1,000+ files" instead of
# counting further (and leaves the bytes out): an exact count of a broad search would
# read every matching row. Filters by state, portal and kind alone are exact from the
# kept totals (uploader.uploads.models.UploadTotal) however many files match.
TOTALS_COUNTED_UP_TO = 1_000
# A search of several words that matches at most this many files has their ids and
# sizes read once (browse_results): a few thousand short rows cost far less than a
# second trigram search.
MATCHES_READ_UP_TO = 2_000
# A search of one word first looks for a page among this many files past the page
# link in the sort's order (_walked_page): at most about 18 ms of index walk, whatever
# the number of files, and a word in one file of a hundred about fills a page.
SEARCH_WALK_ROWS = 5_000


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the business's time zone (TIME_ZONE)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


@dataclass(frozen=True)
class UploadFilters:
    """What the browse form asked for; only values that passed validation get here."""

    q: str = ""
    state: str = ""
    portal: str = ""  # "", NO_PORTAL or a portal id
    kind: str = ""
    uploaded_from: dt.date | None = None
    uploaded_to: dt.date | None = None  # inclusive
    size_min: int | None = None
    size_max: int | None = None
    tag: str = ""
    sort: str = DEFAULT_SORT

    @property
    def only_kept_dimensions(self) -> bool:
        """Whether only state, portal and kind narrow the list (the kept totals' keys)."""
        return (
            not (self.q or self.uploaded_from or self.uploaded_to or self.tag)
            and self.size_min is None
            and self.size_max is None
        )


@dataclass(frozen=True)
class BrowseTotals:
    files: int
    bytes: int | None  # None when the count stopped at TOTALS_COUNTED_UP_TO
    capped: bool = False

    @property
    def files_shown(self) -> str:
        """The count with thousands separators, "+" when it stopped counting."""
        return f"{self.files:,}{'+' if self.capped else ''}"


_CAPPED = BrowseTotals(files=TOTALS_COUNTED_UP_TO, bytes=None, capped=True)


# What browse_rows and the sorts' cursors read of a listed upload, its sender and its
# portal: the rest of the three rows (the search text, the portal's settings as JSON)
# would be read and decoded fifty times a page for nothing.
_ROW_FIELDS = (
    "state",
    "scan_state",
    "original_filename",
    "created_at",
    "stored_size",
    "declared_size",
    "rejection_reason",
    "uploader_name",
    "uploader_email",
    "owner__username",
    "owner__email",
    "portal__name",
)


def browsable_uploads(*, user: Any, filters: UploadFilters, search: Search | None = None) -> QuerySet[Upload]:
    """The business's uploads the user may browse, filtered (sorted by `browse_results`),
    with the sender and portal joined in (one query per page, however many rows).
    `search`: the search box's words already looked up (`search_for(filters.q)`)."""
    if not has_permission(user, Permission.BROWSE):
        return Upload.objects.none()
    uploads = (
        signed_in_principal(user)
        .readable_uploads()
        .select_related("owner", "portal")
        .only(*_ROW_FIELDS)
        .annotate(size_bytes=Coalesce("stored_size", "declared_size"))
    )
    if filters.q:
        uploads = uploads.filter((search or search_for(filters.q)).q())
    if filters.state:
        uploads = uploads.filter(state=filters.state)
    uploads = uploads.filter(_portal_and_dates(filters))
    if filters.kind:
        uploads = uploads.filter(kind_q(filters.kind))
    if filters.size_min is not None or filters.size_max is not None:
        # The size sort's indexed expression (unknown sizes are -1), so a size range is
        # one index range too.
        uploads = uploads.filter(GreaterThanOrEqual(SIZE_KEY, filters.size_min or 0))
    if filters.size_max is not None:
        uploads = uploads.filter(LessThanOrEqual(SIZE_KEY, filters.size_max))
    if filters.tag:
        # A semi-join: a file has each tag once, so no duplicates and no DISTINCT.
        uploads = uploads.filter(pk__in=UploadTag.objects.filter(name=filters.tag).values("upload_id"))
    return uploads


def _portal_and_dates(filters: UploadFilters) -> Q:
    """The portal and date filters, on columns the uploads and the search table share."""
    narrowed = Q()
    if filters.portal == NO_PORTAL:
        narrowed &= Q(portal_id__isnull=True)
    elif filters.portal:
        narrowed &= Q(portal_id=int(filters.portal))
    if filters.uploaded_from is not None:
        narrowed &= Q(created_at__gte=day_start(filters.uploaded_from))
    if filters.uploaded_to is not None:
        narrowed &= Q(created_at__lt=day_start(filters.uploaded_to + dt.timedelta(days=1)))
    return narrowed


def browse_results(
    *, user: Any, filters: UploadFilters, size: int, after: str | None, before: str | None
) -> tuple[KeysetPage[Upload], BrowseTotals | None]:
    """One page of the list in the asked-for sort, from a page link's cursor (a damaged
    one gives the first page, as a bad page number always has), and the totals line:
    two queries, however many files match (a search: its words looked up first, and
    one word may take a third). Totals None: a search from the search table whose
    count is its own request (`search_totals`), which the page loads after its rows
    (ADR 0015)."""
    keyset = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    search = search_for(filters.q)
    uploads = browsable_uploads(user=user, filters=filters, search=search)
    if not search.terms:
        return _page(uploads, keyset, size, after, before), browse_totals(user=user, filters=filters, uploads=uploads)
    if _answered_by_search_table(filters):
        return _search_table_results(
            user=user, filters=filters, search=search, keyset=keyset, size=size, after=after, before=before
        )
    if len(search.terms) == 1:
        page = _walked_page(
            user=user,
            filters=filters,
            search=search,
            uploads=uploads,
            keyset=keyset,
            size=size,
            after=after,
            before=before,
        )
        return page, browse_totals(user=user, filters=filters, uploads=uploads)
    return _search_results(user=user, uploads=uploads, keyset=keyset, size=size, after=after, before=before)


# The sorts the search table's time index gives.
_SEARCH_TABLE_SORTS = ("newest", "oldest")


def _answered_by_search_table(filters: UploadFilters) -> bool:
    """A search sorted by time and narrowed at most by portal and dates: PostgreSQL's
    search table answers it (uploader.uploads.search_table), quarter by quarter."""
    return (
        connection.vendor == "postgresql"
        and filters.sort in _SEARCH_TABLE_SORTS
        and not (filters.state or filters.kind or filters.tag)
        and filters.size_min is None
        and filters.size_max is None
    )


def _search_table_results(
    *, user: Any, filters: UploadFilters, search: Search, keyset: Sort, size: int, after: str | None, before: str | None
) -> tuple[KeysetPage[Upload], BrowseTotals | None]:
    """A page of a search from the search table: its ids in one query that reads each
    quarter by its own plan (a walk of its time index where the words are common, its
    trigram index where they are rare, so neither grows with the years kept), then
    its rows by primary key. The totals come with the page only when the first page
    holds every match; otherwise they are `search_totals`'s, on their own request
    (ADR 0015): counting to 1,001 matches cost up to twice the page's own query."""
    if not has_permission(user, Permission.BROWSE):
        return keyset_page(Upload.objects.none(), sort=keyset, size=size), BrowseTotals(files=0, bytes=0)
    quarters, narrowed = search_table.quarters_of_rows(), _portal_and_dates(filters)
    backwards = bool(before) and not after
    cursor = (before if backwards else after) or None
    ids = None
    if cursor is not None:
        try:
            ids = search_table.ids_in_order_by_quarter(
                search,
                quarters=quarters,
                narrowed=narrowed,
                sort=keyset,
                limit=size + 1,
                cursor=cursor,
                backwards=backwards,
            )
        except ValueError:  # a damaged page link: the first page, as a bad page number always gave
            backwards, cursor = False, None
    if ids is None:
        ids = search_table.ids_in_order_by_quarter(
            search, quarters=quarters, narrowed=narrowed, sort=keyset, limit=size + 1
        )
    found = browsable_uploads(user=user, filters=UploadFilters()).order_by().in_bulk(ids)
    rows = [found[pk] for pk in ids if pk in found]
    page = page_of(rows, sort=keyset, size=size, backwards=backwards, from_cursor=bool(cursor))
    if cursor is None and len(ids) <= size:  # the first page is every match; size_bytes: browsable_uploads'
        return page, BrowseTotals(files=len(rows), bytes=sum(getattr(row, "size_bytes", None) or 0 for row in rows))
    return page, None


def search_totals(*, user: Any, filters: UploadFilters) -> BrowseTotals:
    """The totals line on its own request (`/uploads/totals/`, ADR 0015): for a search
    from the search table, its first 1,001 matching ids, then the bytes of at most
    1,000. One word in the sort's order (a common word stops early in the newest
    quarter), several in any order (each quarter's few matches come from its trigram
    index): the faster of the two for each. Any other filter: `browse_totals`."""
    search = search_for(filters.q)
    if not (search.terms and _answered_by_search_table(filters)):
        uploads = browsable_uploads(user=user, filters=filters, search=search)
        return browse_totals(user=user, filters=filters, uploads=uploads)
    if not has_permission(user, Permission.BROWSE):
        return BrowseTotals(files=0, bytes=0)
    quarters, narrowed = search_table.quarters_of_rows(), _portal_and_dates(filters)
    up_to = TOTALS_COUNTED_UP_TO + 1
    if len(search.terms) == 1:
        keyset = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
        matched = search_table.ids_in_order_by_quarter(
            search, quarters=quarters, narrowed=narrowed, sort=keyset, limit=up_to
        )
    else:
        matched = search_table.ids_by_quarter(search, quarters=quarters, narrowed=narrowed, up_to=up_to)
    if len(matched) > TOTALS_COUNTED_UP_TO:
        return _CAPPED
    readable = browsable_uploads(user=user, filters=UploadFilters()).order_by()
    summed = readable.filter(pk__in=matched).aggregate(bytes=Sum("size_bytes"))
    return BrowseTotals(files=len(matched), bytes=summed["bytes"] or 0)


def _walked_page(
    *,
    user: Any,
    filters: UploadFilters,
    search: Search,
    uploads: QuerySet[Upload],
    keyset: Sort,
    size: int,
    after: str | None,
    before: str | None,
) -> KeysetPage[Upload]:
    """A search of one word. A common word fills a page from the newest (or first, in
    the sort) few thousand files, so those are walked first in the sort's index; a rare
    one, or a common one whose matches are all old ("2025" in December 2026), has its
    matches found by the trigram index and sorted instead. Walking the index until
    enough match, with no bound, read 710,000 rows for "2025" at a million files. The
    walk tests each row it reads (Search.q(walked=True)): given the word's LIKE, the
    planner built the word's whole trigram bitmap first, which grows with the table."""
    unsearched = browsable_uploads(user=user, filters=replace(filters, q=""))
    try:
        walked = keyset_walk(
            unsearched.filter(search.q(walked=True)),
            among=unsearched,
            rows=SEARCH_WALK_ROWS,
            sort=keyset,
            size=size,
            after=after or None,
            before=before or None,
        )
    except ValueError:
        walked = None  # a damaged page link: _page gives the first page
    return walked if walked is not None else _page(uploads, keyset.unindexed(), size, after, before)


def _search_results(
    *, user: Any, uploads: QuerySet[Upload], keyset: Sort, size: int, after: str | None, before: str | None
) -> tuple[KeysetPage[Upload], BrowseTotals]:
    """A search of several words. Every word narrows: the matches are few and may all
    be old (a year among the words), so they are found by the trigram index and sorted,
    not by walking the sort's index until enough match. The first MATCHES_READ_UP_TO
    of them are read in order as ids (with each one's size, and whether it is the page
    link's row): the totals and the page's rows come from that one trigram search, and
    only a page beyond them needs a second."""
    backwards = bool(before) and not after
    cursor = (before if backwards else after) or None
    try:
        at_cursor = keyset.at_cursor(cursor)
    except ValueError:
        backwards, cursor, at_cursor = False, None, keyset.at_cursor(None)
    hidden = keyset.unindexed()
    matches = list(
        uploads.annotate(**keyset.annotations(), **hidden.annotations())
        .annotate(at_cursor=ExpressionWrapper(at_cursor, output_field=BooleanField()))
        .order_by(*hidden.order())
        .values_list("pk", "size_bytes", "at_cursor")[: MATCHES_READ_UP_TO + 1]
    )
    complete = len(matches) <= MATCHES_READ_UP_TO
    totals = _counted(len(matches), sum(size_bytes or 0 for _, size_bytes, _ in matches)) if complete else _CAPPED
    cursor_at = next((index for index, (_, _, here) in enumerate(matches) if here), None)
    window = None
    if cursor is None or cursor_at is not None:
        window = rows_around(
            [pk for pk, _, _ in matches], cursor_at=cursor_at, size=size, backwards=backwards, complete=complete
        )
    if window is None:  # past the rows read, or the link's row is gone
        return _page(uploads, hidden, size, after, before), totals
    readable = browsable_uploads(user=user, filters=UploadFilters()).annotate(**keyset.annotations())
    found = readable.order_by().in_bulk(window)
    rows = [found[pk] for pk in window if pk in found]
    return page_of(rows, sort=keyset, size=size, backwards=backwards, from_cursor=cursor is not None), totals


def _page(
    uploads: QuerySet[Upload], keyset: Sort, size: int, after: str | None, before: str | None
) -> KeysetPage[Upload]:
    try:
        return keyset_page(uploads, sort=keyset, size=size, after=after or None, before=before or None)
    except ValueError:
        return keyset_page(uploads, sort=keyset, size=size)


def browse_totals(*, user: Any, filters: UploadFilters, uploads: QuerySet[Upload]) -> BrowseTotals:
    """How many files and bytes the filter selects, in one query that never reads the
    whole table: the kept totals for state/portal/kind filters, else a count that
    stops at TOTALS_COUNTED_UP_TO."""
    if filters.only_kept_dimensions and has_permission(user, Permission.BROWSE):
        totals = UploadTotal.objects.all()
        if filters.state:
            totals = totals.filter(state=filters.state)
        if filters.portal:
            totals = totals.filter(portal_key=STAFF_PORTAL_KEY if filters.portal == NO_PORTAL else int(filters.portal))
        if filters.kind:
            totals = totals.filter(kind=filters.kind)
        kept = totals.aggregate(files=Sum("files"), bytes=Sum("bytes"))
        return BrowseTotals(files=kept["files"] or 0, bytes=kept["bytes"] or 0)
    counted = uploads.order_by()[: TOTALS_COUNTED_UP_TO + 1].aggregate(files=Count("pk"), bytes=Sum("size_bytes"))
    return _counted(counted["files"], counted["bytes"] or 0)


def _counted(files: int, size_bytes: int) -> BrowseTotals:
    return _CAPPED if files > TOTALS_COUNTED_UP_TO else BrowseTotals(files=files, bytes=size_bytes)


def portal_choices() -> list[tuple[str, str]]:
    """Every portal, by name, for the portal filter (disabled ones too: their files stay)."""
    return [(str(pk), name) for pk, name in Portal.objects.order_by(Lower("name"), "pk").values_list("pk", "name")]
