"""A client works through a document request's checklist in Chromium (phone and
desktop widths): proves who they are with the code e-mailed to them, opens it, sends a file for one item, sees it waiting for review; then
staff open the request's page. Both pages pass the page-quality checks (axe-core, no
horizontal overflow, screenshots under var/screenshots/)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core import mail

from tests.browser.test_staff_upload import sign_in
from tests.conftest import TEST_PASSWORD, make_staff_user
from tests.support.page_quality import check_page
from uploader.ops.bucket_setup import bucket_configure
from uploader.requests import tokens
from uploader.requests.models import DocumentRequest, ItemState, RequestItem, RequestTemplate, TemplateItem
from uploader.requests.services import ItemSpec, request_create
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KiB = 1024


def test_client_sends_an_item_from_the_checklist_and_staff_see_it(
    sized_page, live_server, s3_bucket, tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    page = sized_page
    # Counts live in Redis when it is there and outlast a run: this test is not about them.
    settings.INTAKE_REQUEST_RATE_CODE_EMAIL = (100_000, 60)
    settings.INTAKE_REQUEST_RATE_CODE_ADDRESS = (100_000, 60)
    settings.INTAKE_REQUEST_RATE_CODE_CHECK = (100_000, 60)
    bucket_configure(create=False, origins=[live_server.url], queue_arn=None, abort_after_days=2)
    staff = make_staff_user(f"erin-{page.viewport_name}")
    document_request = request_create(
        actor=staff,
        client_name="Beth Baker",
        client_emails=["beth@example.test"],
        company="Baker & Sons",
        items=[
            ItemSpec(
                title="P60 for 2025",
                instructions="Your employer gives you this after the tax year ends. A photo of the paper copy is fine.",
                allowed_extensions=(".pdf", ".jpg"),
                max_files=1,
            ),
            ItemSpec(title="Bank statements, January to March", instructions="All three months, from every account."),
            ItemSpec(title="Anything else we should know about", required=False),
        ],
    )
    token = tokens.token_for(document_request.token_nonce)
    p60 = RequestItem.objects.get(request=document_request, title="P60 for 2025")
    document = tmp_path / "p60 2025.pdf"
    document.write_bytes(os.urandom(120 * KiB))

    # The client proves who they are: an address of the request, then the code e-mailed to it.
    page.goto(f"{live_server.url}/r/{token}/")
    assert page.locator("h1").text_content() == "Confirm it is you"
    check_page(page, "request-code-email")
    page.get_by_label("Your e-mail address").fill("beth@example.test")
    page.get_by_role("button", name="E-mail me a code").click()
    page.wait_for_url(f"{live_server.url}/r/{token}/code/")
    assert page.locator("h1").text_content() == "Enter your code"
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert code is not None
    assert mail.outbox[-1].to == ["beth@example.test"]
    page.get_by_label("Code").fill("000000" if code.group(1) != "000000" else "111111")
    page.get_by_role("button", name="Open my documents").click()
    assert page.get_by_role("alert").text_content().startswith("That code is not right")
    check_page(page, "request-code-enter-wrong")
    page.get_by_label("Code").fill(code.group(1))
    page.get_by_role("button", name="Open my documents").click()
    page.wait_for_url(f"{live_server.url}/r/{token}/")
    assert page.locator("h1").text_content() == "Hello Beth Baker"
    assert page.locator(".checklist-item").count() == 3
    check_page(page, "request-checklist")

    page.get_by_role("link", name="Send files for P60 for 2025").click()
    page.wait_for_url(f"{live_server.url}/r/{token}/items/{p60.pk}/")
    assert "Accepted file names end in .pdf, .jpg." in page.locator(".limits").text_content()
    check_page(page, "request-item")
    page.locator(".uppy-Dashboard-input").first.set_input_files([str(document)])
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function(
        "document.getElementById('upload-announcer').textContent.includes('uploaded')", timeout=120_000
    )
    assert page.locator("#upload-announcer").text_content() == "1 uploaded, 0 failed."
    # Only a screenshot here: Uppy's own list of files has an ARIA role axe-core flags.
    check_page(page, "request-item-uploaded")

    page.get_by_role("link", name="Done — back to the checklist").click()
    sent = page.locator(f"#item-{p60.pk}")
    assert sent.locator(".item-state").text_content() == "Sent, waiting for review"
    assert sent.locator(".item-files .filename").all_text_contents() == ["p60 2025.pdf"]
    check_page(page, "request-checklist-after-upload")
    upload = Upload.objects.get(request_item=p60)
    assert upload.state == UploadState.STORED
    p60.refresh_from_db()
    assert p60.state == ItemState.SUBMITTED

    sign_in(page, live_server.url, staff.username)
    page.goto(f"{live_server.url}/requests/")
    page.get_by_label("Client").fill("baker & sons")
    page.get_by_role("button", name="Show").click()
    assert page.locator("#requests tbody tr").count() == 1
    check_page(page, "staff-requests-list")
    page.goto(f"{live_server.url}/requests/{document_request.pk}/")
    review = page.locator(f"#item-{p60.pk}")
    assert review.get_by_role("link", name="p60 2025.pdf").get_attribute("href") == f"/uploads/{upload.id}/"
    assert review.get_by_role("button", name="Accept P60 for 2025").is_visible()
    check_page(page, "staff-request-page")

    template = RequestTemplate.objects.create(name="Annual tax return pack")
    TemplateItem.objects.create(template=template, title="P60 for 2025", allowed_extensions=[".pdf"], max_files=1)
    page.goto(f"{live_server.url}/requests/new?template={template.pk}")
    assert page.get_by_label("Title").first.input_value() == "P60 for 2025"
    check_page(page, "staff-new-request")

    # Staff change the request after it is made.
    page.goto(f"{live_server.url}/requests/{document_request.pk}/")
    page.get_by_role("link", name="Edit the request").click()
    page.wait_for_url(f"{live_server.url}/requests/{document_request.pk}/edit")
    page.get_by_label("Due date").first.fill("2031-04-30")
    page.get_by_label("While overdue, remind every (days)").fill("3")
    check_page(page, "staff-request-edit")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"{live_server.url}/requests/{document_request.pk}/")
    assert "30 Apr 2031" in page.locator(".facts").text_content()
    assert "every 3 days while overdue" in page.locator("#reminder-schedule").text_content()


def test_admins_manage_request_templates_on_staff_pages(sized_page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = sized_page
    get_user_model().objects.create_superuser(f"root-{page.viewport_name}", "root@example.test", TEST_PASSWORD)
    template = RequestTemplate.objects.create(name="Annual tax return pack", description="Every spring.")
    TemplateItem.objects.create(template=template, title="P60 for 2025", allowed_extensions=[".pdf"], max_files=1)
    sign_in(page, live_server.url, f"root-{page.viewport_name}")
    page.goto(f"{live_server.url}/requests/")
    page.get_by_role("link", name="Templates").click()
    page.wait_for_url(f"{live_server.url}/requests/templates/")
    check_page(page, "staff-request-templates")
    page.get_by_role("link", name="Annual tax return pack", exact=True).click()
    assert page.get_by_label("Title").first.input_value() == "P60 for 2025"
    check_page(page, "staff-request-template-edit")
    page.get_by_label("Title").nth(1).fill("Photo ID")
    page.get_by_role("button", name="Save the template").click()
    page.wait_for_url(f"{live_server.url}/requests/templates/")
    assert list(template.items.values_list("title", flat=True)) == ["P60 for 2025", "Photo ID"]


def test_a_client_given_a_password_opens_the_request_with_it(sized_page, live_server, settings) -> None:  # type: ignore[no-untyped-def]
    page = sized_page
    settings.INTAKE_PORTAL_RATE_PASSWORD = (100_000, 60)
    staff = make_staff_user(f"fay-{page.viewport_name}")
    document_request = request_create(
        actor=staff, client_name="Cai Cole", client_emails=["cai@example.test"], items=[ItemSpec(title="Photo ID")]
    )
    DocumentRequest.objects.filter(pk=document_request.pk).update(password_hash=make_password("orange-kettle-42"))
    token = tokens.token_for(document_request.token_nonce)
    page.goto(f"{live_server.url}/r/{token}/")
    page.get_by_role("link", name="Use it instead").click()
    page.wait_for_url(f"{live_server.url}/r/{token}/password/")
    check_page(page, "request-password")
    page.get_by_label("Password").fill("orange-kettle-42")
    page.get_by_role("button", name="Open my documents").click()
    page.wait_for_url(f"{live_server.url}/r/{token}/")
    assert page.locator("h1").text_content() == "Hello Cai Cole"
