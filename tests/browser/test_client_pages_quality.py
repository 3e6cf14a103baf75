"""Every page a client sees, at desktop and phone width, with data in it: no serious or
critical axe-core violation, nothing wider than the screen, a screenshot under
var/screenshots/. And the client flows of issue 15: the business is named (never the
portal's internal name), refusals stay until dismissed and a limit refusal offers no
Retry, the page says what is left before files are chosen, leaving with unsent files
asks first, and the confirmation lists refused files with their reasons."""

from __future__ import annotations

import io
import os
import time
import uuid
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import make_staff_user
from tests.support.page_quality import check_page
from uploader.ops.bucket_setup import bucket_configure
from uploader.portals import tokens as portal_tokens
from uploader.portals.branding import portal_set_logo
from uploader.portals.models import Portal
from uploader.portals.services import portal_create, portal_disable, portal_update
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KiB = 1024
BUSINESS = "Harbour & Finch Accountants"
CONTACT_EMAIL = "office@harbour-finch.example"
INTERNAL_NAME = "HF internal batch Q3 zz"  # staff's name for the portal: never shown to clients
LONG_NAME = (
    "Quarterly-statement-for-the-account-ending-4471-from-the-bank-of-the-north-"
    "covering-July-August-and-September-2026-final-signed-copy.pdf"
)
ANNOUNCER_DONE = "document.getElementById('upload-announcer').textContent.includes('uploaded')"
# Uppy's own messages vanish after 5 seconds (its `infoTimeout`).
UPPY_INFORMER_SECONDS = 5


@pytest.fixture
def business(settings):  # type: ignore[no-untyped-def]
    settings.INTAKE_BUSINESS_NAME = BUSINESS
    settings.INTAKE_BUSINESS_CONTACT_EMAIL = CONTACT_EMAIL
    settings.INTAKE_BUSINESS_CONTACT_PHONE = "+44 20 7946 0000"


def _portal(**options):  # type: ignore[no-untyped-def]
    staff = make_staff_user(f"staff-{uuid.uuid4().hex[:8]}")
    portal = portal_create(actor=staff, name=options.pop("name", INTERNAL_NAME), **options)
    return staff, portal, portal_tokens.token_for(portal.token_nonce)


def _file(tmp_path: Path, name: str, size: int) -> str:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return str(path)


def _identify(page, base: str, token: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/p/{token}/")
    page.get_by_label("Your name").fill("Beth Baker")
    page.get_by_label("Your e-mail address").fill("beth@example.test")
    page.get_by_role("button", name="Continue to upload").click()
    page.wait_for_selector(".uppy-Dashboard-input", state="attached")


def _choose(page, *paths: str) -> None:  # type: ignore[no-untyped-def]
    """Choose files as a client does: through the file input, opening "Add more" when
    files are already listed (Uppy then shows its input only in that panel)."""
    if not page.locator(".uppy-Dashboard-input").count():
        page.locator(".uppy-DashboardContent-addMore").click()
    page.locator(".uppy-Dashboard-input").first.set_input_files(list(paths))


def _assert_business_not_internal_name(page) -> None:  # type: ignore[no-untyped-def]
    text = page.locator("body").inner_text()
    assert BUSINESS in text
    assert INTERNAL_NAME not in page.content()


def test_every_client_page_passes_axe_and_fits(sized_page, live_server, s3_bucket, business, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = sized_page
    base = live_server.url
    bucket_configure(create=False, origins=[base], queue_arn=None, abort_after_days=2)
    staff, portal, token = _portal(
        title="Your 2026 tax documents",
        welcome_message="Please send your receipts and bank statements for the third quarter.",
        brand_colour="#0b6e4f",
        password="harbour-2026",
        max_files=4,
        max_total_bytes="1 MiB",
        max_file_bytes="512 KiB",
        allowed_extensions=".pdf, .txt",
    )
    logo = io.BytesIO()
    Image.new("RGB", (900, 300), "#f3c623").save(logo, format="PNG")
    portal_set_logo(actor=staff, portal=portal, upload=io.BytesIO(logo.getvalue()), size=logo.tell())
    _, closed, closed_token = _portal(name="HF closed zz", title="Old link")
    portal_disable(actor=staff, portal=closed)

    # A closed link, and one that never existed: both say whom to ask.
    page.goto(f"{base}/p/{closed_token}/")
    assert page.get_by_role("heading", name="This upload link is closed").is_visible()
    assert CONTACT_EMAIL in page.locator(".contact-ask").inner_text()
    assert "HF closed zz" not in page.content()
    check_page(page, "client-closed-link")
    page.goto(f"{base}/p/{portal_tokens.token_for(portal_tokens.new_nonce())}/")
    assert CONTACT_EMAIL in page.locator(".contact-ask").inner_text()
    check_page(page, "client-link-not-found")

    page.goto(f"{base}/p/{token}/")
    _assert_business_not_internal_name(page)
    assert page.get_by_role("img", name=BUSINESS).is_visible()  # the logo, named for the business
    page.wait_for_function("document.querySelector('.portal-logo').complete")
    check_page(page, "client-password")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Continue").click()
    check_page(page, "client-password-wrong")
    page.get_by_label("Password").fill("harbour-2026")
    page.get_by_role("button", name="Continue").click()

    page.get_by_role("button", name="Continue to upload").click()  # nothing filled in
    assert page.get_by_role("alert").is_visible()
    check_page(page, "client-identify-errors")
    assert f"So {BUSINESS} knows who the files are from." in page.locator("main").inner_text()
    _assert_business_not_internal_name(page)
    page.get_by_label("Your name").fill("Beth Baker-Lindqvist")
    page.get_by_label("Your e-mail address").fill("beth@example.test")
    page.get_by_role("button", name="Continue to upload").click()

    page.wait_for_selector(".uppy-Dashboard-input", state="attached")
    assert page.locator("#allowance").inner_text() == "Still open on this link: 1 MiB and 4 files left."
    assert "Each file can be up to 512 KiB." in page.locator(".limits").inner_text()
    _assert_business_not_internal_name(page)
    check_page(page, "client-upload")

    _choose(page, _file(tmp_path, LONG_NAME, 100 * KiB))
    page.wait_for_selector(".uppy-Dashboard-Item")
    # The file's card shows its size the one way (Uppy alone would say "102 KB").
    page.wait_for_function("document.querySelector('.uppy-Dashboard-Item-statusSize').textContent === '100 KiB'")
    check_page(page, "client-upload-file-chosen")

    _choose(page, _file(tmp_path, "scanned-contract-all-pages-2026.pdf", 600 * KiB))
    refusal = page.locator("#refusal-list li")
    assert refusal.inner_text().startswith("scanned-contract-all-pages-2026.pdf")
    assert "It is 600 KiB; one file can be at most 512 KiB." in refusal.inner_text()
    check_page(page, "client-upload-refusal")

    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function(ANNOUNCER_DONE, timeout=120_000)
    assert page.locator("#upload-announcer").text_content() == "1 uploaded, 0 failed."
    # What is left counts what was just sent.
    assert page.locator("#allowance").inner_text() == "Still open on this link: 924 KiB and 3 files left."
    check_page(page, "client-upload-sent")

    # A file the server refused after storing it (its total was overshot by a client that
    # sent no size): a rejected row with its reason, from this visitor.
    stored = Upload.objects.get(portal=portal, state=UploadState.STORED)
    Upload.objects.create(
        portal=portal, portal_visitor=stored.portal_visitor, original_filename="Bank-export-" + "x" * 90 + ".txt",
        key=f"uploads/{portal.slug}/{uuid.uuid4()}/f", declared_content_type="text/plain",
        state=UploadState.REJECTED, rejection_reason="this link's total would be 1.2 MiB, over its 1 MiB limit",
    )  # fmt: skip

    page.get_by_role("link", name="Finished — see what arrived").click()
    page.wait_for_url(f"{base}/p/{token}/done")
    assert page.locator(".arrived .filename").all_inner_texts() == [LONG_NAME]
    assert "(100 KiB)" in page.locator(".arrived").inner_text()
    page.locator(".refused li").nth(1).wait_for()  # the one refused in this browser, added by client-done.js
    refused = page.locator(".refused li").all_inner_texts()
    assert any(r.startswith("Bank-export-") and "over its 1 MiB limit" in r for r in refused)
    assert any(r.startswith("scanned-contract-all-pages-2026.pdf") and "at most 512 KiB" in r for r in refused)
    _assert_business_not_internal_name(page)
    check_page(page, "client-done")


def test_a_refusal_stays_until_dismissed_and_a_limit_refusal_offers_no_retry(
    page, live_server, s3_bucket, business, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    bucket_configure(create=False, origins=[base], queue_arn=None, abort_after_days=2)
    staff, portal, token = _portal(
        title="Your documents", max_files=3, max_total_bytes="300 KiB", max_file_bytes="100 KiB"
    )
    _identify(page, base, token)
    # Before anything is chosen, the page says what is left.
    assert page.locator("#allowance").inner_text() == "Still open on this link: 300 KiB and 3 files left."

    _choose(page, _file(tmp_path, "too-big.pdf", 150 * KiB))
    refusals = page.locator("#refusal-list li")
    assert refusals.count() == 1
    assert "It is 150 KiB; one file can be at most 100 KiB." in refusals.first.inner_text()
    page.wait_for_timeout((UPPY_INFORMER_SECONDS + 1.5) * 1000)
    assert refusals.first.is_visible()  # still there, long after Uppy's message would have gone

    # The link's total shrinks after the page was loaded: the server refuses the file when
    # it is registered. Final: listed with the server's reason, taken out, no Retry.
    portal_update(actor=staff, portal=Portal.objects.get(pk=portal.pk), max_total_bytes="50 KiB")
    _choose(page, _file(tmp_path, "fits-the-page.pdf", 80 * KiB))
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function("document.querySelectorAll('#refusal-list li').length === 2", timeout=60_000)
    server_refusal = refusals.nth(1).inner_text()
    assert server_refusal.startswith("fits-the-page.pdf")
    assert "only 50 KiB of the 50 KiB this link accepts in total is left" in server_refusal
    page.wait_for_function("window.intakeUppy.getFiles().length === 0")
    assert page.get_by_role("button", name="Retry").count() == 0
    assert page.locator("[class*='retry']").count() == 0

    page.get_by_role("button", name="Dismiss the message about too-big.pdf").click()
    assert refusals.count() == 1
    assert refusals.first.inner_text().startswith("fits-the-page.pdf")
    page.get_by_role("button", name="Dismiss the message about fits-the-page.pdf").click()
    assert page.locator("#refusals").is_hidden()

    # The confirmation still lists both (dismissing hides a message, not the fact).
    page.get_by_role("link", name="Finished — see what arrived").click()
    page.wait_for_url(f"{base}/p/{token}/done")
    page.locator(".refused li").nth(1).wait_for()
    refused = page.locator(".refused li").all_inner_texts()
    assert [r.split()[0] for r in refused] == ["too-big.pdf", "fits-the-page.pdf"]


def test_leaving_with_unsent_files_asks_first(page, live_server, s3_bucket, business, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    bucket_configure(create=False, origins=[base], queue_arn=None, abort_after_days=2)
    _, _, token = _portal(title="Your documents")
    _identify(page, base, token)
    finish = page.get_by_role("link", name="Finished — see what arrived")
    # Not the main action: Upload is (a bordered secondary link, not the brand-filled button).
    assert "secondary-button" in (finish.get_attribute("class") or "")
    assert "brand-fill" not in (finish.get_attribute("class") or "")

    page.get_by_role("heading", name="Your files").click()  # Chromium asks on leaving only after a gesture
    _choose(page, _file(tmp_path, "not-sent-yet.pdf", 20 * KiB))
    page.wait_for_selector(".uppy-Dashboard-Item")

    dialogs: list[tuple[str, str]] = []

    def stay(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append((dialog.type, dialog.message))
        dialog.dismiss()

    page.on("dialog", stay)
    finish.click()
    assert dialogs == [("confirm", "1 file is chosen but not sent. Leave without sending it?")]
    assert page.url == f"{base}/p/{token}/"

    page.close(run_before_unload=True)
    deadline = time.monotonic() + 10
    while len(dialogs) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert [kind for kind, _ in dialogs] == ["confirm", "beforeunload"]
    assert not page.is_closed()  # dismissing the question kept the page
    page.remove_listener("dialog", stay)

    # Saying yes leaves for the confirmation, without asking twice.
    def leave(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    page.on("dialog", leave)
    finish.click()
    page.wait_for_url(f"{base}/p/{token}/done")
    assert [kind for kind, _ in dialogs] == ["confirm", "beforeunload", "confirm"]
