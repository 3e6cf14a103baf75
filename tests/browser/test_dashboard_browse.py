"""Staff find a client's photo in the file browser (Chromium, htmx, the emulator) and see
the thumbnail that processing made load on its page."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.support.documents import make_image
from tests.support.page_quality import check_page
from uploader.audit.models import AuditEntry
from uploader.portals import tokens as portal_tokens
from uploader.portals.services import portal_create
from uploader.processing.models import Derivative
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = "document.querySelectorAll('#browse-results tr[data-upload-id]')"


def test_staff_search_filter_and_open_a_file_with_its_thumbnail(page, live_server, s3_bucket, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PORTAL_RATE_PAGE = (100_000, 60)
    settings.INTAKE_PORTAL_RATE_API = (100_000, 60)
    staff = make_staff_user("erin")
    portal = portal_create(actor=staff, name="Harbour surveys", processing=["thumbnails"])
    token = portal_tokens.token_for(portal.token_nonce)
    client = visitor_client()
    enter(client, token, name="Hal Client")
    # Processing runs when the upload commits (Celery is eager in tests).
    upload_file(client, token, make_image((800, 500), fmt="PNG"), filename="harbour view.png", type_="image/png")
    photo = Upload.objects.get(original_filename="harbour view.png")
    assert Derivative.objects.filter(upload=photo, kind="thumbnail").exists()
    for name, state in (("harbour plan.pdf", UploadState.REGISTERED), ("invoice.pdf", UploadState.STORED)):
        Upload.objects.create(
            owner=staff, original_filename=name, key=f"uploads/staff/2025/01/{uuid.uuid4()}/f", declared_size=10,
            declared_content_type="application/pdf", state=state,
        )  # fmt: skip

    sign_in(page, live_server.url, "erin")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Files").click()
    page.wait_for_url(f"{live_server.url}/uploads/")
    page.wait_for_function(f"{ROWS}.length === 3")

    page.get_by_role("searchbox", name="Search").fill("harbour")
    page.get_by_role("searchbox", name="Search").press("Enter")
    page.wait_for_function(f"{ROWS}.length === 2")
    page.wait_for_function("document.getElementById('browse-status').textContent.startsWith('2 files')")
    assert "q=harbour" in page.url  # htmx kept the address in step, so the filter can be shared

    page.get_by_label("State").select_option("stored")
    page.wait_for_function(f"{ROWS}.length === 1")
    assert page.locator("#browse-results [data-totals]").text_content().startswith("1 file,")

    page.get_by_role("link", name="harbour view.png").click()
    page.wait_for_url(f"{live_server.url}/uploads/{photo.pk}/")
    page.wait_for_function(
        "(() => { const img = document.querySelector('img.browse-thumbnail');"
        " return img !== null && img.complete && img.naturalWidth > 0; })()"
    )
    assert page.locator("img.browse-thumbnail").get_attribute("alt") == "Thumbnail of harbour view.png"
    assert page.get_by_text("Hal Client").count() >= 1

    # The list's download buttons share one form (one CSRF token per page): a row's
    # button posts to its own file, which is audited and sent to storage.
    page.goto(f"{live_server.url}/uploads/")
    page.wait_for_function(f"{ROWS}.length === 3")
    with page.expect_response(lambda response: response.url.endswith(f"/uploads/{photo.pk}/download")) as answer:
        page.get_by_role("button", name="Download harbour view.png").click()
    assert answer.value.status == 302
    assert AuditEntry.objects.filter(upload=photo, action="upload.downloaded").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL's search table counts on its own request")
def test_a_long_search_shows_its_rows_then_loads_its_count(page, live_server) -> None:  # type: ignore[no-untyped-def]
    # More than a page of matches: the page comes with its rows and "Counting the
    # files…", and htmx then loads the count into the line and the announcement.
    staff = make_staff_user("erin")
    for n in range(60):  # save() writes the search text
        Upload.objects.create(
            owner=staff, original_filename=f"survey {n:02}.pdf", key=f"uploads/staff/2025/01/{uuid.uuid4()}/f",
            declared_size=1000, declared_content_type="application/pdf", state=UploadState.STORED, stored_size=1000,
        )  # fmt: skip
    sign_in(page, live_server.url, "erin")
    page.goto(f"{live_server.url}/uploads/?q=survey")
    page.wait_for_function(f"{ROWS}.length === 50")
    page.wait_for_function("document.querySelector('#browse-results [data-counted]') !== null")
    assert page.locator("#browse-results [data-totals]").text_content().strip().startswith("60 files,")
    assert page.locator("[data-counting]").count() == 0
    page.wait_for_function("document.getElementById('browse-status').textContent.startsWith('60 files')")
    check_page(page, "staff-search-counted")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    check_page(page, "staff-search-counted-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    # The next page, through htmx: its own count again.
    page.get_by_role("link", name="Next page →").click()
    page.wait_for_function(f"{ROWS}.length === 10")
    page.wait_for_function("document.querySelector('#browse-results [data-counted]') !== null")
    assert page.locator("#browse-results [data-totals]").text_content().strip().startswith("60 files,")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL's search table counts on its own request")
def test_a_count_that_fails_says_so_and_can_be_asked_again(page, live_server) -> None:  # type: ignore[no-untyped-def]
    staff = make_staff_user("erin")
    for n in range(60):
        Upload.objects.create(
            owner=staff, original_filename=f"survey {n:02}.pdf", key=f"uploads/staff/2025/01/{uuid.uuid4()}/f",
            declared_size=1000, declared_content_type="application/pdf", state=UploadState.STORED, stored_size=1000,
        )  # fmt: skip
    sign_in(page, live_server.url, "erin")
    # The count request answers 503 (a database that timed out, say).
    page.route("**/uploads/totals/**", lambda route: route.fulfill(status=503, body="Service Unavailable"))
    page.goto(f"{live_server.url}/uploads/?q=survey")
    page.wait_for_function(f"{ROWS}.length === 50")
    page.wait_for_function("document.querySelector('#browse-results [data-count-failed]') !== null")
    assert page.locator("[data-totals]").text_content().strip().startswith("The files could not be counted.")
    assert page.locator("#browse-status").text_content() == "The files could not be counted."
    page.unroute("**/uploads/totals/**")
    page.get_by_role("link", name="Count them again").click()  # the count as a page of its own
    page.wait_for_url("**/uploads/totals/?q=survey")
    assert page.locator("[data-totals]").text_content().strip().startswith("60 files,")
