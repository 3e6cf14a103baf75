"""An admin opens the stats page in Chromium (Chart.js draws the charts from the
page's JSON), switches the period, then filters the audit trail by action."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from tests.support.rollup import count_in_rollup
from uploader.access.accounts import user_set_role
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _stored(at: datetime.datetime, content_type: str) -> None:
    upload_id = uuid.uuid4()
    upload = Upload.objects.create(
        id=upload_id,
        original_filename="f",
        key=f"uploads/staff/{upload_id}/f",
        declared_content_type=content_type,
        state=UploadState.STORED,
        stored_size=2048,
        stored_at=at,
    )
    count_in_rollup(upload)


def _chart_points(page, canvas_id: str) -> list[int]:  # type: ignore[no-untyped-def]
    return page.evaluate(f"Chart.getChart(document.getElementById('{canvas_id}')).data.datasets[0].data")  # type: ignore[no-any-return]


def test_an_admin_reads_the_charts_switches_period_and_filters_the_audit_trail(page, live_server) -> None:  # type: ignore[no-untyped-def]
    admin = make_staff_user("dora")
    user_set_role(user=admin, role=Role.ADMIN, source="test")
    now = timezone.now()
    _stored(now - datetime.timedelta(minutes=3), "image/png")
    _stored(now - datetime.timedelta(minutes=2), "application/pdf")
    _stored(now - datetime.timedelta(days=20), "application/pdf")
    AuditEntry(action="portal.created", actor_label="erin", detail={"name": "Acme"}).save()
    AuditEntry(action="upload.stored", actor_label="s3-event").save()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    sign_in(page, live_server.url, "dora")
    page.get_by_role("link", name="Stats").click()
    page.wait_for_url(f"{live_server.url}/stats/")
    page.wait_for_function(
        "window.Chart !== undefined && Chart.getChart(document.getElementById('chart-by-day')) !== undefined"
    )
    box = page.locator("#chart-by-day").bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 100
    assert page.evaluate("Chart.getChart(document.getElementById('chart-by-kind')) !== undefined")
    assert page.evaluate("Chart.getChart(document.getElementById('chart-by-state')) !== undefined")
    points = _chart_points(page, "chart-by-day")
    assert (len(points), sum(points), points[-1]) == (30, 3, 2)
    assert page.locator("[data-total-files]").text_content() == "3"

    page.get_by_role("navigation", name="Period").get_by_role("link", name="Last 7 days").click()
    page.wait_for_url(f"{live_server.url}/stats/?days=7")
    page.wait_for_function("Chart.getChart(document.getElementById('chart-by-day')) !== undefined")
    points = _chart_points(page, "chart-by-day")
    assert (len(points), sum(points)) == (7, 2)
    assert page.get_by_role("link", name="Last 7 days").get_attribute("aria-current") == "page"
    assert page.locator("[data-total-files]").text_content() == "2"

    page.get_by_role("link", name="Audit").click()
    page.wait_for_url(f"{live_server.url}/audit/")
    page.get_by_label("Action").fill("portal.")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(f"{live_server.url}/audit/?action=portal.**")
    actions = page.locator("[data-audit-entries] tbody tr").evaluate_all("rows => rows.map(row => row.dataset.action)")
    assert actions == ["portal.created"]
    assert "action=portal." in (page.get_by_role("link", name="Download CSV").get_attribute("href") or "")
    assert errors == []
