"""Portal notifications through a real SMTP server (aiosmtpd on 127.0.0.1): a digest to
the portal's notification targets, and a receipt a client asks for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.support.smtp import SmtpSink
from uploader.audit.models import AuditEntry
from uploader.notify import tasks as notify_tasks
from uploader.notify.services import portal_notify_pending
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("generous_rates")]

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def smtp(settings) -> Iterator[SmtpSink]:  # type: ignore[no-untyped-def]
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        settings.EMAIL_TIMEOUT = 5
        settings.INTAKE_PUBLIC_BASE_URL = "https://files.example.test"
        yield sink


def test_one_digest_per_portal_lists_every_new_file_once(make_portal, smtp: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(name="Smith & Co", notify_emails=["office@example.test", "boss@example.test"])
    client = visitor_client()
    enter(client, token, name="Ann Client", email="ann@example.test")
    upload_file(client, token, b"a" * 10, filename="receipts.pdf")
    upload_file(client, token, b"b" * 20, filename="invoice.pdf")

    assert notify_tasks.notify_portal_uploads() == {"portals": 1, "files": 2, "emails": 1}
    [message] = smtp.wait_for(1)
    assert sorted(smtp.recipients[0]) == ["boss@example.test", "office@example.test"]
    assert message["Subject"] == "2 new files from Smith & Co"
    body = message.get_content()
    assert "- receipts.pdf (10 bytes) from Ann Client, ann@example.test" in body
    assert "- invoice.pdf (20 bytes) from Ann Client, ann@example.test" in body
    assert f"https://files.example.test/portals/{portal.pk}/" in body
    assert not Upload.objects.filter(notified_at__isnull=True).exists()
    assert AuditEntry.objects.get(action="portal.notified").detail["files"] == 2

    # Nothing new: no second e-mail. A new file: a digest of that one only.
    assert notify_tasks.notify_portal_uploads() == {"portals": 0, "files": 0, "emails": 0}
    upload_file(client, token, b"c" * 5, filename="late.pdf")
    assert notify_tasks.notify_portal_uploads()["emails"] == 1
    second = smtp.wait_for(2)[1]
    assert second["Subject"] == "1 new file from Smith & Co"
    assert "late.pdf" in second.get_content()
    assert "receipts.pdf" not in second.get_content()


def test_files_of_a_portal_without_targets_are_marked_without_mail(make_portal, smtp: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(notify_emails=[])
    client = visitor_client()
    enter(client, token)
    upload_file(client, token, b"x" * 3)
    assert notify_tasks.notify_portal_uploads() == {"portals": 1, "files": 1, "emails": 0}
    assert smtp.messages == []
    assert not Upload.objects.filter(notified_at__isnull=True).exists()


def test_a_mail_server_that_is_down_loses_nothing(make_portal, settings, smtp: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(notify_emails=["office@example.test"])
    client = visitor_client()
    enter(client, token)
    upload_file(client, token, b"x" * 3)
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = smtp.port + 1 if smtp.port < 65535 else smtp.port - 1  # nothing listens there
    with pytest.raises(ConnectionRefusedError):
        portal_notify_pending()
    assert Upload.objects.filter(notified_at__isnull=True).count() == 1
    settings.EMAIL_PORT = real_port
    assert portal_notify_pending().emails == 1
    assert len(smtp.wait_for(1)) == 1


def test_names_stay_plain_text_and_headers_stay_one_line(make_portal, smtp: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(name="Evil\r\nBcc: victim@example.test", notify_emails=["office@example.test"])
    client = visitor_client()
    enter(client, token, name=SCRIPT, email="ann@example.test")
    upload_file(client, token, b"x" * 3, filename=f"{SCRIPT}.pdf")
    notify_tasks.notify_portal_uploads()
    [message] = smtp.wait_for(1)
    assert smtp.recipients[0] == ["office@example.test"]  # no injected Bcc
    assert message["Bcc"] is None
    assert message.get_content_type() == "text/plain"
    assert f"{SCRIPT}.pdf" in message.get_content()


def test_a_client_asks_for_a_receipt_of_what_arrived(make_portal, smtp: SmtpSink, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(title="Send Smith & Co your documents")
    client = visitor_client()
    enter(client, token, name="Ann Client", email="ann@example.test")
    upload_file(client, token, b"a" * 10, filename="receipts.pdf")
    other = visitor_client()
    enter(other, token, name="Bob", email="bob@example.test")
    upload_file(other, token, b"b" * 10, filename="bobs.pdf")

    page = client.get(f"/p/{token}/done")
    assert b"E-mail me a receipt" in page.content
    # The view enqueues the task on commit; run what the test transaction holds back.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/p/{token}/receipt")
    assert len(callbacks) == 1
    assert response.status_code == 302
    assert response["Location"] == f"/p/{token}/done?receipt=sent"
    assert b"A receipt is on its way to ann@example.test" in client.get(response["Location"]).content
    [message] = smtp.wait_for(1)
    assert smtp.recipients[0] == ["ann@example.test"]
    assert message["Subject"] == "Your files reached Send Smith & Co your documents"
    body = message.get_content()
    assert body.startswith("Hello Ann Client,")
    assert "receipts.pdf" in body
    assert "bobs.pdf" not in body  # only this visitor's files
    assert AuditEntry.objects.get(action="portal.receipt_sent").detail == {"portal": portal.pk, "to": "ann@example.test", "files": 1}


def test_receipts_are_rate_limited(make_portal, settings, smtp: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PORTAL_RATE_RECEIPT = (1, 3600)
    _, token = make_portal()
    client = visitor_client()
    enter(client, token)
    upload_file(client, token, b"a" * 10)
    assert client.post(f"/p/{token}/receipt").status_code == 302
    assert client.post(f"/p/{token}/receipt").status_code == 429


def test_a_receipt_needs_an_identified_visitor_with_an_address(make_portal, smtp: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(require_email=False)
    client: Client = visitor_client()
    client.get(f"/p/{token}/")
    assert client.post(f"/p/{token}/receipt")["Location"] == f"/p/{token}/done"
    enter(client, token, email="")
    upload_file(client, token, b"a" * 10)
    assert Upload.objects.get().state == UploadState.STORED
    assert client.post(f"/p/{token}/receipt")["Location"] == f"/p/{token}/done"
    assert smtp.messages == []


def test_a_refused_address_on_one_portal_holds_up_no_other(make_portal, smtp: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    """Portal B's only address is refused for good (550): B's files are given up with an
    audit entry, A's digest goes out once, and the next run sends nothing again."""
    portal_a, token_a = make_portal(name="A", notify_emails=["office@example.test"])
    portal_b, token_b = make_portal(name="B", notify_emails=["gone@example.test"])
    smtp.refuse.add("gone@example.test")
    for token in (token_b, token_a):
        client = visitor_client()
        enter(client, token)
        upload_file(client, token, b"x" * 3)
    assert notify_tasks.notify_portal_uploads() == {"portals": 2, "files": 2, "emails": 1}
    assert [m["Subject"] for m in smtp.wait_for(1)] == ["1 new file from A"]
    failed = AuditEntry.objects.get(action="portal.notify_failed")
    assert failed.detail["portal"] == portal_b.pk
    assert "refused" in failed.detail["reason"]
    assert not Upload.objects.filter(notified_at__isnull=True).exists()
    assert notify_tasks.notify_portal_uploads() == {"portals": 0, "files": 0, "emails": 0}
    assert len(smtp.messages) == 1
    assert AuditEntry.objects.filter(action="portal.notified", detail__portal=portal_a.pk).count() == 1
