"""The 'download all as a zip' pages at desktop and phone width: asked for from a
portal's page, made (the worker runs eagerly in tests), ready to download; and a zip
still being made, whose status htmx polls until it is ready."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.browser.test_staff_pages_quality import business  # noqa: F401 - the fixture
from tests.browser.test_staff_upload import sign_in
from tests.support.page_quality import check_page
from uploader.bundles.models import Bundle, BundleState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_zip_pages_read_well(sized_page, live_server, business) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = sized_page
    sign_in(page, live_server.url, business["admin"].username)
    page.goto(f"{live_server.url}/portals/{business['portal'].pk}/")
    page.locator("[data-download-zip]").click()
    page.wait_for_selector('[data-bundle-state="ready"]')
    assert page.locator("[data-bundle-download]").count() == 1
    check_page(page, "staff-bundle-ready")

    # A zip still being made: the status shows progress and is polled until it is ready.
    ready = Bundle.objects.get()
    building = Bundle.objects.create(
        created_by=business["admin"], portal=business["portal"], upload_ids=ready.upload_ids, filename=ready.filename,
        state=BundleState.BUILDING, files_total=3, files_done=1, bytes_total=3_000_000, bytes_done=1_200_000,
        left_out=1, expires_at=timezone.now() + dt.timedelta(hours=1),
    )  # fmt: skip
    page.goto(f"{live_server.url}/bundles/{building.pk}/")
    assert page.locator("progress").count() == 1
    check_page(page, "staff-bundle-building")
    Bundle.objects.filter(pk=building.pk).update(
        state=BundleState.READY, key=ready.key, size=ready.size, files_done=3, bytes_done=3_000_000
    )
    page.wait_for_selector('[data-bundle-state="ready"]', timeout=10_000)
    assert page.locator("progress").count() == 0
