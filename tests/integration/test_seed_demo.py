"""`manage.py seed_demo`: realistic rows in every table the pages read, loaded the fast
way (COPY on PostgreSQL, multi-row INSERTs on SQLite), with the rollup recounted."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from uploader.audit.models import AuditEntry
from uploader.ingest.models import UploadEvent
from uploader.management.demo import load
from uploader.portals.models import Portal
from uploader.uploads import recount, search_table
from uploader.uploads.models import Upload, UploadTotal
from uploader.uploads.search import search_text_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_seed_demo_fills_every_table_and_the_rollup_agrees() -> None:
    out = io.StringIO()
    call_command("seed_demo", "--uploads", "600", "--portals", "6", "--staff", "3", "--seed", "7", stdout=out)
    assert "600/600 uploads" in out.getvalue()
    assert Upload.objects.count() == 600
    assert Portal.objects.filter(slug__startswith="demo-").count() == 6
    states = dict.fromkeys(["stored", "rejected", "deleted", "aborted", "registered", "uploading"], 0)
    for state in Upload.objects.values_list("state", flat=True):
        states[state] += 1
    assert states["stored"] > 400  # most files arrive
    assert all(states[state] for state in ("stored", "rejected", "deleted", "aborted"))
    # Nothing is left in flight past the day after which reconcile closes it.
    day_ago = timezone.now() - dt.timedelta(hours=24)
    assert not Upload.objects.filter(state__in=["registered", "uploading"], created_at__lt=day_ago).exists()
    assert Upload.objects.filter(portal__isnull=False).count() > 300  # most through portals
    assert AuditEntry.objects.filter(action="upload.registered").count() == 600
    assert UploadEvent.objects.count() > 400
    # Rows written without the ORM still carry their search text, and the rollup was recounted.
    upload = Upload.objects.exclude(uploader_name="").first()
    assert upload is not None
    assert upload.search_text == search_text_of(upload.original_filename, upload.uploader_name, upload.uploader_email)
    assert recount.rollup_differences() == []
    assert sum(UploadTotal.objects.values_list("files", flat=True)) == 600
    # A second run adds to the same portals and staff.
    call_command("seed_demo", "--uploads", "10", "--portals", "6", "--staff", "3", stdout=io.StringIO())
    assert (Upload.objects.count(), Portal.objects.count()) == (610, 6)


def test_seed_demo_refuses_nonsense() -> None:
    with pytest.raises(CommandError, match="--staff at least 1"):
        call_command("seed_demo", "--uploads", "5", "--staff", "0")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search table and deferred indexes are PostgreSQL's")
@pytest.mark.parametrize("defer_from", [100, 10_000])
def test_the_search_table_holds_every_seeded_upload_in_its_quarter(
    defer_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large load (deferred indexes) turns the triggers off and fills the table once
    # after it; a small one is written by the triggers. Either way, every row in its
    # quarter's partition, the triggers on again and the indexes back.
    monkeypatch.setattr(load, "DEFER_INDEXES_FROM", defer_from)
    call_command("seed_demo", "--uploads", "300", "--portals", "4", "--staff", "2", "--seed", "3", stdout=io.StringIO())
    columns = "id, created_at, search_text, portal_id, owner_id"
    with connection.cursor() as cursor:
        sql = f"SELECT {columns} FROM uploader_upload EXCEPT SELECT {columns} FROM {search_table.TABLE}"  # noqa: S608
        cursor.execute(sql)
        assert cursor.fetchall() == []
        cursor.execute(f"SELECT count(*) FROM {search_table.TABLE}")  # noqa: S608
        assert cursor.fetchone()[0] == 300
        cursor.execute(f"SELECT count(*) FROM {search_table.DEFAULT_PARTITION}")  # noqa: S608
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE tgname LIKE 'uploader_uploadsearch_%'")
        assert sorted(cursor.fetchall()) == [
            ("uploader_uploadsearch_delete", "O"),
            ("uploader_uploadsearch_insert", "O"),
            ("uploader_uploadsearch_update", "O"),
        ]
        cursor.execute(f"SELECT indexname FROM pg_indexes WHERE tablename = '{search_table.TABLE}'")  # noqa: S608
        assert {"uploader_uploadsearch_trgm", "uploader_uploadsearch_created_id"} <= {
            row[0] for row in cursor.fetchall()
        }
        # Each index valid, and each partition with its own share of it (a partitioned
        # index made "ON ONLY" the parent is invalid and indexes no partition).
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, i.indisvalid FROM pg_index i WHERE i.indrelid = %s::regclass",
            [search_table.TABLE],
        )
        assert all(valid for _, valid in cursor.fetchall())
        cursor.execute(
            "SELECT c.relname, count(i.indexrelid) FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
            "LEFT JOIN pg_index i ON i.indrelid = c.oid WHERE h.inhparent = %s::regclass GROUP BY c.relname",
            [search_table.TABLE],
        )
        indexes_per_partition = dict(cursor.fetchall())
        assert indexes_per_partition, "no partitions"
        assert set(indexes_per_partition.values()) == {3}, indexes_per_partition  # key, time, trigram
