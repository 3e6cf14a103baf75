"""Uploads to the gateway end as `stored` rows through its pushed events alone
(no SQS), and the real page uploads to it from Chromium."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.test import Client

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from uploader import s3
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.strict_s3, pytest.mark.django_db(transaction=True)]

TOKEN = "gateway-push-token-0123456789abcdef"
KiB, MiB = 1024, 1024 * 1024


@pytest.fixture
def pushing_gateway(live_server, strict_bucket: str, settings) -> str:  # type: ignore[no-untyped-def]
    """Our set-up command points the gateway's bucket events at our webhook."""
    settings.INTAKE_EVENTS_WEBHOOK_TOKEN = TOKEN
    out = io.StringIO()
    call_command(
        "setup_bucket", "--origin", live_server.url, "--push-endpoint", f"{live_server.url}/api/events/s3?token={TOKEN}", stdout=out
    )
    assert "changed  notifications" in out.getvalue()
    return str(live_server.url)


def _wait_for(predicate, seconds: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_an_upload_becomes_stored_through_the_gateways_event_alone(pushing_gateway: str, client: Client) -> None:
    client.force_login(make_staff_user("erin"))
    body = os.urandom(4 * KiB)
    signed = client.get("/api/s3/params", {"filename": "pushed.bin", "type": "application/octet-stream", "size": len(body)}).json()
    assert requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).status_code == 200
    # No complete call: only the gateway's pushed event can store it.
    assert _wait_for(lambda: Upload.objects.get(pk=signed["id"]).state == UploadState.STORED)
    event = UploadEvent.objects.get(key=signed["key"])
    assert (event.source, event.kind, event.outcome) == ("webhook", "created", EventOutcome.APPLIED)
    assert event.raw["source"] == "ceph:s3"
    assert event.sequencer

    s3.delete_object(key=signed["key"])
    assert _wait_for(lambda: Upload.objects.get(pk=signed["id"]).state == UploadState.DELETED), list(
        UploadEvent.objects.filter(key=signed["key"]).values_list("kind", "sequencer", "outcome", "detail")
    )


@pytest.mark.browser
def test_the_page_uploads_to_the_gateway_from_chromium(pushing_gateway: str, page, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_MULTIPART_THRESHOLD_BYTES = 6 * MiB
    settings.INTAKE_PART_SIZE_BYTES = 5 * MiB
    make_staff_user("frank")
    small = tmp_path / "note.txt"
    small.write_bytes(os.urandom(200 * KiB))
    big = tmp_path / "scan.bin"
    big.write_bytes(os.urandom(12 * MiB))

    sign_in(page, pushing_gateway, "frank")
    page.locator(".uppy-Dashboard-input").first.set_input_files([str(small), str(big)])
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function("document.getElementById('upload-announcer').textContent.includes('uploaded')", timeout=120_000)
    assert page.locator("#upload-announcer").text_content() == "2 uploaded, 0 failed."

    for path in (small, big):
        upload = Upload.objects.get(original_filename=path.name)
        assert upload.state == UploadState.STORED
        assert upload.stored_size == path.stat().st_size
        assert hashlib.sha256(s3.get_object_bytes(key=upload.key)).digest() == hashlib.sha256(path.read_bytes()).digest()
        # The gateway told us too; the ledger holds its event, applied once.
        assert _wait_for(lambda key=upload.key: UploadEvent.objects.filter(key=key, outcome=EventOutcome.APPLIED).count() == 1)
    assert Upload.objects.get(original_filename="scan.bin").is_multipart
