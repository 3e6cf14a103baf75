"""A multipart upload interrupted by a page reload resumes where S3 left off."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from uploader import s3
from uploader.ops.bucket_setup import bucket_configure
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MiB = 1024 * 1024


def _part_number(url: str) -> int | None:
    query = parse_qs(urlsplit(url).query)
    return int(query["partNumber"][0]) if "partNumber" in query and "X-Amz-Signature" in query else None


def test_reload_mid_upload_resumes_without_resending_stored_parts(page, live_server, s3_bucket, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PART_SIZE_BYTES = 8 * MiB
    bucket_configure(create=False, origins=[live_server.url], queue_arn=None, abort_after_days=2)
    make_staff_user("dave")
    data = os.urandom(20 * MiB)  # parts of 8, 8 and 4 MiB
    path = tmp_path / "resume-me.bin"
    path.write_bytes(data)

    sign_in(page, live_server.url, "dave")
    held = []  # parts 2 and 3 hang until the page goes away

    def hold_later_parts(route) -> None:  # type: ignore[no-untyped-def]
        if _part_number(route.request.url) == 1:
            route.continue_()
        else:
            held.append(route)

    page.route(lambda url: _part_number(url) is not None, hold_later_parts)
    page.locator(".uppy-Dashboard-input").first.set_input_files([str(path)])
    page.locator(".uppy-StatusBar-actionBtn--upload").click()

    upload = None
    for _ in range(200):  # until S3 holds part 1
        upload = Upload.objects.filter(original_filename="resume-me.bin").first()
        if upload and upload.multipart_upload_id and s3.list_parts(key=upload.key, upload_id=upload.multipart_upload_id):
            break
        page.wait_for_timeout(100)
    assert upload is not None
    assert [p.part_number for p in s3.list_parts(key=upload.key, upload_id=upload.multipart_upload_id)] == [1]

    sent_after_reload: list[int] = []
    page.reload()  # the held part uploads die with the page
    page.unroute_all(behavior="ignoreErrors")

    def record_part(request) -> None:  # type: ignore[no-untyped-def]
        if (number := _part_number(request.url)) is not None:
            sent_after_reload.append(number)

    page.on("request", record_part)
    assert len(held) >= 1
    # Golden Retriever restored the file and its multipart state; resume it.
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function(
        "document.getElementById('upload-announcer').textContent.includes('uploaded')", timeout=120_000
    )
    assert page.locator("#upload-announcer").text_content() == "1 uploaded, 0 failed."

    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert Upload.objects.filter(original_filename="resume-me.bin").count() == 1, "resumed, not restarted"
    assert sorted(sent_after_reload) == [2, 3], "part 1 was not sent again"
    assert hashlib.sha256(s3.get_object_bytes(key=upload.key)).digest() == hashlib.sha256(data).digest()
