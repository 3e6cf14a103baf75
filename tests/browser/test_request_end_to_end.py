"""Issue 16 from start to end, in Chromium, as the two people see it.

A client on a phone (390 px) proves who they are with the code e-mailed to them (read
from a real SMTP server), sends files to two items through the real page (Uppy, the S3
emulator) and sees them waiting for review. A staff member at a desk (1366 px) signs in
and sends one back with a reason; the client reloads, reads the reason and sends that
item again; staff accept all; the request closes, and the client's receipt arrives at
the SMTP server listing every file with the SHA-256 of the bytes the test sent.

The receipt and the digests are Celery tasks, run eagerly as in every browser test
(config/settings/test.py): they run in the live server's thread, from S3, when the
staff member's accept is committed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.browser.test_staff_upload import sign_in
from tests.conftest import make_staff_user
from tests.support.documents import make_image, make_pdf
from tests.support.smtp import SmtpSink
from uploader.ops.bucket_setup import bucket_configure
from uploader.requests import tokens
from uploader.requests.models import RequestItem
from uploader.requests.services import ItemSpec, request_create
from uploader.uploads.sizes import format_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
CLIENT = "beth@example.test"
REASON = "This is the P60 for 2024; we need the one for 2025."


@pytest.fixture
def smtp(settings, live_server) -> Iterator[SmtpSink]:  # type: ignore[no-untyped-def]
    """Every e-mail of the run goes to a real SMTP server; links in them point at the live server."""
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        settings.EMAIL_TIMEOUT = 5
        settings.INTAKE_PUBLIC_BASE_URL = live_server.url
        yield sink


def one_to(sink: SmtpSink, count: int, subject: str) -> EmailMessage:
    """The e-mail among the first `count` received whose subject starts so (waiting for them)."""
    found = [message for message in sink.wait_for(count) if message["Subject"].startswith(subject)]
    assert len(found) == 1, [message["Subject"] for message in sink.messages]
    return found[0]


def upload_on_item_page(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    page.locator(".uppy-Dashboard-input").first.set_input_files([str(path)])
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    page.wait_for_function(
        "document.getElementById('upload-announcer').textContent.includes('uploaded')", timeout=120_000
    )
    assert page.locator("#upload-announcer").text_content() == "1 uploaded, 0 failed."
    page.get_by_role("link", name="Done — back to the checklist").click()


def test_a_request_from_the_clients_first_file_to_the_receipt(
    chromium, live_server, s3_bucket, smtp, settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # Code counts live in Redis when it is there and outlast a run: this test is not about them.
    settings.INTAKE_REQUEST_RATE_CODE_EMAIL = (100_000, 60)
    settings.INTAKE_REQUEST_RATE_CODE_ADDRESS = (100_000, 60)
    settings.INTAKE_REQUEST_RATE_CODE_CHECK = (100_000, 60)
    bucket_configure(create=False, origins=[live_server.url], queue_arn=None, abort_after_days=2)
    staff = make_staff_user("dana")
    made = request_create(
        actor=staff,
        client_name="Beth Baker",
        client_emails=[CLIENT],
        items=[
            ItemSpec(title="P60 for 2025", allowed_extensions=(".pdf",), max_files=1),
            ItemSpec(title="Photo ID", allowed_content_types=("image/*",), max_files=1),
        ],
        require_code=True,
        waits_for_staff=False,
    )
    p60 = RequestItem.objects.get(request=made, title="P60 for 2025")
    photo = RequestItem.objects.get(request=made, title="Photo ID")
    link = f"{live_server.url}/r/{tokens.token_for(made.token_nonce)}/"
    files = {
        "p60 2024.pdf": make_pdf(["P60 End of Year Certificate", "Tax year to 5 April 2024"]),
        "passport.jpg": make_image((64, 48)),
        "p60 2025.pdf": make_pdf(["P60 End of Year Certificate", "Tax year to 5 April 2025"]),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    client = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    desk = chromium.new_context(viewport=DESKTOP).new_page()
    for page in (client, desk):
        page.set_default_timeout(30_000)
    try:
        # The client proves who they are with the code the SMTP server received.
        client.goto(link)
        client.get_by_label("Your e-mail address").fill(CLIENT)
        client.get_by_role("button", name="E-mail me a code").click()
        client.wait_for_url(f"{link}code/")
        code_mail = one_to(smtp, 1, "Your code")
        assert smtp.recipients[0] == [CLIENT]
        code = re.search(r"\b(\d{6})\b", code_mail.get_content())
        assert code is not None
        client.get_by_label("Code").fill(code.group(1))
        client.get_by_role("button", name="Open my documents").click()
        client.wait_for_url(link)
        assert client.locator("h1").text_content() == "Hello Beth Baker"

        # Two items, a file each, through the item's upload area.
        client.get_by_role("link", name="Send files for P60 for 2025").click()
        upload_on_item_page(client, tmp_path / "p60 2024.pdf")
        client.wait_for_url(link)
        client.get_by_role("link", name="Send files for Photo ID").click()
        upload_on_item_page(client, tmp_path / "passport.jpg")
        client.wait_for_url(link)
        for item, filename in ((p60, "p60 2024.pdf"), (photo, "passport.jpg")):
            shown = client.locator(f"#item-{item.pk}")
            assert shown.locator(".item-state").text_content() == "Sent, waiting for review"
            assert shown.locator(".item-files .filename").all_text_contents() == [filename]
        assert client.locator("#progress").text_content() == "0 of 2 required items accepted."

        # Staff, at a desk, send the P60 back with a reason.
        sign_in(desk, live_server.url, staff.username)
        desk.goto(f"{live_server.url}/requests/{made.pk}/")
        review = desk.locator(f"#item-{p60.pk}")
        assert review.locator(".item-state").text_content() == "Sent, waiting for review"
        assert desk.locator(f"#item-{photo.pk} .item-state").text_content() == "Sent, waiting for review"
        review.get_by_label("What should the client change?").fill(REASON)
        review.get_by_role("button", name="Send back with this reason").click()
        desk.wait_for_url(f"{live_server.url}/requests/{made.pk}/")
        assert "The client was e-mailed the reason and the link." in desk.locator(".messages").text_content()
        assert desk.locator(f"#item-{p60.pk} .item-state").text_content() == "Changes requested"
        sent_back = one_to(smtp, 2, "Please send 'P60 for 2025' again").get_content()
        assert REASON in sent_back
        assert link in sent_back

        # The client reloads, reads why, and sends the right P60.
        client.reload()
        again = client.locator(f"#item-{p60.pk}")
        assert again.locator(".item-state").text_content() == "Changes requested"
        assert REASON in again.locator(".changes-reason").text_content()
        again.get_by_role("link", name="Send a new file for P60 for 2025").click()
        assert REASON in client.locator(".changes-reason").text_content()
        upload_on_item_page(client, tmp_path / "p60 2025.pdf")
        client.wait_for_url(link)
        again = client.locator(f"#item-{p60.pk}")
        assert again.locator(".item-state").text_content() == "Sent, waiting for review"
        assert again.locator(".item-files .filename").all_text_contents() == ["p60 2024.pdf", "p60 2025.pdf"]

        # Staff accept all; the request closes.
        desk.reload()
        desk.get_by_role("button", name="Accept all waiting for review (2)").click()
        desk.wait_for_url(f"{live_server.url}/requests/{made.pk}/")
        said = desk.locator(".messages").text_content()
        assert "Accepted 2 items." in said
        assert "Every required item is accepted: the request is closed." in said
        assert desk.locator("#request-state").text_content() == "Closed"
        for item in (p60, photo):
            assert desk.locator(f"#item-{item.pk} .item-state").text_content() == "Accepted"
        expected = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        # The worker has the digests of the accepted files; staff see them under each file.
        assert sorted(desk.locator(".sha256 code").all_text_contents()) == sorted(expected.values())

        # The link now says the request is complete.
        client.reload()
        assert client.locator("h1").text_content() == "This request is complete"

        # The receipt lists every file with the SHA-256 of the bytes sent. It comes after
        # the code, the send-back and the staff member's "complete" e-mails.
        receipt = one_to(smtp, 4, "Receipt")
        assert smtp.recipients[smtp.messages.index(receipt)] == [CLIENT]
        text = "\n".join(receipt.get_content().splitlines())
        listed = re.findall(r"^(.+): (.+)\n  (.+), SHA-256 ([0-9a-f]{64})$", text, re.MULTILINE)
        assert listed == [
            ("P60 for 2025", "p60 2024.pdf", format_bytes(len(files["p60 2024.pdf"])), expected["p60 2024.pdf"]),
            ("P60 for 2025", "p60 2025.pdf", format_bytes(len(files["p60 2025.pdf"])), expected["p60 2025.pdf"]),
            ("Photo ID", "passport.jpg", format_bytes(len(files["passport.jpg"])), expected["passport.jpg"]),
        ], text
    finally:
        client.context.close()
        desk.context.close()
