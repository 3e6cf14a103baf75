"""Uppy 6's AwsS3 plugin, unmodified, in companionEndpoint mode, uploads through the
staff contract and through a portal's (ADR 0002).

The page (tests/browser/pages/uppy6.html) is not one of ours: the live server serves
it as a static file (so the calls are same-origin, as from our pages), and it sets
nothing but the plugin's options. Uppy 6 sends no custom header (no CSRF token) and
no size, so this proves the CSRF check by Sec-Fetch-Site/Origin (ADR 0004) and
size-less multipart uploads (ADR 0001) end to end. What it sends, and what it gets,
is recorded and checked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from uploader import s3
from uploader.ops.bucket_setup import bucket_configure
from uploader.portals import tokens as portal_tokens
from uploader.portals.services import portal_create
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MiB = 1024 * 1024
FILE_SIZE = 12 * MiB  # Uppy 6 cuts parts of max(5 MiB, size / 10,000): 5, 5 and 2 MiB
PAGES_PREFIX = "uppy6-test"


@pytest.fixture(autouse=True)
def _test_page(settings) -> None:  # type: ignore[no-untyped-def]
    """tests/browser/pages/ as static files: Chromium lets a page reach S3 on 127.0.0.1
    only when the page itself came from 127.0.0.1 (a page Playwright fulfils does not),
    and Django's static handler serves it with no product route. Changing the setting
    clears the finders' cache."""
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, (PAGES_PREFIX, Path(__file__).parent / "pages")]


def _upload_with_uppy6(page, live_server, endpoint: str, path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """Load the test page, upload `path`, and answer Uppy's result and every contract
    call it made (method, path, query, body, status, answer)."""
    responses = []
    page.on("response", lambda response: responses.append(response) if "/s3/" in response.url else None)
    page.goto(f"{live_server.url}{settings.STATIC_URL}{PAGES_PREFIX}/uppy6.html?{urlencode({'endpoint': endpoint})}")
    page.locator("#file").set_input_files([str(path)])
    page.wait_for_function("window.uppyDone || window.uppyError", timeout=120_000)
    result = page.evaluate("window.uppyDone || {error: window.uppyError}")
    calls = []
    for response in responses:
        if not response.url.startswith(endpoint):
            continue  # a PUT to S3
        request = response.request
        headers = request.all_headers()  # with what the network stack adds (Sec-Fetch-*)
        url = urlsplit(response.url)
        calls.append({
            "method": request.method,
            "path": url.path.removeprefix(urlsplit(endpoint).path),
            "query": parse_qs(url.query),
            "body": json.loads(request.post_data) if request.post_data else None,
            "csrf_token_sent": "x-csrftoken" in headers,
            "sec_fetch_site": headers.get("sec-fetch-site"),
            "origin": headers.get("origin"),
            "site": f"{url.scheme}://{url.netloc}",
            "status": response.status,
            "answer": response.json(),
        })
    return result, calls


def _check_what_uppy6_sent(calls: list[dict[str, Any]], path: Path) -> Upload:
    """Create, one GET per part (one after another), complete: the Companion calls,
    with no size and no token; the answers' shapes it reads are ours."""
    assert [(c["method"], c["status"]) for c in calls] == [("POST", 200), ("GET", 200), ("GET", 200), ("GET", 200), ("POST", 200)]
    create, *signs, complete = calls
    assert create["path"] == "/s3/multipart"
    # The file's meta, and no size anywhere: Uppy 6 leaves the part size to itself.
    octets = "application/octet-stream"
    assert create["body"] == {"filename": path.name, "type": octets, "metadata": {"name": path.name, "type": octets}}
    assert {"key", "uploadId"} <= set(create["answer"])
    upload = Upload.objects.get(key=create["answer"]["key"])
    assert upload.declared_size is None
    for number, sign in enumerate(signs, start=1):
        assert sign["path"] == f"/s3/multipart/{upload.multipart_upload_id}/{number}"
        assert sign["query"] == {"key": [upload.key]}
        assert set(sign["answer"]) == {"url", "expires"}  # Uppy 6 reads `url`
    assert complete["path"] == f"/s3/multipart/{upload.multipart_upload_id}/complete"
    assert complete["query"] == {"key": [upload.key]}
    assert [p["PartNumber"] for p in complete["body"]["parts"]] == [1, 2, 3]
    assert {"location", "key"} <= set(complete["answer"])  # what Uppy 6 reads
    # No token: the CSRF check passed on what Chromium says (ADR 0004), Origin on the POSTs.
    assert not any(c["csrf_token_sent"] for c in calls)
    assert {c["sec_fetch_site"] for c in calls} == {"same-origin"}
    assert [c["origin"] for c in calls] == [calls[0]["site"], None, None, None, calls[0]["site"]]
    return upload


def _check_stored(upload: Upload, path: Path) -> None:
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert upload.stored_size == FILE_SIZE
    assert upload.is_multipart
    assert upload.etag.endswith("-3")
    assert s3.get_object_bytes(key=upload.key) == path.read_bytes()


@pytest.fixture
def twelve_mib(tmp_path: Path) -> Path:
    path = tmp_path / "uppy6 video.bin"
    path.write_bytes(os.urandom(FILE_SIZE))
    return path


def test_uppy6_uploads_a_multipart_file_through_the_staff_contract(page, live_server, s3_bucket, twelve_mib: Path) -> None:  # type: ignore[no-untyped-def]
    bucket_configure(create=False, origins=[live_server.url], queue_arn=None, abort_after_days=2)
    make_staff_user("erin")
    sign_in(page, live_server.url, "erin")

    result, calls = _upload_with_uppy6(page, live_server, f"{live_server.url}/api", twelve_mib)

    assert result.get("failed") == 0, (result, calls)
    upload = _check_what_uppy6_sent(calls, twelve_mib)
    assert result["successful"] == [{"location": calls[-1]["answer"]["location"], "key": upload.key}]
    assert upload.owner is not None
    assert upload.owner.username == "erin"
    _check_stored(upload, twelve_mib)


def test_uppy6_uploads_a_multipart_file_through_a_portal(page, live_server, s3_bucket, twelve_mib: Path) -> None:  # type: ignore[no-untyped-def]
    bucket_configure(create=False, origins=[live_server.url], queue_arn=None, abort_after_days=2)
    portal = portal_create(actor=make_staff_user("fay"), name="Uppy six", max_files=2, max_total_bytes="20 MiB")
    token = portal_tokens.token_for(portal.token_nonce)
    page.goto(f"{live_server.url}/p/{token}/")
    page.get_by_label("Your name").fill("Gus Client")
    page.get_by_label("Your e-mail address").fill("gus@example.test")
    page.get_by_role("button", name="Continue to upload").click()
    page.locator(".uppy-Dashboard-input").first.wait_for(state="attached")  # identified: our page's uploader is there

    endpoint = f"{live_server.url}/p/{token}/api"
    result, calls = _upload_with_uppy6(page, live_server, endpoint, twelve_mib)

    assert result.get("failed") == 0, (result, calls)
    upload = _check_what_uppy6_sent(calls, twelve_mib)
    assert (upload.portal, upload.uploader_name, upload.uploader_email) == (portal, "Gus Client", "gus@example.test")
    assert upload.key.startswith("uploads/uppy-six/")
    assert result["successful"][0]["location"].startswith(f"{endpoint}/uploads/")
    _check_stored(upload, twelve_mib)
