"""`manage.py seed_demo`: realistic rows in every table the pages read, loaded the fast
way (COPY on PostgreSQL, multi-row INSERTs on SQLite), with the rollup recounted."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from uploader.audit.models import AuditEntry
from uploader.ingest.models import UploadEvent
from uploader.portals.models import Portal
from uploader.uploads import recount
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
