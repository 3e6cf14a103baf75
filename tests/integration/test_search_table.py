"""PostgreSQL's search table (uploader.uploads.search_table, ADR 0014): kept equal to
the uploads by triggers whatever writes them, partitioned by quarter with partitions
made ahead and late rows moved out of the default partition, and a search read from
it quarter by quarter that pages and counts like the list."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.browse import selectors as browse_selectors
from tests.support.people import signed_in
from tests.support.totals import COUNTING, totals_loaded, totals_shown
from uploader.access.roles import Role
from uploader.portals.models import Portal
from uploader.uploads import search_table
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.tasks import ensure_search_partitions

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the search table is PostgreSQL's"),
]

COLUMNS = "id, created_at, search_text, portal_id, owner_id"


def _upload(name: str, *, at: dt.datetime | None = None, **fields: Any) -> Upload:
    upload_id = uuid.uuid4()
    upload = Upload.objects.create(
        id=upload_id,
        original_filename=name,
        key=f"uploads/staff/{upload_id}/f",
        declared_size=fields.pop("size", 1000),
        declared_content_type="application/pdf",
        state="stored",
        stored_size=1000,
        **fields,
    )
    if at is not None:
        Upload.objects.filter(pk=upload_id).update(created_at=at)
    return upload


def _rows(table: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS} FROM {table} ORDER BY id")  # noqa: S608 - our tables
        return cursor.fetchall()


def _where(upload: Upload) -> tuple[str, str]:
    """The partition holding the upload's row, and the row's place in it."""
    with connection.cursor() as cursor:
        sql = f"SELECT tableoid::regclass::text, ctid::text FROM {search_table.TABLE} WHERE id = %s"  # noqa: S608
        cursor.execute(sql, [upload.pk])
        return cursor.fetchone()


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our tables
        return cursor.fetchone()[0]


def test_the_triggers_keep_the_search_table_equal_to_the_uploads() -> None:
    owner = User.objects.create_user(username="ana", email="ana@example.com")
    portal = Portal.objects.create(name="Garcia & Co", slug="garcia", token_nonce="n", token_digest="d", title="t")
    kept = _upload("Tax Return.pdf", owner=owner)
    moved = _upload("lease.pdf", portal=portal, uploader_name="José Müller", uploader_email="jm@example.com")
    gone = _upload("gone.pdf")
    assert _rows(search_table.TABLE) == _rows("uploader_upload")
    assert _rows(search_table.TABLE)[0][2] != ""  # the normalized text, not an empty copy

    # A change of what is searched rewrites the row; a state change leaves it alone.
    place = _where(kept)
    kept.state = UploadState.DELETED
    kept.save(update_fields=["state"])
    assert _where(kept) == place
    kept.original_filename = "Überweisung.pdf"
    kept.save()
    assert _where(kept) != place
    # A new time moves the row to its quarter's partition (here the default: no
    # partition is made for 2019).
    Upload.objects.filter(pk=moved.pk).update(created_at=dt.datetime(2019, 5, 1, tzinfo=dt.UTC))
    assert _where(moved)[0] == search_table.DEFAULT_PARTITION
    Upload.objects.filter(pk=moved.pk).update(portal=None, owner=owner)
    gone.delete()
    assert _rows(search_table.TABLE) == _rows("uploader_upload")
    assert "uberweisung.pdf" in {row[2].split("\n")[0] for row in _rows(search_table.TABLE)}


def test_partitions_are_made_ahead_and_a_late_quarters_rows_move_out_of_the_default() -> None:
    this_quarter = search_table.quarter_of(timezone.now())
    quarter = this_quarter
    for _ in range(search_table.QUARTERS_AHEAD + 1):  # the migration made these
        assert _count(search_table.partition_name(quarter)) == 0
        quarter = search_table.next_quarter(quarter)
    old = [_upload(f"old {n}.pdf", at=dt.datetime(2019, 4 + n, 3, tzinfo=dt.UTC)) for n in range(3)]
    newer = _upload("newer.pdf", at=dt.datetime(2019, 7, 1, tzinfo=dt.UTC))
    assert _count(search_table.DEFAULT_PARTITION) == 4

    made = search_table.ensure_partitions(since=dt.date(2019, 5, 20), through=dt.date(2019, 6, 30))
    assert made == ["uploader_uploadsearch_2019q2"]
    assert {_where(upload)[0] for upload in old} == {"uploader_uploadsearch_2019q2"}
    assert _where(newer)[0] == search_table.DEFAULT_PARTITION  # the next quarter's, still waiting
    assert search_table.ensure_partitions(since=dt.date(2019, 4, 1), through=dt.date(2019, 4, 1)) == []
    # The new partition has the table's indexes, and a row written now goes to it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'uploader_uploadsearch_2019q2'")
        definitions = " ".join(row[0] for row in cursor.fetchall())
    assert "gin (search_text gin_trgm_ops) WITH (fastupdate=off)" in definitions  # no pending list
    assert "(created_at, id)" in definitions
    assert _where(_upload("late.pdf", at=dt.datetime(2019, 6, 30, 23, tzinfo=dt.UTC)))[0].endswith("2019q2")


def test_the_daily_task_makes_a_missing_coming_quarter() -> None:
    coming = search_table.partition_name(search_table.next_quarter(search_table.quarter_of(timezone.now())))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {coming}")
    assert ensure_search_partitions() == [coming]
    assert ensure_search_partitions() == []


def test_fill_adds_the_rows_that_are_missing() -> None:
    uploads = [_upload(f"file {n}.pdf") for n in range(3)]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {search_table.TABLE} WHERE id = %s", [uploads[1].pk])  # noqa: S608
        assert _rows(search_table.TABLE) != _rows("uploader_upload")
        search_table.fill(cursor, upload_table="uploader_upload")
    assert _rows(search_table.TABLE) == _rows("uploader_upload")


# --- the search read quarter by quarter -------------------------------------------------


def _names(response: Any) -> list[str]:
    rows = re.findall(
        r'<td [^>]*class="filename"><a href="/uploads/[0-9a-f-]+/">(.*?)</a></td>', response.content.decode()
    )
    return [html.unescape(name) for name in rows]


def _link(response: Any, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', response.content.decode())
    return "/uploads/" + html.unescape(found.group(1)) if found else None


@pytest.fixture
def over_two_years() -> list[Upload]:
    """Eight quarters of files, some in partitions and some (2024) in the default one:
    "contract 2025" files only in 2025, "invoice" files in every quarter."""
    made = []
    last = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)  # fixed, so the test means the same next year
    search_table.ensure_partitions(since=dt.date(2025, 1, 1), through=dt.date(2025, 12, 31))
    for day in range(0, 730, 4):
        at = last - dt.timedelta(days=day, minutes=day % 7)
        made.append(_upload(f"invoice {day:03}.pdf", at=at))
        if at.year == 2025:
            made.append(_upload(f"contract {at:%Y-%m} {day:03}.pdf", at=at))
    return made


def _expected(uploads: list[Upload], word: str, *, newest: bool) -> list[str]:
    found = [u for u in Upload.objects.filter(pk__in=[u.pk for u in uploads]) if word in u.original_filename]
    return [u.original_filename for u in sorted(found, key=lambda u: (u.created_at, u.id), reverse=newest)]


@pytest.mark.parametrize("sort", ["newest", "oldest"])
@pytest.mark.parametrize("q", ["invoice", "contract 2025", "CONTRACT"])
def test_a_search_pages_through_every_quarter_forwards_and_back(
    over_two_years: list[Upload], sort: str, q: str
) -> None:
    expected = _expected(over_two_years, q.lower().split()[0], newest=sort == "newest")
    client = signed_in(Role.VIEWER)
    pages: list[list[str]] = []
    next_url: str | None = f"/uploads/?q={q.replace(' ', '+')}&sort={sort}"
    first = client.get(next_url)
    while next_url is not None:
        page = client.get(next_url)
        pages.append(_names(page))
        next_url = _link(page, "next")
    assert [name for page in pages for name in page] == expected
    assert len(pages) >= 2
    assert totals_shown(first) == COUNTING  # more than a page: counted on its own request
    assert totals_loaded(client, first).startswith(f"{len(expected)} files")
    back = _link(page, "prev")
    assert back is not None
    assert _names(client.get(back)) == pages[-2]


def test_the_totals_stop_counting_and_say_so(over_two_years: list[Upload], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browse_selectors, "TOTALS_COUNTED_UP_TO", 20)
    client = signed_in(Role.VIEWER)
    first = client.get("/uploads/?q=invoice")
    assert totals_loaded(client, first) == "1,000+ files"
    second = _link(first, "next")
    assert second is not None
    assert totals_loaded(client, client.get(second)) == "1,000+ files"  # a later page counts on its own
    assert totals_loaded(client, client.get("/uploads/?q=contract+2025")) == "1,000+ files"  # in any order
    one = client.get("/uploads/?q=invoice+000")
    assert totals_shown(one) == "1 file, 1000 bytes"  # the first page holds every match: no second request


def test_a_search_count_is_its_own_request_in_a_fixed_number_of_queries(over_two_years: list[Upload]) -> None:
    client = signed_in(Role.VIEWER)
    counts = []
    for q in ("invoice", "contract 2025", "invoice 000", "zqxj"):
        with CaptureQueriesContext(connection) as queries:
            answered = client.get("/uploads/totals/", {"q": q}, HTTP_HX_REQUEST="true")
        assert answered.status_code == 200
        counts.append(len(queries))
    # Session, user, the form's portals and tags (one may come from a cache other tests
    # filled), the words' staff and portal names, the quarters, the ids (with the
    # transaction and its SET LOCAL around them) and the bytes (none to sum for a word
    # no file holds): the same however many match.
    assert counts[0] == counts[1] == counts[2] <= 12, counts
    assert counts[3] <= counts[0]
    counted = client.get("/uploads/totals/", {"q": "contract 2025"}, HTTP_HX_REQUEST="true").content.decode()
    expected = len(_expected(over_two_years, "contract", newest=True))
    assert f"{expected} files" in counted
    assert 'id="browse-status" hx-swap-oob="innerHTML"' in counted  # screen readers hear it
    # Without scripts: a page of its own, with the way back to the same list.
    page = client.get("/uploads/totals/", {"q": "contract 2025", "sort": "oldest"})
    assert page.status_code == 200
    assert f"{expected} files" in page.content.decode()
    assert 'href="/uploads/?q=contract+2025&amp;sort=oldest"' in page.content.decode()
    # A filter that does not parse is left out, as on the list: a count, not an error.
    assert client.get("/uploads/totals/", {"q": "invoice", "size_min": "lots"}).status_code == 200


def test_the_count_request_is_for_those_who_may_browse(over_two_years: list[Upload]) -> None:
    anonymous = Client()
    response = anonymous.get("/uploads/totals/", {"q": "invoice"})
    assert response.status_code == 302
    assert "invoice" not in response.content.decode()


def test_a_search_of_files_all_in_this_quarter() -> None:
    # A new business: one quarter of files, so one part and no UNION ALL.
    start = search_table.quarter_start(search_table.quarter_of(timezone.now()))
    made = [_upload(f"memo {n}.pdf", at=start + dt.timedelta(minutes=60 - n)) for n in range(60)]
    assert len(search_table.quarters_of_rows()) == 1
    client = signed_in(Role.VIEWER)
    first = client.get("/uploads/?q=memo")
    assert first.status_code == 200
    assert _names(first) == [u.original_filename for u in made[:50]]
    assert totals_loaded(client, first).startswith("60 files")
    second = _link(first, "next")
    assert second is not None
    assert _names(client.get(second)) == [u.original_filename for u in made[50:]]
    assert totals_loaded(client, client.get("/uploads/?q=memo+17")).startswith("1 file")


def test_a_portal_and_dates_narrow_the_search_in_the_table(over_two_years: list[Upload]) -> None:
    portal = Portal.objects.create(name="Garcia & Co", slug="garcia", token_nonce="n", token_digest="d", title="t")
    on_portal = _upload("invoice from garcia.pdf", portal=portal, at=dt.datetime(2025, 3, 3, tzinfo=dt.UTC))
    client = signed_in(Role.VIEWER)
    assert _names(client.get("/uploads/", {"q": "invoice", "portal": portal.pk})) == [on_portal.original_filename]
    assert _names(client.get("/uploads/", {"q": "garcia invoice"})) == [
        on_portal.original_filename
    ]  # its portal's name
    in_march = _names(
        client.get("/uploads/", {"q": "invoice", "uploaded_from": "2025-03-01", "uploaded_to": "2025-03-31"})
    )
    assert in_march
    assert all(
        dt.date(2025, 3, 1) <= timezone.localtime(u.created_at).date() <= dt.date(2025, 3, 31)
        for u in Upload.objects.filter(original_filename__in=in_march)
    )
    assert len(_names(client.get("/uploads/", {"q": "invoice", "portal": "none"}))) == 50


def test_the_first_page_of_a_search_is_two_queries_of_the_search_table(over_two_years: list[Upload]) -> None:
    # Which quarters there are, then the page's 51 ids from one read of the quarters
    # in turn; the quarters a page does not need are never read.
    client = signed_in(Role.VIEWER)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/uploads/?q=contract+2025").status_code == 200
    searched = [q["sql"] for q in queries.captured_queries if search_table.TABLE in q["sql"]]
    assert len(searched) == 2
    assert searched[1].count("UNION ALL") >= 7
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        # A page of three: the newest quarter with "contract 2025" holds them.
        head, tail = searched[1].rsplit("LIMIT 51", 1)
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {head}LIMIT 3{tail}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "never executed" in plan
    assert "rows=3 loops=1" in plan.splitlines()[0]
