"""A staff member signs in and uploads through the real page, Uppy and the emulator."""

from __future__ import annotations

import base64
import hashlib
import math
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from tests.conftest import TEST_PASSWORD, make_staff_user
from uploader import s3
from uploader.ops.bucket_setup import bucket_configure
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KiB = 1024
MiB = 1024 * KiB


def sign_in(page, base_url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/accounts/login/?next=/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")


def test_staff_uploads_a_small_and_a_multipart_file(page, live_server, s3_bucket, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bucket_configure(create=False, origins=[live_server.url], queue_arn=None, abort_after_days=2)
    make_staff_user("carol")
    small = tmp_path / "small report.pdf"
    small.write_bytes(os.urandom(200 * KiB))
    big = tmp_path / "big-video.bin"
    big.write_bytes(os.urandom(20 * MiB))
    assert 20 * MiB >= settings.INTAKE_MULTIPART_THRESHOLD_BYTES

    sign_in(page, live_server.url, "carol")
    # What the browser sends to S3: every PUT must carry the Content-MD5 of its bytes.
    puts_to_s3: list[tuple[str, str | None]] = []
    page.on(
        "request",
        lambda request: (
            puts_to_s3.append((request.url, request.headers.get("content-md5")))
            if request.method == "PUT" and request.url.startswith(settings.INTAKE_S3_ENDPOINT_URL)
            else None
        ),
    )
    page.locator(".uppy-Dashboard-input").first.set_input_files([str(small), str(big)])
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function(
        "document.getElementById('upload-announcer').textContent.includes('uploaded')", timeout=120_000
    )
    assert page.locator("#upload-announcer").text_content() == "2 uploaded, 0 failed."

    uploads = {u.original_filename: u for u in Upload.objects.all()}
    assert set(uploads) == {"small report.pdf", "big-video.bin"}
    for path in (small, big):
        upload = uploads[path.name]
        assert upload.state == UploadState.STORED
        assert upload.stored_size == path.stat().st_size
        assert (
            hashlib.sha256(s3.get_object_bytes(key=upload.key)).hexdigest()
            == hashlib.sha256(path.read_bytes()).hexdigest()
        )
    assert uploads["big-video.bin"].is_multipart
    assert not uploads["small report.pdf"].is_multipart
    # Checksummed in the browser: the single PUT and each part sent
    # the MD5 of their own bytes, signed into their URLs.
    assert uploads["small report.pdf"].content_md5 == hashlib.md5(small.read_bytes()).hexdigest()  # noqa: S324
    assert len(puts_to_s3) == 1 + math.ceil(20 * MiB / settings.INTAKE_PART_SIZE_BYTES)
    part_size = settings.INTAKE_PART_SIZE_BYTES
    for url, sent_md5 in puts_to_s3:
        query = parse_qs(urlsplit(url).query)
        if "partNumber" in query:
            offset = (int(query["partNumber"][0]) - 1) * part_size
            with big.open("rb") as file:
                file.seek(offset)
                sent_bytes = file.read(part_size)
        else:
            sent_bytes = small.read_bytes()
        assert sent_md5 == base64.b64encode(hashlib.md5(sent_bytes).digest()).decode(), url  # noqa: S324
        assert "content-md5" in query["X-Amz-SignedHeaders"][0].split(";"), url
    # The list under the uploader refreshed itself (htmx) and shows both as stored.
    page.wait_for_function("document.querySelectorAll('#recent-uploads tr[data-state=stored]').length === 2")


def test_the_page_comes_back_when_told_s3_is_unreachable(page, live_server, s3_bucket, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """While S3 cannot be reached the complete call answers 503 with Retry-After
    (ADR 0013); the page waits that long and asks again instead of failing the file."""
    bucket_configure(create=False, origins=[live_server.url], queue_arn=None, abort_after_days=2)
    make_staff_user("carol")
    path = tmp_path / "during-an-outage.pdf"
    path.write_bytes(os.urandom(50 * KiB))
    sign_in(page, live_server.url, "carol")
    answered: list[int] = []

    def outage_once(route) -> None:  # type: ignore[no-untyped-def]
        if not answered:
            answered.append(503)
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body='{"message": "File storage is not reachable right now.", "code": "storage_unavailable"}',
            )
        else:
            answered.append(0)
            route.continue_()

    page.route("**/api/s3/complete?*", outage_once)
    page.locator(".uppy-Dashboard-input").first.set_input_files([str(path)])
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function(
        "document.getElementById('upload-announcer').textContent.includes('uploaded')", timeout=60_000
    )

    assert page.locator("#upload-announcer").text_content() == "1 uploaded, 0 failed."
    assert answered == [503, 0], "one 503, then the same call again"
    assert Upload.objects.get().state == UploadState.STORED
