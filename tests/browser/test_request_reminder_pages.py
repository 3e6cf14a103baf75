"""The pages issue 16's reminders and completion add, in Chromium at phone and desktop
widths with the page-quality checks: the client's "I'll send it later" page (ask,
then thanks), and the staff request page of a complete request that waits for staff
(its next-reminder line, its close button)."""

from __future__ import annotations

import pytest

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from tests.support.page_quality import check_page
from uploader.requests import reminders, tokens
from uploader.requests.models import DocumentRequest, ItemState, RequestState
from uploader.requests.services import ItemSpec, request_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_client_pauses_reminders_and_staff_close_a_complete_request(sized_page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = sized_page
    staff = make_staff_user(f"rita-{page.viewport_name}")
    made = request_create(
        actor=staff,
        client_name="Beth Baker",
        client_emails=["beth@example.test"],
        company="Baker & Sons",
        items=[ItemSpec(title="P60 for 2025"), ItemSpec(title="Photo ID")],
        waits_for_staff=True,
    )
    token = tokens.token_for(made.token_nonce)

    page.goto(f"{live_server.url}/r/{token}/later/{reminders.later_token(made)}/")
    assert page.locator("h1").text_content() == "Will you send them later?"
    check_page(page, "request-later-ask")
    page.get_by_role("button", name="Pause reminders for 7 days").click()
    page.locator("#later-done").wait_for()
    check_page(page, "request-later-done")
    assert DocumentRequest.objects.get(pk=made.pk).reminders_paused_until is not None

    made.items.update(state=ItemState.ACCEPTED)
    sign_in(page, live_server.url, staff.username)
    page.goto(f"{live_server.url}/requests/{made.pk}/")
    assert "no required item waits for the client" in page.locator("#next-reminder").text_content()
    check_page(page, "staff-request-complete-waiting")
    page.get_by_role("button", name="Close the request and send the receipt").click()
    page.wait_for_url(f"{live_server.url}/requests/{made.pk}/")
    assert DocumentRequest.objects.get(pk=made.pk).state == RequestState.CLOSED
    assert "Request closed" in page.locator(".activity").text_content()
