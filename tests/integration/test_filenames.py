"""A client's file name is kept as staff will read it: no invisible characters that
reorder it on screen (a right-to-left override makes "invoice\u202egpj.exe" look like
"invoiceexe.jpg"), on new registrations and on rows made before the rule."""

from __future__ import annotations

import importlib
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from django.apps import apps
from django.test import Client

from uploader.uploads.models import Upload, UploadState

pytestmark = pytest.mark.integration

MIGRATION = importlib.import_module("uploader.migrations.0015_display_filenames_without_format_characters")


def test_a_right_to_left_override_never_reaches_the_row_or_the_download(api: Client) -> None:
    body = b"MZ not really"
    signed = api.get("/api/s3/params", {"filename": "invoice\u202egpj.exe", "type": "application/octet-stream", "metadata[size]": len(body)})
    assert signed.status_code == 200, signed.content
    upload = Upload.objects.get(pk=signed.json()["id"])
    assert upload.original_filename == "invoicegpj.exe"
    requests.put(signed.json()["url"], data=body, headers=signed.json()["headers"], timeout=10).raise_for_status()
    assert api.post(f"/api/s3/complete?key={signed.json()['key']}").status_code == 200

    download = api.post(f"/uploads/{upload.pk}/download")
    assert download.status_code == 302
    disposition = unquote(parse_qs(urlsplit(download["Location"]).query)["response-content-disposition"][0])
    assert "invoicegpj.exe" in disposition
    assert "\u202e" not in disposition


@pytest.mark.django_db
def test_the_migration_cleans_names_registered_before_the_rule() -> None:
    tricked = Upload.objects.create(
        key="uploads/staff/2026/12/a/invoice-gpj.exe", original_filename="invoice\u202egpj.exe", state=UploadState.STORED
    )
    persian = Upload.objects.create(
        key="uploads/staff/2026/12/b/x.pdf", original_filename="\u0645\u06cc\u200c\u062e.pdf", state=UploadState.STORED
    )
    MIGRATION.clean_names(apps, None)
    tricked.refresh_from_db()
    persian.refresh_from_db()
    assert tricked.original_filename == "invoicegpj.exe"
    assert persian.original_filename == "\u0645\u06cc\u200c\u062e.pdf", "joiners a script needs are kept"
