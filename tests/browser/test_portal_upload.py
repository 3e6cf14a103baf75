"""A client uploads through a password-protected portal in Chromium; staff then see
both files under that portal."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from uploader import s3
from uploader.ops.bucket_setup import bucket_configure
from uploader.portals import tokens as portal_tokens
from uploader.portals.services import portal_create
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KiB = 1024


def test_client_uploads_two_files_through_a_password_protected_portal(
    page, live_server, s3_bucket, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    bucket_configure(create=False, origins=[live_server.url], queue_arn=None, abort_after_days=2)
    staff = make_staff_user("dora")
    portal = portal_create(
        actor=staff,
        name="Baker tax return",
        title="Baker & Sons: your 2025 tax documents",
        welcome_message="Please send your receipts and bank statements.",
        brand_colour="#0b6e4f",
        password="baker-2025",
        max_files=5,
        max_file_bytes="10 MiB",
    )
    token = portal_tokens.token_for(portal.token_nonce)
    receipt = tmp_path / "receipts march.pdf"
    receipt.write_bytes(os.urandom(150 * KiB))
    statement = tmp_path / "bank-statement.pdf"
    statement.write_bytes(os.urandom(300 * KiB))

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{live_server.url}/p/{token}/")
    assert page.title() == "Baker & Sons: your 2025 tax documents"
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_role("alert").text_content() == "That password is not right."
    page.get_by_label("Password").fill("baker-2025")
    page.get_by_label("Password").press("Enter")  # the keyboard works

    page.get_by_label("Your name").fill("Beth Baker")
    page.get_by_label("Your e-mail address").fill("beth@example.test")
    assert "Each file can be up to 10 MiB." in page.locator(".limits").text_content()
    page.get_by_role("button", name="Continue to upload").click()

    page.locator(".uppy-Dashboard-input").first.set_input_files([str(receipt), str(statement)])
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function(
        "document.getElementById('upload-announcer').textContent.includes('uploaded')", timeout=120_000
    )
    assert page.locator("#upload-announcer").text_content() == "2 uploaded, 0 failed."
    page.get_by_role("link", name="Finished — see what arrived").click()
    assert page.get_by_role("status").text_content() == "2 files arrived safely:"
    arrived = page.locator(".arrived .filename").all_text_contents()
    assert sorted(arrived) == ["bank-statement.pdf", "receipts march.pdf"]

    uploads = {u.original_filename: u for u in Upload.objects.filter(portal=portal)}
    assert set(uploads) == {"receipts march.pdf", "bank-statement.pdf"}
    for path in (receipt, statement):
        upload = uploads[path.name]
        assert upload.state == UploadState.STORED
        assert (upload.uploader_name, upload.uploader_email) == ("Beth Baker", "beth@example.test")
        assert upload.key.startswith("uploads/baker-tax-return/")
        assert (
            hashlib.sha256(s3.get_object_bytes(key=upload.key)).digest() == hashlib.sha256(path.read_bytes()).digest()
        )

    # Staff, in a browser of their own, see both files under the portal.
    staff_page = page.context.browser.new_context().new_page()
    sign_in(staff_page, live_server.url, "dora")
    staff_page.get_by_role("link", name="Portals").click()
    staff_page.get_by_role("link", name="Baker tax return").click()
    rows = staff_page.locator("#portal-uploads tbody tr[data-state=stored]")
    assert rows.count() == 2
    table = staff_page.locator("#portal-uploads").text_content()
    assert "receipts march.pdf" in table
    assert "bank-statement.pdf" in table
    assert "beth@example.test" in table
    staff_page.context.close()
