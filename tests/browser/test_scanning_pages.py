"""The scan state on the staff pages (Chromium, both widths, axe and overflow checks):
an infected file's page and a file the scanner could not scan, as an admin sees them,
and the file list with both."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from tests.support.page_quality import check_page
from uploader.uploads.models import ScanState, Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _stored(owner, name: str, scan_state: str, detail: str, quarantine_key: str = "") -> Upload:  # type: ignore[no-untyped-def]
    # Fixture rows, written as a restored backup would be: the scan state's writer is
    # what the integration tests exercise (tests/integration/test_scanning.py).
    key = f"uploads/staff/2026/12/{uuid.uuid4()}/{name}"
    return Upload.objects.create(
        owner=owner, original_filename=name, key=key, declared_size=68, stored_size=68,
        declared_content_type="text/plain", state=UploadState.STORED, scan_state=scan_state, scan_detail=detail,
        quarantine_key=quarantine_key,
    )  # fmt: skip


def test_an_admin_sees_the_scan_state_and_its_actions(sized_page, live_server, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    admin = make_staff_user(f"ada{uuid.uuid4().hex[:4]}")
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    infected = _stored(
        admin, "invoice.txt", ScanState.INFECTED, "Intake.Test.EICAR.UNOFFICIAL", quarantine_key="quarantine/x"
    )
    held = _stored(admin, "archive.zip", ScanState.UNSCANNABLE, "an encrypted archive or document")
    page = sized_page
    sign_in(page, live_server.url, admin.username)

    page.goto(f"{live_server.url}/uploads/")
    assert page.locator(f'tr[data-upload-id="{infected.pk}"] [data-scan-state="infected"]').count() == 1
    assert page.locator(f'tr[data-upload-id="{infected.pk}"] button').count() == 0  # no download
    check_page(page, "files with scan states")

    page.goto(f"{live_server.url}/uploads/{infected.pk}/")
    assert page.get_by_role("button", name="Download from quarantine").count() == 1
    assert page.get_by_role("button", name="Download", exact=True).count() == 0
    check_page(page, "infected file")

    page.goto(f"{live_server.url}/uploads/{held.pk}/")
    page.get_by_label("Release without a scan, because").fill("the client sent the password by phone")
    check_page(page, "file the scanner could not scan")
    page.get_by_role("button", name="Release").click()
    page.wait_for_url(f"{live_server.url}/uploads/{held.pk}/")
    assert page.locator('[data-scan-state="released"]').count() == 1
