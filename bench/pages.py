"""Benchmark 7: the staff pages and the read API at a million uploads.

    .venv/bin/python manage.py seed_demo --uploads 1000000   # once, into the bench database
    .venv/bin/python bench/pages.py [--rounds 40] [--plans FILE] [--wrk]

Against a PostgreSQL database filled by `seed_demo` (BENCH_DATABASE, default
`intake_bench`; nothing is written to it but a signed-in admin and the audit entries
the audit page records), signed in as an admin:

1. in-process (Django's test client, as the issue measured), warm: p50 and p95 of
   each page's server time over `--rounds` requests, interleaved page by page so a
   noisy moment hits every page alike, and the number of SQL queries of each;
2. `--plans FILE`: EXPLAIN (ANALYZE, BUFFERS) of each page's slowest query, as
   markdown, for docs/benchmarks.md;
3. `--wrk`: each page under wrk (8 connections, 2 threads) against gunicorn
   (`config.wsgi`, 2 sync workers): p50/p99 and requests/s.

The file's page is measured on a rejected upload: a stored one's page HEADs its object,
and this benchmark runs without S3 (the endpoint is a closed port). The goal (issue 14)
is p95 <= 50 ms at 1M rows and <= 100 ms at 10M (the table says which it checks);
results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.harness import step

ADMIN = "bench-admin"
CLOSED_PORT = "http://127.0.0.1:9"  # no S3 here: a call would fail at once, not hang
GOAL_MS = 50.0  # p95 at 1,000,000 uploads
GOAL_10M_MS = 100.0  # p95 at 10,000,000 (issue 14)


@dataclass(frozen=True)
class Result:
    label: str
    url: str
    p50_ms: float
    p95_ms: float
    sql_ms: float  # p50 of the time spent in the database per request
    queries: int
    status: int


def _setup_django(var_dir: Path) -> None:
    env = harness.app_env(endpoint_url=CLOSED_PORT, var_dir=var_dir)
    env["INTAKE_S3_CREATE_BUCKET"] = "false"
    os.environ.update(env)
    # Load the app as gunicorn does: config.wsgi also takes what start-up made out of
    # the garbage collector's reach (gc.freeze), which the pages' p95 depends on.
    import config.wsgi  # noqa: F401


def _pages() -> list[tuple[str, str]]:
    """(label, URL) of every page measured, with the ids and cursors the data gives."""
    from uploader.uploads.models import Upload, UploadTotal
    from uploader.uploads.selectors import UPLOAD_SORTS

    newest = UPLOAD_SORTS["newest"]
    row_before_page_500 = Upload.objects.order_by("-created_at", "-id")[499 * 50 - 1]
    page_500 = newest.cursor_of(row_before_page_500)
    totals = UploadTotal.objects.exclude(portal_key=0).values_list("portal_key", "files").order_by("-files")
    busy_portal = totals[0][0]
    quiet_portal = totals.reverse()[0][0]
    rejected = Upload.objects.filter(state="rejected").order_by("-created_at").values_list("pk", flat=True)[0]
    passport_50th = Upload.objects.filter(search_text__contains="passport").order_by("-created_at", "-id")[49]
    return [
        ("reference: /healthz/live (no query)", "/healthz/live"),
        ("files, first page", "/uploads/"),
        ("files, page 500", f"/uploads/?after={page_500}"),
        ("search, one word", "/uploads/?q=passport"),
        ("search, one word, page 2", f"/uploads/?q=passport&after={newest.cursor_of(passport_50th)}"),
        ("search, three words", "/uploads/?q=contract+garcia+2025"),
        # Its matches are all old: files named for 2025, in data that ends today (Dec 2026).
        ("search, one word in old files only", "/uploads/?q=2025"),
        ("search, a word no file holds", "/uploads/?q=zqxj"),
        # A search with more than a page of matches loads its count after its rows (ADR 0015).
        ("count: one word", "/uploads/totals/?q=passport"),
        ("count: three words", "/uploads/totals/?q=contract+garcia+2025"),
        ("count: one word in old files only", "/uploads/totals/?q=2025"),
        ("filter: state rejected", "/uploads/?state=rejected"),
        ("filter: busiest portal", f"/uploads/?portal={busy_portal}"),
        ("filter: quietest portal", f"/uploads/?portal={quiet_portal}"),
        ("filter: staff uploads", "/uploads/?portal=none"),
        ("filter: kind video", "/uploads/?kind=video"),
        ("filter: one month", "/uploads/?uploaded_from=2026-03-01&uploaded_to=2026-03-31"),
        ("filter: size at least 100 MB", "/uploads/?size_min=100+MB"),
        ("sort: oldest", "/uploads/?sort=oldest"),
        ("sort: largest", "/uploads/?sort=largest"),
        ("sort: name", "/uploads/?sort=name"),
        ("a file's page", f"/uploads/{rejected}/"),
        ("stats, 7 days", "/stats/?days=7"),
        ("stats, 30 days", "/stats/?days=30"),
        ("stats, 90 days", "/stats/?days=90"),
        ("stats, 365 days", "/stats/?days=365"),
        ("audit, plain", "/audit/"),
        ("audit, one action", "/audit/?action=upload.downloaded"),
        ("audit, action prefix", "/audit/?action=upload."),
        ("portals list", "/portals/"),
        ("a portal's page", f"/portals/{busy_portal}/"),
        ("GET /api/uploads", "/api/uploads"),
        ("GET /api/uploads?state=stored", "/api/uploads?state=stored"),
    ]


def _admin_client() -> Any:
    from django.contrib.auth.models import User
    from django.test import Client

    from uploader.access.accounts import user_set_role
    from uploader.access.roles import Role

    user, _ = User.objects.get_or_create(username=ADMIN, defaults={"email": f"{ADMIN}@example.com"})
    user_set_role(user=user, role=Role.ADMIN, source="bench")
    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host of the local settings
    client.force_login(user)
    return client


COUNT_PATH = "/uploads/totals/"


def _get(client: Any, url: str) -> Any:
    # The read API takes a session call from this site (ADR 0004); a search's count is
    # asked for by htmx.
    htmx = {"HTTP_HX_REQUEST": "true"} if url.startswith(COUNT_PATH) else {}
    return client.get(url, HTTP_SEC_FETCH_SITE="same-origin", **htmx)


# The full (generation 2) garbage collections during the rounds: the page being
# measured and how long each took. A full collection walks every object the collector
# tracks, so it shows in that one request's time.
full_collections: list[tuple[str, float]] = []
_collecting = [""]
_collection_started = [0.0]


def _time_full_collections(phase: str, info: dict[str, Any]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        _collection_started[0] = time.perf_counter()
    else:
        full_collections.append((_collecting[0], (time.perf_counter() - _collection_started[0]) * 1000))


def measure(rounds: int) -> list[Result]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.wsgi import freeze_long_lived_objects

    client = _admin_client()
    pages = _pages()
    times: dict[str, list[float]] = {url: [] for _, url in pages}
    sql: dict[str, list[float]] = {url: [] for _, url in pages}
    in_database = [0.0]

    def timed(execute: Any, sql_text: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            in_database[0] += time.perf_counter() - started

    queries: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for _, url in pages:  # warm: caches, plans, the session
        for _ in range(3):
            _get(client, url)
        with CaptureQueriesContext(connection) as captured:
            statuses[url] = _get(client, url).status_code
        queries[url] = len(captured)
    # The warm-up was about as many requests as a gunicorn worker serves before it
    # freezes what they built (gunicorn.conf.py's post_request); do the same here.
    freeze_long_lived_objects()
    gc.callbacks.append(_time_full_collections)
    try:
        for round_number in range(rounds):
            for _, url in pages:
                in_database[0] = 0.0
                _collecting[0] = url
                with connection.execute_wrapper(timed):
                    started = time.perf_counter()
                    _get(client, url)
                    times[url].append((time.perf_counter() - started) * 1000)
                sql[url].append(in_database[0] * 1000)
            if round_number % 10 == 9:
                step(f"round {round_number + 1}/{rounds}")
    finally:
        gc.callbacks.remove(_time_full_collections)
    return [
        Result(
            label=label,
            url=url,
            p50_ms=statistics.median(times[url]),
            p95_ms=statistics.quantiles(times[url], n=20, method="inclusive")[18]
            if len(times[url]) > 1
            else times[url][0],
            sql_ms=statistics.median(sql[url]),
            queries=queries[url],
            status=statuses[url],
        )
        for label, url in pages
    ]


def plans(path: Path) -> None:
    """EXPLAIN ANALYZE of each page's slowest query (timed again, one at a time)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    client = _admin_client()
    lines = []
    for label, url in _pages():
        with CaptureQueriesContext(connection) as captured:
            _get(client, url)
        if not captured.captured_queries:
            continue
        slowest = max(captured.captured_queries, key=lambda query: float(query["time"]))
        sql = slowest["sql"]
        if not sql.lstrip().upper().startswith(("SELECT", "WITH", "(SELECT")):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            if "UNION ALL" in sql:  # the search table's quarters in turn, planned as the app plans them
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        lines += [f"#### {label} (`{url[:80]}`)", "", "```", sql[:1500], "", plan, "```", ""]
    path.write_text("\n".join(lines))
    step(f"plans written to {path}")


def under_wrk(results: list[Result], *, seconds: float) -> list[tuple[str, harness.WrkResult]]:
    from django.contrib.auth.models import User

    var_dir = Path(tempfile.mkdtemp(prefix="intake-bench-pages-"))
    env = {**harness.app_env(endpoint_url=CLOSED_PORT, var_dir=var_dir), "INTAKE_S3_CREATE_BUCKET": "false"}
    password = "bench-" + os.urandom(8).hex()
    user = User.objects.get(username=ADMIN)
    user.set_password(password)
    user.save(update_fields=["password"])
    server = harness.Gunicorn(env, workers=2, log_path=var_dir / "gunicorn.log", name="pages").start()
    try:
        session = harness.login_as(server.base_url, ADMIN, password)
        headers = {**harness.session_headers(session), "Sec-Fetch-Site": "same-origin"}
        measured = []
        for result in results:
            htmx = {"HX-Request": "true"} if result.url.startswith(COUNT_PATH) else {}
            outcome = harness.run_wrk(
                server.base_url + result.url,
                connections=8,
                threads=2,
                duration=seconds,
                headers={**headers, **htmx},
                latency=True,
            )
            measured.append((result.label, outcome))
            step(
                f"wrk {result.label}: p50 {outcome.p50_ms} ms, p99 {outcome.p99_ms} ms, {outcome.requests_per_second:.0f}/s"
            )
        return measured
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="requests per page, in-process")
    parser.add_argument("--plans", type=Path, help="write each page's slowest query plan (markdown) here")
    parser.add_argument("--wrk", type=float, default=0, help="also run each page under wrk for this many seconds")
    args = parser.parse_args(argv)
    _setup_django(Path(tempfile.mkdtemp(prefix="intake-bench-pages-")))
    from uploader.uploads.models import Upload

    uploads = Upload.objects.count()
    step(f"{uploads:,} uploads in {harness.BENCH_DATABASE}")
    goal_ms = GOAL_MS if uploads < 5_000_000 else GOAL_10M_MS
    load_before = os.getloadavg()[0]
    results = measure(args.rounds)
    print(f"\nload average before: {load_before:.1f}")
    print(f"\n| page | p50 ms | p95 ms | SQL p50 ms | queries | goal p95 <= {goal_ms:.0f} ms |\n|---|---:|---:|---:|---:|---|")
    for result in results:
        met = "yes" if result.p95_ms <= goal_ms else "**no**"
        if result.status != 200:
            met = f"**HTTP {result.status}**"
        print(
            f"| {result.label} | {result.p50_ms:.1f} | {result.p95_ms:.1f} | {result.sql_ms:.1f} | {result.queries} | {met} |"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    longest = max((took for _, took in full_collections), default=0.0)
    print(f"full garbage collections during the rounds: {len(full_collections)} (longest {longest:.1f} ms)")
    if args.plans:
        plans(args.plans)
    if args.wrk:
        measured = under_wrk(results, seconds=args.wrk)
        print("\n| page (wrk, 8 connections) | p50 ms | p99 ms | requests/s |\n|---|---:|---:|---:|")
        for label, outcome in measured:
            print(f"| {label} | {outcome.p50_ms} | {outcome.p99_ms} | {outcome.requests_per_second:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
