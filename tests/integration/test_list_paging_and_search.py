"""The lists that must stay fast at a million uploads, for what they show: search by
every field whatever the case and accents, keyset pages that never repeat or skip a
row while new rows arrive, query counts that do not grow with the rows, and the
trigram index (PostgreSQL) or its fallback (SQLite)."""

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
from tests.support.people import person, signed_in
from tests.support.rollup import count_in_rollup
from tests.support.totals import totals_loaded
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.ops.database import ExtensionMissing, require_extension
from uploader.portals.models import Portal
from uploader.processing.models import Derivative
from uploader.uploads.models import Upload

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _upload(name: str, *, at: dt.datetime, size: int | None = 1000, **fields: Any) -> Upload:
    upload_id = uuid.uuid4()
    upload = Upload.objects.create(
        id=upload_id,
        original_filename=name,
        key=f"uploads/staff/{upload_id}/f",
        declared_size=size,
        declared_content_type=fields.pop("content_type", "application/pdf"),
        state="stored",
        stored_size=size,
        **fields,
    )
    Upload.objects.filter(pk=upload_id).update(created_at=at)
    count_in_rollup(upload)
    return upload


def _names(response: Any) -> list[str]:
    rows = re.findall(r'<td [^>]*class="filename"><a href="/uploads/[0-9a-f-]+/">(.*?)</a></td>', response.content.decode())
    return [html.unescape(name) for name in rows]


def _link(response: Any, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', response.content.decode())
    return "/uploads/" + html.unescape(found.group(1)) if found else None


# --- search --------------------------------------------------------------------------------


@pytest.fixture
def searchable(db: Any) -> None:
    owner = User.objects.create_user(username="Jürgen.Staff", email="Chef@Bäckerei.example", password="x" * 20)
    portal = Portal.objects.create(name="Crème Brûlée Ltd", slug="creme", token_nonce="n", token_digest="d", title="t")
    _upload("Résumé ZOË.pdf", at=START)
    _upload("scan.pdf", at=START, uploader_name="José Müller", uploader_email="jm@example.com", portal=portal)
    _upload("photo.jpg", at=START, uploader_email="ANNA.Smith@Example.org", portal=portal)
    _upload("staff file.pdf", at=START, owner=owner)
    _upload("nothing here.txt", at=START)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("resume", {"Résumé ZOË.pdf"}),  # file name, without its accents
        ("RÉSUMÉ zoe", {"Résumé ZOË.pdf"}),  # every word, any case
        ("jose MULLER", {"scan.pdf"}),  # sender's name
        ("anna.smith@example", {"photo.jpg"}),  # sender's e-mail
        ("jurgen", {"staff file.pdf"}),  # staff owner's user name
        ("chef@backerei", {"staff file.pdf"}),  # staff owner's e-mail
        ("creme brulee", {"scan.pdf", "photo.jpg"}),  # portal name
        ("brûlée müller", {"scan.pdf"}),  # words from two fields
        ("zoe jose", set()),  # no row has both
        ("50%_", set()),  # LIKE's wildcards are plain characters
    ],
)
def test_search_finds_by_each_field_whatever_the_case_and_accents(searchable: None, q: str, expected: set[str]) -> None:
    page = signed_in(Role.VIEWER).get("/uploads/", {"q": q})
    assert page.status_code == 200
    assert set(_names(page)) == expected


def test_a_portal_renamed_is_found_by_its_new_name_at_once(searchable: None) -> None:
    Portal.objects.filter(slug="creme").update(name="Ça Va Café")
    client = signed_in(Role.VIEWER)
    assert set(_names(client.get("/uploads/", {"q": "ca va cafe"}))) == {"scan.pdf", "photo.jpg"}
    assert _names(client.get("/uploads/", {"q": "creme"})) == []


def test_search_uses_the_trigram_index_on_postgresql_and_like_on_sqlite(searchable: None) -> None:
    from dashboard.browse.selectors import UploadFilters, browsable_uploads

    viewer = person(Role.VIEWER)
    found = browsable_uploads(user=viewer, filters=UploadFilters(q="resume"))
    assert "search_text" in str(found.query)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'upload_search_trgm'"
                " AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')"
            )
            (definition,) = cursor.fetchone()
            assert "USING gin (search_text gin_trgm_ops)" in definition
            assert "WITH (fastupdate=off)" in definition  # no pending list for each search to read (0033)
            # Five rows: make the planner show what it would do with many.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            assert "upload_search_trgm" in found.explain()
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'upload_search_trgm'")
            assert cursor.fetchone() is None  # no trigram index: a LIKE over the same column


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index-only scans are PostgreSQL's")
def test_a_size_filter_is_counted_from_an_index_and_checked_in_the_newest_first_walk() -> None:
    from dashboard.browse.selectors import UploadFilters, browsable_uploads, browse_totals

    _upload("big.mov", at=START, size=10**9)
    _upload("small.pdf", at=START, size=10)
    viewer, filters = person(Role.VIEWER), UploadFilters(size_min=10**8)
    found = browsable_uploads(user=viewer, filters=filters)
    with CaptureQueriesContext(connection) as captured:
        assert browse_totals(user=viewer, filters=filters, uploads=found).files == 1
    (count,) = [query["sql"] for query in captured.captured_queries]
    with connection.cursor() as cursor:
        # Two rows: make the planner show what it would do with many.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        # The totals line's count reads an index alone (sizes included), no table row, and
        # checks the size there. Which of the two size-carrying indexes a two-row table
        # gets is the planner's coin toss (it depends on the statistics earlier tests
        # left); at a million rows it is the size index (docs/benchmarks.md, plans).
        cursor.execute(f"EXPLAIN {count}")
        counted = "\n".join(row[0] for row in cursor.fetchall())
    assert re.search(
        r"Index Only Scan using upload_(size_created_id|created_id_size) on uploader_upload.*\n.*Index Cond: .*COALESCE",
        counted,
    ), counted
    # Newest first (when the sizes asked for are common), the size is a condition on the
    # walked index, not on each row read.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
    newest = found.order_by("-created_at", "-id")[:51].explain()
    assert re.search(r"Index Scan Backward using upload_created_id_size .*\n.*Index Cond: .*COALESCE", newest), newest


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index-only scans are PostgreSQL's")
def test_a_portals_usage_is_counted_from_its_in_flight_index_alone() -> None:
    from uploader.portals.selectors import portal_usage

    portal = Portal.objects.create(name="P", slug="p", token_nonce="n", token_digest="d", title="t")
    _upload("kept.pdf", at=START, portal=portal)
    flying = uuid.uuid4()
    Upload.objects.create(
        id=flying, original_filename="flying.pdf", key=f"uploads/p/{flying}/f", declared_size=1000, portal=portal,
        declared_content_type="application/pdf", state="uploading",
    )  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        usage = portal_usage(portal=portal)
    assert (usage.files, usage.bytes) == (2, 2000)
    (in_flight,) = [query["sql"] for query in captured.captured_queries if 'FROM "uploader_upload" ' in query["sql"]]
    with connection.cursor() as cursor:
        # Two rows: make the planner show what it would do with many (at 10M rows the
        # busiest portal's 24,000 in flight took 90 ms from the table, 5 ms from the index).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {in_flight}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using upload_portal_in_flight_usage" in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="extensions are PostgreSQL's")
def test_a_user_who_may_not_create_the_extension_gets_a_clear_message() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS intake_no_create")
        cursor.execute("CREATE ROLE intake_no_create NOLOGIN")
        cursor.execute("SET LOCAL ROLE intake_no_create")
        with pytest.raises(ExtensionMissing, match=r'"CREATE EXTENSION unaccent;" in database'):
            # Installed nowhere yet, trusted, and still refused without CREATE on the database.
            require_extension(connection, "unaccent", needed_for="A test")
        cursor.execute("RESET ROLE")
        require_extension(connection, "pg_trgm", needed_for="A test")  # present: nothing to do


# --- keyset pages ------------------------------------------------------------------------


def _sorted_names(sort: str) -> list[str]:
    rows = list(Upload.objects.all())
    keys = {
        "newest": lambda u: (u.created_at, u.id),
        "oldest": lambda u: (u.created_at, u.id),
        "largest": lambda u: (u.stored_size if u.stored_size is not None else -1, u.created_at, u.id),
        "name": lambda u: (u.original_filename.lower(), u.created_at, u.id),
    }
    return [u.original_filename for u in sorted(rows, key=keys[sort], reverse=sort in ("newest", "largest"))]


def _walk_pages(client: Client, url: str, *, arriving: str) -> tuple[list[list[str]], Any]:
    """Follow the "next" links from `url` to the last page, each page's names in order.
    After each page load two files arrive, newest, largest and first by name: `arriving`
    with kind "arrived" and "AAA" and the page's number. Also the last page."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url is not None:
        page = client.get(next_url)
        assert page.status_code == 200
        pages.append(_names(page))
        for kind in ("arrived", "AAA"):
            _upload(arriving.format(kind=kind, page=len(pages)), at=timezone.now(), size=10**9)
        next_url = _link(page, "next")
    return pages, page


def _assert_each_once_in_order(client: Client, pages: list[list[str]], last: Any, there_were: list[str]) -> Any:
    """The names `_walk_pages` saw, less the files that arrived meanwhile, are
    `there_were`, each once and in order, over three pages or more; back from the last
    page gives the page before it again. Returns that page."""
    shown = [name for page in pages for name in page]
    arrived = [name for name in shown if name.startswith(("arrived", "AAA"))]
    assert [name for name in shown if name not in arrived] == there_were  # each once, in order
    assert len(pages) >= 3
    previous = _link(last, "prev")
    assert previous is not None
    back = client.get(previous)
    assert _names(back) == pages[-2]
    return back


@pytest.mark.parametrize("sort", ["newest", "oldest", "largest", "name"])
def test_keyset_pages_never_repeat_or_skip_while_rows_arrive(sort: str) -> None:
    # Ties everywhere: ten files share each time, sizes repeat, names repeat in pairs.
    for n in range(130):
        _upload(f"file-{n // 2:03}.pdf", at=START + dt.timedelta(hours=n // 10), size=None if n % 7 == 0 else n % 13)
    there_were = _sorted_names(sort)
    client = signed_in(Role.VIEWER)
    pages, last = _walk_pages(client, f"/uploads/?sort={sort}", arriving="{kind}-{page}.pdf")
    _assert_each_once_in_order(client, pages, last, there_were)


@pytest.mark.parametrize("read_up_to", [2_000, 7])
@pytest.mark.parametrize("sort", ["newest", "oldest", "largest", "name"])
def test_a_search_of_several_words_pages_like_the_list_while_rows_arrive(
    sort: str, read_up_to: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its matches are read once, in order, up to MATCHES_READ_UP_TO: pages within them
    # come from that list, pages past it (7 here) from the database, with the same cursors.
    monkeypatch.setattr(browse_selectors, "MATCHES_READ_UP_TO", read_up_to)
    sizes = [None if n % 7 == 0 else n % 13 for n in range(130)]
    for n, size in enumerate(sizes):
        _upload(f"client report {n // 2:03}.pdf", at=START + dt.timedelta(hours=n // 10), size=size)
    _upload("client letter.pdf", at=START)  # one word of two: not found
    exact = f"130 files, {sum(size or 0 for size in sizes)} bytes"
    there_were = [name for name in _sorted_names(sort) if name.startswith("client report")]
    client = signed_in(Role.VIEWER)
    url = f"/uploads/?q=client+report&sort={sort}"
    # PostgreSQL's search table answers a search sorted by time, and counts its own way
    # (tests/integration/test_search_table.py).
    read_in_order = connection.vendor != "postgresql" or sort not in ("newest", "oldest")
    assert totals_loaded(client, client.get(url)) == (
        exact if read_up_to > 130 or not read_in_order else "1,000+ files"
    )
    pages, last = _walk_pages(client, url, arriving="{kind} client report {page}.pdf")
    back = _assert_each_once_in_order(client, pages, last, there_were)
    assert _link(back, "prev") is not None  # not the first page: it links further back


@pytest.mark.parametrize("walk_rows", [7, 150, 5_000])
@pytest.mark.parametrize("sort", ["newest", "oldest", "largest", "name"])
def test_a_search_of_one_word_pages_like_the_list_whether_walked_or_sorted(
    sort: str, walk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One word first looks for a page among SEARCH_WALK_ROWS files in the sort; where
    # they hold less than a page (every page at 7, some at 150: the newest 60 files do
    # not match) the matches are sorted instead. Either way, the same pages.
    monkeypatch.setattr(browse_selectors, "SEARCH_WALK_ROWS", walk_rows)
    for n in range(220):
        name = f"report {n // 2:03}.pdf" if n % 2 else f"other {n // 2:03}.pdf"
        _upload(name, at=START + dt.timedelta(hours=n // 10), size=None if n % 7 == 0 else n % 13)
    for n in range(60):
        _upload(f"newer {n:02}.pdf", at=START + dt.timedelta(days=30, minutes=n), size=10**6)
    there_were = [name for name in _sorted_names(sort) if name.startswith("report")]
    client = signed_in(Role.VIEWER)
    pages, last = _walk_pages(client, f"/uploads/?q=REPORT&sort={sort}", arriving="{kind} report {page}.pdf")
    _assert_each_once_in_order(client, pages, last, there_were)


def test_a_search_page_after_a_row_that_is_gone_starts_after_where_it_was() -> None:
    for n in range(60):
        _upload(f"client report {n:02}.pdf", at=START + dt.timedelta(minutes=n))
    client = signed_in(Role.VIEWER)
    first = client.get("/uploads/", {"q": "client report"})
    assert _names(first)[-1] == "client report 10.pdf"
    Upload.objects.filter(original_filename="client report 10.pdf").delete()  # the link's row
    next_url = _link(first, "next")
    assert next_url is not None
    assert _names(client.get(next_url)) == [f"client report {n:02}.pdf" for n in range(9, -1, -1)]


def test_a_damaged_or_foreign_cursor_shows_the_first_page() -> None:
    for n in range(60):
        _upload(f"f{n:02}.pdf", at=START + dt.timedelta(minutes=n))
    client = signed_in(Role.VIEWER)
    first = _names(client.get("/uploads/"))
    name_cursor = re.search(r"after=([^&\"]+)", client.get("/uploads/", {"sort": "name"}).content.decode())
    assert name_cursor is not None
    for after in ["garbage", "W10", "x" * 5000, html.unescape(name_cursor.group(1))]:
        page = client.get("/uploads/", {"after": after})
        assert page.status_code == 200
        assert _names(page) == first


def test_the_api_pages_by_cursor_through_rows_that_share_a_time(api_viewer: Client) -> None:
    for n in range(230):
        _upload(f"f{n:03}.pdf", at=START + dt.timedelta(seconds=n // 50))
    seen: list[str] = []
    params: dict[str, str] = {}
    while True:
        answer = api_viewer.get("/api/uploads", params).json()
        seen += [row["filename"] for row in answer["uploads"]]
        _upload("new.pdf", at=timezone.now())
        if answer["next"] is None:
            break
        params = {"before": answer["next"]}
    assert sorted(seen) == [f"f{n:03}.pdf" for n in range(230)]
    # An ISO time still works as before: uploads begun before it.
    older = api_viewer.get("/api/uploads", {"before": (START + dt.timedelta(seconds=1)).isoformat()}).json()
    assert len(older["uploads"]) == 50
    bad = api_viewer.get("/api/uploads", {"before": "not-a-cursor"})
    assert bad.status_code == 400
    assert bad.json()["field"] == "before"


@pytest.fixture
def api_viewer() -> Client:
    return signed_in(Role.VIEWER)


# --- query counts ----------------------------------------------------------------------------


def _queries(client: Client, url: str, **headers: str) -> int:
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **headers).status_code == 200
    return len(captured)


LIST_PAGES = [
    "/uploads/",
    "/uploads/?sort=largest&state=stored",
    "/uploads/?sort=name&kind=pdf",
    "/uploads/?q=file+client&uploaded_from=2024-01-01",
    "/uploads/?q=client",
    "/uploads/?size_min=1+KB",
    "/stats/?days=7",
    "/stats/?days=90",
    "/stats/?days=365",
    "/audit/",
    "/audit/?action=upload.",
    "/portals/",
    "/api/uploads",
    "/api/uploads?state=stored",
]


def test_no_list_page_makes_more_queries_with_more_rows() -> None:
    admin = signed_in(Role.ADMIN)
    portals = [
        Portal.objects.create(name=f"P{n}", slug=f"p{n}", token_nonce=f"{n}", token_digest=f"{n}", title="t")
        for n in range(3)
    ]

    def add(count: int) -> None:
        for n in range(count):
            upload = _upload(
                f"client file {n}.pdf",
                at=START + dt.timedelta(minutes=n),
                portal=portals[n % 3],
                owner=person(Role.STAFF) if n % 5 == 0 else None,
                scan_state="clean",
            )
            AuditEntry.objects.create(action="upload.stored", actor_label="s3-event", upload=upload)
            # A thumbnail each, signed on its portal's page.
            Derivative.objects.create(
                upload=upload, kind="thumbnail", key=f"derived/{upload.pk}/t.webp", size=10, content_type="image/webp"
            )

    pages = [*LIST_PAGES, f"/portals/{portals[0].pk}/"]
    add(3)
    few = {url: _queries(admin, url) for url in pages}
    add(120)
    many = {url: _queries(admin, url) for url in pages}
    assert many == few
    # A page further down costs what the first one does.
    first = admin.get("/uploads/?sort=largest")
    next_url = _link(first, "next")
    assert next_url is not None
    assert _queries(admin, next_url) == many["/uploads/?sort=largest&state=stored"]
