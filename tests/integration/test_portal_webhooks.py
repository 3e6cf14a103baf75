"""Portal webhooks against a real HTTP server on 127.0.0.1 (tests/support/webhook_receiver):
what is sent and signed, retries, timeouts, redirects, refused addresses, and the
validation of webhook URLs in the staff form and on the command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.integration.test_portals_dashboard import FORM, person
from tests.support.webhook_receiver import HOLD, REDIRECT, WebhookReceiver
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.notify import delivery_tasks as delivery_tasks
from uploader.notify import tasks as notify_tasks
from uploader.notify.models import WebhookDelivery, WebhookDeliveryState
from uploader.portals import tokens as portal_tokens
from uploader.portals.models import Portal
from uploader.portals.services import portal_create, portal_update
from uploader.uploads.models import Upload

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

KEY = "webhook-test-signing-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def webhook_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PORTAL_RATE_PAGE = (100_000, 60)
    settings.INTAKE_PORTAL_RATE_API = (100_000, 60)
    settings.INTAKE_WEBHOOK_SIGNING_KEY = KEY
    settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK = True


@pytest.fixture
def portal_with_files(staff_user, s3_bucket):  # type: ignore[no-untyped-def]
    """A portal with the given options and files uploaded through it by Ann."""

    def make(files: dict[str, bytes], name: str = "Acme accounts", **options: object) -> Portal:
        portal = portal_create(actor=staff_user, name=name, **options)
        token = portal_tokens.token_for(portal.token_nonce)
        client = visitor_client()
        enter(client, token, name="Ann Client", email="ann@example.test")
        for filename, body in files.items():
            upload_file(client, token, body, filename=filename)
        return portal

    return make



def _audit(action: str) -> list[dict]:
    return [entry.detail for entry in AuditEntry.objects.filter(action=action).order_by("id")]


def _later() -> None:
    """Make every pending delivery due, as if its backoff had passed."""
    WebhookDelivery.objects.filter(state=WebhookDeliveryState.PENDING).update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=10)
    )


def test_one_signed_post_per_portal_and_url_per_run_with_the_documented_body(  # type: ignore[no-untyped-def]
    portal_with_files, receiver: WebhookReceiver, digest
) -> None:
    acme = portal_with_files(
        {"receipts.pdf": b"a" * 10, "invoice.pdf": b"b" * 20},
        notify_emails=["office@example.test"],
        notify_webhooks=[receiver.url("/acme")],
    )
    jones = portal_with_files({"scan.pdf": b"c" * 5}, name="Jones", notify_webhooks=[receiver.url("/j1"), receiver.url("/j2")])

    assert digest() == {"portals": 2, "files": 3, "emails": 1}
    assert len(mail.outbox) == 1  # the e-mail digest is unchanged
    assert sorted(r.path for r in receiver.requests) == ["/acme", "/j1", "/j2"]
    [request] = [r for r in receiver.requests if r.path == "/acme"]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Intake-Event"] == "portal.files_arrived"
    expected = "sha256=" + hmac.new(KEY.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Intake-Signature"] == expected
    document = json.loads(request.body)
    assert set(document) == {"event", "portal", "files", "sentAt"}
    assert document["event"] == "portal.files_arrived"
    assert document["portal"] == {"id": acme.pk, "name": "Acme accounts", "slug": acme.slug}
    uploads = {str(u.pk): u for u in Upload.objects.filter(portal=acme)}
    assert {f["id"] for f in document["files"]} == set(uploads)
    for item in document["files"]:
        upload = uploads[item["id"]]
        assert item == {
            "id": str(upload.pk),
            "filename": upload.original_filename,
            "size": upload.stored_size,
            "contentType": "application/pdf",
            "uploaderName": "Ann Client",
            "uploaderEmail": "ann@example.test",
            "storedAt": item["storedAt"],
        }
        assert dt.datetime.fromisoformat(item["storedAt"].replace("Z", "+00:00")) == upload.stored_at
    assert sorted(f["size"] for f in document["files"]) == [10, 20]
    assert document["sentAt"].endswith("Z")
    # Each delivery has its own id; both of Jones's URLs got the same document.
    assert len({r.headers["X-Intake-Delivery"] for r in receiver.requests}) == 3
    j1, j2 = (next(r for r in receiver.requests if r.path == p) for p in ("/j1", "/j2"))
    assert j1.body == j2.body
    assert json.loads(j1.body)["portal"]["id"] == jones.pk
    assert [d.state for d in WebhookDelivery.objects.all()] == [WebhookDeliveryState.DELIVERED] * 3
    delivered = _audit("portal.webhook_delivered")
    assert len(delivered) == 3
    assert {d["target"] for d in delivered} == {f"http://127.0.0.1:{receiver.port}"}  # origins, not paths
    assert {d["status"] for d in delivered} == {204}

    # Nothing new: nothing sent. A new file: one POST with that file only.
    assert digest()["files"] == 0
    assert len(receiver.requests) == 3


def test_a_500_is_recorded_without_holding_up_the_email_and_a_later_retry_delivers(  # type: ignore[no-untyped-def]
    portal_with_files, receiver: WebhookReceiver, digest
) -> None:
    receiver.answers = [500, 204]
    portal_with_files({"a.pdf": b"a" * 3}, notify_emails=["office@example.test"], notify_webhooks=[receiver.url()])
    assert digest()["emails"] == 1
    assert len(mail.outbox) == 1
    assert not Upload.objects.filter(notified_at__isnull=True).exists()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == (WebhookDeliveryState.PENDING, 1, 500)
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at > timezone.now()
    [failed] = _audit("portal.webhook_failed")
    assert failed["status"] == 500
    assert failed["reason"].startswith("HTTP 500")
    assert len(failed["reason"]) < 200  # the long error page was not kept
    # The retry the task scheduled is not due yet: running it now sends nothing.
    assert delivery_tasks.deliver_portal_webhook(str(delivery.pk)) == "not_due"
    assert len(receiver.requests) == 1

    _later()  # the backoff has passed, but the scheduled task was lost: the sweep finds it
    assert notify_tasks.retry_overdue_portal_webhooks() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == (WebhookDeliveryState.DELIVERED, 2, 204)
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-Intake-Delivery"] == second.headers["X-Intake-Delivery"] == str(delivery.pk)
    assert first.headers["X-Intake-Signature"] == second.headers["X-Intake-Signature"]
    assert _audit("portal.webhook_delivered")[0]["attempts"] == 2
    # Idempotent: a repeated task sends nothing more.
    assert delivery_tasks.deliver_portal_webhook(str(delivery.pk)) == "done"
    assert len(receiver.requests) == 2


def test_after_the_last_attempt_the_delivery_is_given_up(  # type: ignore[no-untyped-def]
    portal_with_files, receiver: WebhookReceiver, digest, settings
) -> None:
    settings.INTAKE_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [503]
    portal_with_files({"a.pdf": b"a" * 3}, notify_webhooks=[receiver.url()])
    digest()
    delivery = WebhookDelivery.objects.get()
    _later()
    assert delivery_tasks.deliver_portal_webhook(str(delivery.pk)) == "gave_up"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (WebhookDeliveryState.GAVE_UP, 2, None)
    assert [d["attempts"] for d in _audit("portal.webhook_failed")] == [1, 2]
    [gave_up] = _audit("portal.webhook_gave_up")
    assert gave_up["status"] == 503
    _later()
    assert notify_tasks.retry_overdue_portal_webhooks() == 0
    assert delivery_tasks.deliver_portal_webhook(str(delivery.pk)) == "done"
    assert len(receiver.requests) == 2


def test_a_receiver_that_does_not_answer_in_time_is_a_recorded_failure(  # type: ignore[no-untyped-def]
    portal_with_files, receiver: WebhookReceiver, digest, settings
) -> None:
    settings.INTAKE_WEBHOOK_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.INTAKE_WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.answers = [HOLD]
    portal_with_files({"a.pdf": b"a" * 3}, notify_emails=["office@example.test"], notify_webhooks=[receiver.url()])
    assert digest() == {"portals": 1, "files": 1, "emails": 1}
    assert len(mail.outbox) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == (WebhookDeliveryState.PENDING, 1, None)
    assert delivery.last_error == "timed out"
    assert _audit("portal.webhook_failed")[0]["reason"] == "timed out"
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed(portal_with_files, receiver: WebhookReceiver, digest) -> None:  # type: ignore[no-untyped-def]
    receiver.answers = [REDIRECT]
    portal_with_files({"a.pdf": b"a" * 3}, notify_webhooks=[receiver.url("/hook")])
    digest()
    assert [r.path for r in receiver.requests] == ["/hook"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status) == (WebhookDeliveryState.PENDING, 302)
    assert "redirect not followed" in _audit("portal.webhook_failed")[0]["reason"]


def test_private_and_loopback_addresses_are_refused_at_send_time_and_never_contacted(  # type: ignore[no-untyped-def]
    portal_with_files, receiver: WebhookReceiver, digest, settings
) -> None:
    # A name the resolver turns into 127.0.0.1 passes validation (it is not an IP
    # address or "localhost"); only the check of the resolved address stops it.
    sneaky = f"https://2130706433:{receiver.port}/hook"
    settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK = False
    portal = portal_with_files({"a.pdf": b"a" * 3}, notify_webhooks=[sneaky])
    # Saved while loopback was allowed (as in development), sent after it was turned off.
    settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK = True
    portal_update(actor=None, portal=portal, notify_webhooks=[receiver.url(), sneaky])
    settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK = False
    digest()
    assert receiver.connections == 0
    assert receiver.requests == []
    deliveries = list(WebhookDelivery.objects.order_by("url"))
    assert [d.state for d in deliveries] == [WebhookDeliveryState.GAVE_UP] * 2
    reasons = sorted(d["reason"] for d in _audit("portal.webhook_gave_up"))
    assert all(reason.startswith("refused: ") for reason in reasons)
    assert any("resolves to a private, loopback or reserved address (127.0.0.1)" in reason for reason in reasons)


def test_webhook_urls_are_validated_in_the_staff_form(db) -> None:  # type: ignore[no-untyped-def]
    _, staff = person(Role.STAFF)
    bad = "http://hooks.example.test/a\nhttps://user:secret@hooks.example.test/b"
    response = staff.post("/portals/new", {**FORM, "notify_webhooks": bad})
    assert response.status_code == 400
    assert b"is not an https:// URL" in response.content
    assert b"cannot carry a user name or password" in response.content
    assert Portal.objects.count() == 0
    six = "\n".join(f"https://hooks.example.test/{n}" for n in range(6))
    assert b"At most 5 webhook URLs" in staff.post("/portals/new", {**FORM, "notify_webhooks": six}).content
    good = "https://hooks.example.test/intake?secret=abc"
    assert staff.post("/portals/new", {**FORM, "notify_webhooks": good}).status_code == 302
    portal = Portal.objects.get()
    assert portal.notify_webhooks == [good]
    assert good.encode() in staff.get(f"/portals/{portal.pk}/edit").content  # shown again to edit
    assert _audit("portal.created")[0]["notify_webhooks"] == ["https://hooks.example.test"]
    edited = {**FORM, "is_active": "on", "notify_webhooks": ""}
    assert staff.post(f"/portals/{portal.pk}/edit", edited).status_code == 302
    assert "notify_webhooks" in _audit("portal.changed")[0]["changed"]


def test_webhook_urls_are_validated_on_the_command_line(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK = False
    with pytest.raises(CommandError, match="points at this server itself"):
        call_command("portal_create", "Jones", "--webhooks", "http://127.0.0.1:9/hook", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="private or reserved address"):
        call_command("portal_create", "Jones", "--webhooks", "https://10.0.0.7/hook", stdout=io.StringIO(), stderr=io.StringIO())
    assert Portal.objects.count() == 0
    call_command(
        "portal_create", "Jones", "--webhooks", "https://a.example.test/1,https://b.example.test/2",
        stdout=io.StringIO(), stderr=io.StringIO(),
    )
    assert Portal.objects.get().notify_webhooks == ["https://a.example.test/1", "https://b.example.test/2"]
