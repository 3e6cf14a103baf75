"""Every staff page, with data in its tables (long file and portal names, several rows),
at desktop and phone width: no serious or critical axe-core violation, nothing wider
than the viewport, a screenshot under var/screenshots/ (tests/support/page_quality.py).
And the flows the pages promise: destructive actions ask first, cancel keeps things as
they were, a disabled portal can be re-opened, a tag shows in the file list's filter."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.support.documents import make_image
from tests.support.page_quality import check_page
from uploader import s3
from uploader.audit.models import AuditEntry
from uploader.portals import tokens as portal_tokens
from uploader.portals.models import Portal
from uploader.portals.services import portal_create, portal_update
from uploader.uploads import file_notes
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONG_PORTAL = "Harbourside Accountancy and Bookkeeping Partners — year-end documents 2025/2026"
LONG_FILE = "Quarterly-VAT-return-supporting-evidence-with-all-receipts-scanned-and-annotated-Q3-2025-final-v2.pdf"


@pytest.fixture
def business(live_server, s3_bucket, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An admin, two portals (one with a long name, one disabled), files that arrived
    through a portal and from staff, with a note, tags and audit entries."""
    settings.INTAKE_PORTAL_RATE_PAGE = (100_000, 60)
    settings.INTAKE_PORTAL_RATE_API = (100_000, 60)
    admin = make_staff_user("administrator-with-a-rather-long-user-name")
    admin.is_superuser = True
    admin.save()
    portal = portal_create(
        actor=admin, name=LONG_PORTAL, processing=["thumbnails"], max_file_bytes="25 MiB", max_total_bytes="1 GiB"
    )
    closed = portal_create(actor=admin, name="Old tax year")
    portal_update(actor=admin, portal=closed, title="Old tax year", is_active=False)
    token = portal_tokens.token_for(portal.token_nonce)
    client = visitor_client()
    enter(client, token, name="Henrietta Longname-Client", email="henrietta.longname-client@example-client-domain.test")
    upload_file(client, token, b"%PDF-1.4 evidence", filename=LONG_FILE, type_="application/pdf")
    upload_file(client, token, make_image((640, 400), fmt="PNG"), filename="harbour view.png", type_="image/png")
    upload_file(client, token, b"plain text notes", filename="notes.txt", type_="text/plain")
    for n in range(3):
        Upload.objects.create(
            owner=admin, original_filename=f"staff draft {n} {'x' * 40}.docx", key=f"uploads/staff/2025/01/{uuid.uuid4()}/f",
            declared_size=3 * 1024 * 1024 + n, declared_content_type="application/msword", state=UploadState.REGISTERED,
        )  # fmt: skip
    long_file = Upload.objects.get(original_filename=LONG_FILE)
    file_notes.upload_set_note(actor=admin, upload=long_file, note="Checked against the bank statement.\nKeep for 7 years.")
    file_notes.upload_add_tag(actor=admin, upload=long_file, tag="vat-return")
    file_notes.upload_add_tag(actor=admin, upload=long_file, tag="evidence")
    return {"admin": admin, "portal": portal, "closed": closed, "file": long_file}


def test_every_staff_page_reads_well(sized_page, live_server, business) -> None:  # type: ignore[no-untyped-def]
    page = sized_page
    base = live_server.url
    sign_in(page, base, business["admin"].username)
    portal, upload = business["portal"], business["file"]
    pages = [
        ("staff-home", "/"),
        ("staff-files", "/uploads/"),
        ("staff-files-tagged", "/uploads/?tag=vat-return"),
        ("staff-file", f"/uploads/{upload.pk}/"),
        ("staff-file-delete-confirm", f"/uploads/{upload.pk}/delete"),
        ("staff-audit", "/audit/"),
        ("staff-stats", "/stats/"),
        ("staff-portals", "/portals/"),
        ("staff-portal", f"/portals/{portal.pk}/"),
        ("staff-portal-disabled", f"/portals/{business['closed'].pk}/"),
        ("staff-portal-new", "/portals/new"),
        ("staff-portal-edit", f"/portals/{portal.pk}/edit"),
        ("staff-portal-disable-confirm", f"/portals/{portal.pk}/disable"),
        ("staff-events", "/events/"),
        ("staff-events-doctor", "/events/doctor"),
        ("staff-admin", "/admin/"),
    ]
    for name, path in pages:
        answer = page.goto(base + path)
        assert answer is not None, path
        assert answer.status == 200, (path, answer.status)
        page.wait_for_load_state("load")
        check_page(page, name)
    # The tagged list shows the tagged file only.
    page.goto(base + "/uploads/?tag=vat-return")
    assert page.locator("#browse-results tr[data-upload-id]").count() == 1


def test_download_all_page_reads_well(sized_page, live_server, business) -> None:  # type: ignore[no-untyped-def]
    page = sized_page
    sign_in(page, live_server.url, business["admin"].username)
    page.goto(f"{live_server.url}/portals/{business['portal'].pk}/")
    page.locator("[data-download-all]").click()
    page.wait_for_selector("[data-download-links]")
    assert page.locator("[data-download-link]").count() == 3
    check_page(page, "staff-portal-download-all")


def test_deleting_a_file_asks_first_and_cancel_keeps_it(page, live_server, business) -> None:  # type: ignore[no-untyped-def]
    upload = business["file"]
    sign_in(page, live_server.url, business["admin"].username)
    page.goto(f"{live_server.url}/uploads/{upload.pk}/")
    page.get_by_role("link", name="Delete this file…").click()
    page.wait_for_selector("[data-confirm]")
    assert "cannot be undone" in page.locator("[data-confirm-message]").text_content()
    page.get_by_role("link", name="Cancel, keep the file").click()
    page.wait_for_url(f"{live_server.url}/uploads/{upload.pk}/")
    assert Upload.objects.get(pk=upload.pk).state == UploadState.STORED
    assert s3.head_object_or_none(key=upload.key) is not None

    page.get_by_role("link", name="Delete this file…").click()
    page.get_by_label("Why").fill("sent to the wrong business")
    page.get_by_role("button", name="Delete the file").click()
    page.wait_for_url(f"{live_server.url}/uploads/{upload.pk}/")
    assert page.get_by_text("The file was deleted.").count() == 1
    assert Upload.objects.get(pk=upload.pk).state == UploadState.DELETED
    assert s3.head_object_or_none(key=upload.key) is None
    [entry] = AuditEntry.objects.filter(upload=upload, action="upload.deleted_by_staff")
    assert entry.detail["reason"] == "sent to the wrong business"
    assert page.locator('tr[data-action="upload.deleted_by_staff"]').count() == 1
    assert page.get_by_role("link", name="Delete this file…").count() == 0


def test_disabling_a_portal_asks_first_and_it_can_be_reopened(page, live_server, business) -> None:  # type: ignore[no-untyped-def]
    portal = business["portal"]
    sign_in(page, live_server.url, business["admin"].username)
    page.goto(f"{live_server.url}/portals/{portal.pk}/")
    page.get_by_role("link", name="Disable…").click()
    page.wait_for_selector("[data-confirm]")
    page.get_by_role("link", name="Cancel, keep it open").click()
    page.wait_for_url(f"{live_server.url}/portals/{portal.pk}/")
    assert Portal.objects.get(pk=portal.pk).is_active

    page.get_by_role("link", name="Disable…").click()
    page.get_by_role("button", name="Disable the portal").click()
    page.wait_for_url(f"{live_server.url}/portals/{portal.pk}/")
    assert not Portal.objects.get(pk=portal.pk).is_active

    page.get_by_role("link", name="Re-open…").click()
    page.get_by_role("button", name="Re-open the portal").click()
    page.wait_for_url(f"{live_server.url}/portals/{portal.pk}/")
    assert page.get_by_text("Portal re-opened.").count() == 1
    assert Portal.objects.get(pk=portal.pk).is_active
    assert AuditEntry.objects.filter(action="portal.reopened").count() == 1

    # A new link asks first too.
    nonce = Portal.objects.get(pk=portal.pk).token_nonce
    page.get_by_role("link", name="Make a new link…").click()
    page.get_by_role("link", name="Cancel, keep the current link").click()
    assert Portal.objects.get(pk=portal.pk).token_nonce == nonce


def test_a_tag_added_on_a_files_page_filters_the_list(page, live_server, business) -> None:  # type: ignore[no-untyped-def]
    other = Upload.objects.get(original_filename="notes.txt")
    sign_in(page, live_server.url, business["admin"].username)
    page.goto(f"{live_server.url}/uploads/{other.pk}/")
    page.get_by_label("Add a tag").fill("Meeting notes")
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_selector('[data-tag="meeting-notes"]')
    page.goto(f"{live_server.url}/uploads/")
    page.get_by_label("Tag").select_option("meeting-notes")
    page.wait_for_function("document.querySelectorAll('#browse-results tr[data-upload-id]').length === 1")
    assert page.locator("#browse-results").get_by_role("link", name="notes.txt").count() == 1
    assert "tag=meeting-notes" in page.url
