"""Webhook deliveries on a portal's staff page: the list (states, targets without query
strings, escaping, a constant number of queries) and "Send again" for a given-up
delivery, POSTed again to a real HTTP receiver on 127.0.0.1 (tests/support/webhook_receiver)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.integration.test_portals_dashboard import person
from tests.support.webhook_receiver import WebhookReceiver
from uploader.access.roles import NotAllowed, Role
from uploader.audit.models import AuditEntry
from uploader.notify import delivery_tasks as delivery_tasks
from uploader.notify.models import WebhookDelivery, WebhookDeliveryState
from uploader.notify.services import webhook_delivery_retry
from uploader.portals import tokens as portal_tokens
from uploader.portals.models import Portal
from uploader.portals.selectors import webhook_target_shown
from uploader.portals.services import portal_create, portal_disable, portal_update

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SECRET = "s3cr3t-receiver-token"


@pytest.fixture(autouse=True)
def webhook_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PORTAL_RATE_PAGE = (100_000, 60)
    settings.INTAKE_PORTAL_RATE_API = (100_000, 60)
    settings.INTAKE_WEBHOOK_SIGNING_KEY = "webhook-page-test-signing-key-0123456789"
    settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK = True


@pytest.fixture
def portal_with_a_file(staff_user, s3_bucket):  # type: ignore[no-untyped-def]
    """A portal with the given webhooks and one file uploaded through it."""

    def make(webhooks: list[str], name: str = "Acme accounts") -> Portal:
        portal = portal_create(actor=staff_user, name=name, notify_webhooks=webhooks)
        token = portal_tokens.token_for(portal.token_nonce)
        client = visitor_client()
        enter(client, token, name="Ann Client", email="ann@example.test")
        upload_file(client, token, b"%PDF-1.4 scan", filename="scan.pdf")
        return portal

    return make



def _rows(html: str) -> dict[str, str]:
    """Each delivery row's HTML by delivery id."""
    return dict(re.findall(r'<tr data-delivery="([0-9a-f-]{36})"[^>]*>(.*?)</tr>', html, re.DOTALL))


def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _retry_url(delivery: WebhookDelivery) -> str:
    return f"/portals/{delivery.portal_id}/webhooks/{delivery.pk}/retry"


def _given_up(portal: Portal, url: str, **fields: object) -> WebhookDelivery:
    """A delivery row as the task leaves it after its last failed attempt."""
    values: dict[str, object] = {
        "event": "portal.files_arrived",
        "body": '{"event":"portal.files_arrived"}',
        "state": WebhookDeliveryState.GAVE_UP,
        "attempts": 5,
        "last_status": 503,
        "last_error": "HTTP 503",
        **fields,
    }
    return WebhookDelivery.objects.create(portal=portal, url=url, **values)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/in/abc?token=secret&x=1", "https://hooks.example.com/in/abc"),
        ("https://hooks.example.com:8443/in?token=secret#frag", "https://hooks.example.com:8443/in"),
        ("https://hooks.example.com?token=secret", "https://hooks.example.com"),
        ("https://user:pass@hooks.example.com/in", "https://hooks.example.com/in"),
        ("http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"),
    ],
)
def test_a_webhook_target_is_shown_without_its_query_string_or_credentials(url: str, shown: str) -> None:
    assert webhook_target_shown(url) == shown


def test_the_page_lists_deliveries_newest_first_with_their_states_and_no_query_strings(  # type: ignore[no-untyped-def]
    portal_with_a_file, receiver: WebhookReceiver, digest, settings
) -> None:
    settings.INTAKE_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [204, 500, 500, 500]
    portal = portal_with_a_file([receiver.url(f"/{name}?token={SECRET}-{name}") for name in ("ok", "bad", "later")])
    digest()
    delivered, failing, pending = (
        WebhookDelivery.objects.get(portal=portal, url__contains=f"/{name}?") for name in ("ok", "bad", "later")
    )
    # The failing one's backoff passes and its second (last) attempt fails too.
    WebhookDelivery.objects.filter(pk=failing.pk).update(next_attempt_at=timezone.now() - dt.timedelta(minutes=1))
    assert delivery_tasks.deliver_portal_webhook(str(failing.pk)) == "gave_up"
    # An older delivery from an earlier run: listed after (below) the three new ones.
    old = _given_up(portal, receiver.url("/old"), attempts=2)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))

    _, staff = person(Role.STAFF)
    page = staff.get(f"/portals/{portal.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Webhook deliveries" in html
    assert SECRET not in html  # no query string anywhere on the page
    rows = _rows(html)
    assert list(rows)[-1] == str(old.pk)
    assert set(rows) == {str(d.pk) for d in (delivered, failing, pending, old)}
    base = f"http://127.0.0.1:{receiver.port}"

    ok = rows[str(delivered.pk)]
    assert f"{base}/ok<" in ok
    assert "portal.files_arrived" in ok
    assert ">Delivered<" in ok
    assert "1 attempt<" in ok
    assert "HTTP 204" in ok
    assert "delivered <time" in ok
    assert "Send again" not in ok

    gave_up = rows[str(failing.pk)]
    assert f"{base}/bad<" in gave_up
    assert ">Given up<" in gave_up
    assert "2 attempts" in gave_up
    assert "HTTP 500" in gave_up
    assert "Send again" in gave_up
    assert f'action="{_retry_url(failing)}"' in gave_up

    waiting = rows[str(pending.pk)]
    assert ">Pending<" in waiting
    assert "1 attempt<" in waiting
    assert "HTTP 500" in waiting
    pending.refresh_from_db()
    assert pending.next_attempt_at is not None
    assert f'next attempt <time datetime="{timezone.localtime(pending.next_attempt_at):%Y-%m-%dT%H:%M:%S}' in waiting
    assert "Send again" not in waiting


def test_hostile_urls_and_errors_are_escaped(portal_with_a_file) -> None:  # type: ignore[no-untyped-def]
    portal = portal_with_a_file([])
    _given_up(
        portal,
        'https://evil.example/<script>alert("url")</script>?token=x',
        last_error='<img src=x onerror=alert("error")>',
        event="<b>event</b>",
    )
    _, staff = person(Role.ADMIN)
    html = staff.get(f"/portals/{portal.pk}/").content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b>event" not in html
    assert "https://evil.example/&lt;script&gt;alert(&quot;url&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(&quot;error&quot;)&gt;" in html
    assert "&lt;b&gt;event&lt;/b&gt;" in html


def test_the_section_is_hidden_without_webhooks_and_says_so_when_there_are_none_yet(  # type: ignore[no-untyped-def]
    portal_with_a_file, staff_user
) -> None:
    _, staff = person(Role.STAFF)
    plain = portal_create(actor=staff_user, name="No hooks")
    assert "Webhook deliveries" not in staff.get(f"/portals/{plain.pk}/").content.decode()

    hooked = portal_create(actor=staff_user, name="Hooked", notify_webhooks=["https://hooks.example.com/in?token=x"])
    html = staff.get(f"/portals/{hooked.pk}/").content.decode()
    assert "Webhook deliveries" in html
    assert "No deliveries yet." in html

    # Webhooks removed later: the deliveries made before are still listed.
    _given_up(hooked, "https://hooks.example.com/in?token=x")
    portal_update(actor=staff_user, portal=hooked, notify_webhooks=[])
    html = staff.get(f"/portals/{hooked.pk}/").content.decode()
    assert "Webhook deliveries" in html
    assert len(_rows(html)) == 1


def test_a_given_up_delivery_sent_again_from_the_page_reaches_the_receiver_with_the_same_body_and_signature(  # type: ignore[no-untyped-def]
    portal_with_a_file, receiver: WebhookReceiver, digest, settings, django_capture_on_commit_callbacks
) -> None:
    settings.INTAKE_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answers = [503, 204]
    portal = portal_with_a_file([receiver.url(f"/hook?token={SECRET}")])
    digest()
    delivery = WebhookDelivery.objects.get(portal=portal)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (WebhookDeliveryState.GAVE_UP, 1, 503)

    user, _ = person(Role.STAFF)
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(user)
    html = staff.get(f"/portals/{portal.pk}/").content.decode()
    # Without the CSRF token: refused, nothing changed, nothing sent.
    assert staff.post(_retry_url(delivery)).status_code == 403
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.GAVE_UP
    assert len(receiver.requests) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(_retry_url(delivery), {"csrfmiddlewaretoken": _csrf_token(html)})
    assert response.status_code == 302
    assert response["Location"] == f"/portals/{portal.pk}/"

    first, second = receiver.requests
    assert second.path == f"/hook?token={SECRET}"  # the real URL is used, only never shown
    assert second.body == first.body
    assert second.headers["X-Intake-Signature"] == first.headers["X-Intake-Signature"]
    assert second.headers["X-Intake-Delivery"] == first.headers["X-Intake-Delivery"] == str(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status, delivery.last_error) == (
        WebhookDeliveryState.DELIVERED,
        1,
        204,
        "",
    )
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None

    [retried] = AuditEntry.objects.filter(action="portal.webhook_retried")
    assert retried.actor == user
    assert retried.detail["delivery"] == str(delivery.pk)
    assert retried.detail["portal"] == portal.pk
    assert retried.detail["url"] == f"http://127.0.0.1:{receiver.port}"  # the origin only: paths hold secrets too
    assert retried.detail["before"]["attempts"] == 1
    assert retried.detail["before"]["status"] == 503
    assert SECRET not in str(retried.detail)
    assert AuditEntry.objects.filter(action="portal.webhook_delivered").count() == 1

    page = staff.get(f"/portals/{portal.pk}/").content.decode()
    assert "again; reload this page" in page  # the message
    row = _rows(page)[str(delivery.pk)]
    assert ">Delivered<" in row
    assert "Send again" not in row


def test_sending_again_a_delivered_or_pending_delivery_changes_nothing_and_says_so(  # type: ignore[no-untyped-def]
    portal_with_a_file, receiver: WebhookReceiver, digest, settings, django_capture_on_commit_callbacks
) -> None:
    settings.INTAKE_WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answers = [204, 500]
    portal = portal_with_a_file([receiver.url("/ok"), receiver.url("/bad")])
    digest()
    delivered = WebhookDelivery.objects.get(portal=portal, url__endswith="/ok")
    pending = WebhookDelivery.objects.get(portal=portal, url__endswith="/bad")
    assert (delivered.state, pending.state) == (WebhookDeliveryState.DELIVERED, WebhookDeliveryState.PENDING)
    before = {d.pk: (d.state, d.attempts, d.last_status, d.next_attempt_at) for d in (delivered, pending)}
    _, staff = person(Role.STAFF)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        answer = staff.post(_retry_url(delivered), follow=True)
    assert answer.status_code == 200
    assert "already arrived; nothing was sent again" in answer.content.decode()
    with django_capture_on_commit_callbacks(execute=True) as more:
        answer = staff.post(_retry_url(pending), follow=True)
    assert "still being tried; nothing was changed" in answer.content.decode()

    assert callbacks == more == []
    assert len(receiver.requests) == 2
    for delivery in (delivered, pending):
        delivery.refresh_from_db()
        assert (delivery.state, delivery.attempts, delivery.last_status, delivery.next_attempt_at) == before[
            delivery.pk
        ]
    assert not AuditEntry.objects.filter(action="portal.webhook_retried").exists()


def test_a_double_click_sends_once(  # type: ignore[no-untyped-def]
    portal_with_a_file, receiver: WebhookReceiver, digest, settings, django_capture_on_commit_callbacks
) -> None:
    settings.INTAKE_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answers = [503, 204]
    portal = portal_with_a_file([receiver.url()])
    digest()
    delivery = WebhookDelivery.objects.get(portal=portal)
    _, staff = person(Role.ADMIN)
    # Both clicks land before the queued attempt runs.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert staff.post(_retry_url(delivery)).status_code == 302
        second = staff.post(_retry_url(delivery), follow=True)
    assert "still being tried; nothing was changed" in second.content.decode()
    assert len(callbacks) == 1
    for callback in callbacks:
        callback()
    assert len(receiver.requests) == 2
    assert AuditEntry.objects.filter(action="portal.webhook_retried").count() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (WebhookDeliveryState.DELIVERED, 1)


def test_a_delivery_of_another_portal_or_none_at_all_is_not_found(  # type: ignore[no-untyped-def]
    staff_user, django_capture_on_commit_callbacks
) -> None:
    ours = portal_create(actor=staff_user, name="Ours")
    theirs = portal_create(actor=staff_user, name="Theirs")
    delivery = _given_up(theirs, "https://hooks.example.com/in")
    _, staff = person(Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert staff.post(f"/portals/{ours.pk}/webhooks/{delivery.pk}/retry").status_code == 404
        assert staff.post(f"/portals/{theirs.pk}/webhooks/{uuid.uuid4()}/retry").status_code == 404
    assert callbacks == []
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.GAVE_UP
    assert not AuditEntry.objects.filter(action="portal.webhook_retried").exists()


def test_the_retry_url_answers_get_with_405(staff_user) -> None:  # type: ignore[no-untyped-def]
    portal = portal_create(actor=staff_user, name="Acme")
    delivery = _given_up(portal, "https://hooks.example.com/in")
    _, staff = person(Role.STAFF)
    assert staff.get(_retry_url(delivery)).status_code == 405
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.GAVE_UP


def test_the_service_checks_the_permission_itself(staff_user) -> None:  # type: ignore[no-untyped-def]
    portal = portal_create(actor=staff_user, name="Acme")
    delivery = _given_up(portal, "https://hooks.example.com/in")
    viewer, _ = person(Role.VIEWER)
    with pytest.raises(NotAllowed):
        webhook_delivery_retry(actor=viewer, delivery_id=str(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.GAVE_UP


def test_the_section_costs_the_same_queries_for_one_delivery_or_many(  # type: ignore[no-untyped-def]
    staff_user, django_assert_max_num_queries
) -> None:
    portal = portal_create(actor=staff_user, name="Acme", notify_webhooks=["https://hooks.example.com/in"])
    _, staff = person(Role.STAFF)
    _given_up(portal, "https://hooks.example.com/in")
    staff.get(f"/portals/{portal.pk}/")  # the session and role caches warm up
    with CaptureQueriesContext(connection) as one:
        assert staff.get(f"/portals/{portal.pk}/").status_code == 200
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                portal=portal, url=f"https://hooks.example.com/in/{n}", event="portal.files_arrived", body="{}"
            )
            for n in range(30)
        ]
    )
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = staff.get(f"/portals/{portal.pk}/").content.decode()
    assert len(_rows(html)) == 20  # the latest 20 only
    assert sum("webhookdelivery" in q["sql"].lower() for q in one.captured_queries) == 1


@pytest.mark.parametrize("withdrawn_by", ["address removed", "portal disabled"])
def test_a_withdrawn_address_is_never_sent_again(  # type: ignore[no-untyped-def]
    portal_with_a_file, staff_user, django_capture_on_commit_callbacks, withdrawn_by: str
) -> None:
    """Staff often remove an address because it was wrong (another company's server):
    its deliveries hold clients' names and files, so a click must not send them."""
    wrong = "https://wrong-customer.example/hook"
    portal = portal_with_a_file([wrong])
    delivery = _given_up(portal, wrong)
    if withdrawn_by == "address removed":
        portal_update(actor=staff_user, portal=portal, notify_webhooks=[])
    else:
        portal_disable(actor=staff_user, portal=portal)
    _, staff = person(Role.STAFF)
    row = _rows(staff.get(f"/portals/{portal.pk}/").content.decode())[str(delivery.pk)]
    assert "Send again" not in row
    assert "address removed or portal off" in row
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = staff.post(_retry_url(delivery), follow=True)
    assert callbacks == []
    assert "nothing was sent" in answer.content.decode()
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.GAVE_UP
    assert not AuditEntry.objects.filter(action="portal.webhook_retried").exists()
