"""Document requests over HTTP: made from a template by staff, a client sending each
item's files through the item's mount of the upload contract (the S3 emulator), the
item's limits, review (accept, send back with an e-mailed reason, accept all), the
request closing, and links that must not open what they do not name."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import quote_plus

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client
from django.utils import timezone

from tests.support.smtp import SmtpSink
from uploader.audit.models import AuditEntry
from uploader.requests import tokens
from uploader.requests.access import access_grant
from uploader.requests.errors import ItemWrongState
from uploader.requests.models import (
    DocumentRequest,
    ItemState,
    RequestItem,
    RequestState,
    RequestTemplate,
    TemplateItem,
)
from uploader.requests.services import ItemSpec, item_accept, request_create
from uploader.requests.state import item_move
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.storing import upload_close

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("generous_rates")]

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def smtp(settings) -> Iterator[SmtpSink]:  # type: ignore[no-untyped-def]
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        settings.EMAIL_TIMEOUT = 5
        settings.INTAKE_PUBLIC_BASE_URL = "https://files.example.test"
        yield sink


@pytest.fixture
def tax_pack(db: None) -> RequestTemplate:
    template = RequestTemplate.objects.create(name="Annual tax return pack")
    TemplateItem.objects.create(
        template=template,
        position=0,
        title="P60 for 2025",
        instructions="From your employer.",
        allowed_extensions=[".pdf"],
        max_files=1,
    )
    TemplateItem.objects.create(
        template=template, position=1, title="Photo ID", allowed_content_types=["image/*", "application/pdf"]
    )
    TemplateItem.objects.create(template=template, position=2, title="Anything else", required=False)
    return template


def make_request(staff_user: User, **options: object) -> tuple[DocumentRequest, str]:
    items = options.pop("items", None) or [
        ItemSpec(title="P60 for 2025", allowed_extensions=(".pdf",), max_files=1),
        ItemSpec(title="Photo ID", allowed_content_types=("image/*", "application/pdf")),
        ItemSpec(title="Anything else", required=False),
    ]
    request = request_create(
        actor=staff_user,
        client_name=str(options.pop("client_name", "Ann Client")),
        client_emails=list(options.pop("client_emails", ["ann@example.test"])),  # type: ignore[call-overload]
        items=items,  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )
    return request, tokens.token_for(request.token_nonce)


def visitor(*let_into: DocumentRequest) -> Client:
    """A browser from its own address; one that has proved who it is for `let_into`
    (the session the code grants; the code itself is tested below)."""
    client = Client(REMOTE_ADDR=f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}")
    for document_request in let_into:
        session = client.session
        access_grant(SimpleNamespace(session=session, user=AnonymousUser()), document_request, document_request.client_emails[0])  # type: ignore[arg-type]
        session.save()
        client.cookies[django_settings.SESSION_COOKIE_NAME] = session.session_key
    return client


def item(request: DocumentRequest, title: str) -> RequestItem:
    return RequestItem.objects.get(request=request, title=title)


def api(token: str, item_id: int) -> str:
    return f"/r/{token}/items/{item_id}/api"


def sign(
    client: Client,
    token: str,
    item_id: int,
    *,
    filename: str = "p60.pdf",
    type_: str = "application/pdf",
    size: int = 4,
):  # type: ignore[no-untyped-def]
    return client.get(f"{api(token, item_id)}/s3/params", {"filename": filename, "type": type_, "metadata[size]": size})


def send(client: Client, token: str, item_id: int, body: bytes = b"%PDF", **kwargs: object) -> Upload:
    signed = sign(client, token, item_id, size=len(body), **kwargs)  # type: ignore[arg-type]
    assert signed.status_code == 200, signed.content
    answer = signed.json()
    requests.put(answer["url"], data=body, headers=answer["headers"], timeout=30).raise_for_status()
    done = client.post(f"{api(token, item_id)}/s3/complete?key={answer['key']}")
    assert done.status_code == 200, done.content
    assert done.json()["location"].endswith(f"/r/{token}/items/{item_id}/api/uploads/{answer['id']}")
    return Upload.objects.get(pk=answer["id"])


def actions(request: DocumentRequest) -> list[str]:
    return list(AuditEntry.objects.filter(detail__request=request.pk).order_by("id").values_list("action", flat=True))


# --- making a request --------------------------------------------------------------------------


def test_staff_make_a_request_from_a_template_and_edit_its_items(
    staff_client: Client, tax_pack: RequestTemplate
) -> None:
    form = staff_client.get("/requests/new", {"template": tax_pack.pk})
    assert form.status_code == 200
    assert b'value="P60 for 2025"' in form.content  # the template's items, to edit
    response = staff_client.post(
        f"/requests/new?template={tax_pack.pk}",
        {
            "template": tax_pack.pk,
            "client_name": "Bob Brown",
            "client_emails": "bob@example.test, office@bob.example.test",
            "company": "Brown Ltd",
            "due_date": "2030-01-31",
            "items-TOTAL_FORMS": "5",
            "items-INITIAL_FORMS": "3",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "50",
            "items-0-title": "P60 for 2025 (both jobs)",
            "items-0-required": "on",
            "items-0-allowed_extensions": ".PDF",
            "items-0-max_files": "2",
            "items-1-title": "Photo ID",
            "items-1-required": "on",
            "items-1-allowed_content_types": "image/*, application/pdf",
            "items-1-DELETE": "on",  # this client's ID is on file
            "items-2-title": "Anything else",
            "items-3-title": "Rental income statement",
            "items-3-required": "on",
            "items-3-due_date": "2030-01-15",
        },
    )
    assert response.status_code == 302, response.context["items"].errors
    made = DocumentRequest.objects.get(client_name="Bob Brown")
    assert response["Location"] == f"/requests/{made.pk}/"
    assert made.client_emails == ["bob@example.test", "office@bob.example.test"]
    assert made.template == tax_pack
    assert made.state == RequestState.OPEN
    rows = list(made.items.values_list("title", "required", "allowed_extensions", "max_files", "state"))
    assert rows == [
        ("P60 for 2025 (both jobs)", True, [".pdf"], 2, "outstanding"),
        ("Anything else", False, [], None, "outstanding"),
        ("Rental income statement", True, [], None, "outstanding"),
    ]
    # The template is unchanged: the request holds copies.
    assert list(tax_pack.items.values_list("title", flat=True)) == ["P60 for 2025", "Photo ID", "Anything else"]
    assert actions(made) == ["request.created"]
    page = staff_client.get(f"/requests/{made.pk}/")
    assert page.status_code == 200
    assert tokens.token_for(made.token_nonce).encode() in page.content  # the link to send
    assert b"request.created" in page.content  # the activity


def test_a_request_without_an_address_or_items_is_refused_with_reasons(staff_client: Client) -> None:
    response = staff_client.post(
        "/requests/new",
        {
            "client_name": "Bob",
            "client_emails": "not-an-address",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "50",
        },
    )
    assert response.status_code == 400
    assert b"does not look like an e-mail address" in response.content
    assert not DocumentRequest.objects.exists()


# --- the client's side --------------------------------------------------------------------------


def test_client_sends_a_file_for_an_item_and_it_is_submitted(staff_user: User, s3_bucket: str) -> None:
    document_request, token = make_request(staff_user, client_name=f"Ann {SCRIPT}", due_date=dt.date(2030, 1, 31))
    client = visitor(document_request)
    checklist = client.get(f"/r/{token}/")
    assert checklist.status_code == 200
    assert b"P60 for 2025" in checklist.content
    assert b"Waiting for files" in checklist.content
    assert SCRIPT.encode() not in checklist.content  # names are text
    p60 = item(document_request, "P60 for 2025")
    page = client.get(f"/r/{token}/items/{p60.pk}/")
    assert page.status_code == 200
    assert f"/r/{token}/items/{p60.pk}/api".encode() in page.content  # the upload area is bound to the item

    upload = send(client, token, p60.pk, filename="p60.pdf")
    assert upload.state == UploadState.STORED
    assert upload.request_item_id == p60.pk
    assert upload.key.split("/")[1] == f"request-{document_request.pk}"
    assert upload.uploader_email == "ann@example.test"
    p60.refresh_from_db()
    assert p60.state == ItemState.SUBMITTED
    entry = AuditEntry.objects.get(action="request.item_submitted")
    assert entry.actor_label == f"request:{document_request.pk}"
    assert entry.detail["upload"] == str(upload.id)
    again = client.get(f"/r/{token}/")
    assert b"Sent, waiting for review" in again.content
    assert b"p60.pdf" in again.content


def test_the_items_limits_are_enforced_before_signing(staff_user: User, s3_bucket: str) -> None:
    document_request, token = make_request(staff_user)
    client = visitor(document_request)
    p60, photo = item(document_request, "P60 for 2025"), item(document_request, "Photo ID")
    wrong_name = sign(client, token, p60.pk, filename="p60.docx", type_="application/pdf")
    assert wrong_name.status_code == 400
    assert wrong_name.json()["code"] == "limit_exceeded"
    assert wrong_name.json()["field"] == "filename"
    wrong_type = sign(client, token, photo.pk, filename="id.txt", type_="text/plain")
    assert wrong_type.status_code == 400
    assert wrong_type.json()["field"] == "type"
    assert sign(client, token, photo.pk, filename="id.jpg", type_="image/jpeg").status_code == 200

    send(client, token, p60.pk)
    one_too_many = sign(client, token, p60.pk)
    assert one_too_many.status_code == 400
    assert one_too_many.json()["field"] == "count"
    assert not Upload.objects.filter(request_item=p60).exclude(state=UploadState.STORED).exists()
    # A multipart upload is refused before S3 opens anything.
    multipart = client.post(
        f"{api(token, p60.pk)}/s3/multipart",
        {"filename": "big.pdf", "type": "application/pdf", "metadata": {"size": 6_000_000}},
        content_type="application/json",
    )
    assert multipart.status_code == 400
    assert multipart.json()["field"] == "count"


def test_staff_send_an_item_back_the_client_is_emailed_and_sends_it_again(
    staff_user: User, staff_client: Client, s3_bucket: str, smtp: SmtpSink
) -> None:
    document_request, token = make_request(staff_user)
    client = visitor(document_request)
    p60 = item(document_request, "P60 for 2025")
    send(client, token, p60.pk)
    reason = f"This is the 2024 one; we need 2025. {SCRIPT}"
    response = staff_client.post(f"/requests/{document_request.pk}/items/{p60.pk}/changes", {"reason": reason})
    assert response.status_code == 302
    p60.refresh_from_db()
    assert p60.state == ItemState.CHANGES_REQUESTED
    assert p60.changes_reason == reason
    [message] = smtp.wait_for(1)
    assert smtp.recipients[0] == ["ann@example.test"]
    body = message.get_content()
    assert "we need 2025" in body
    assert f"https://files.example.test/r/{token}/" in body
    assert "request.client_emailed" in actions(document_request)
    staff_page = staff_client.get(f"/requests/{document_request.pk}/")
    assert b"we need 2025" in staff_page.content
    assert SCRIPT.encode() not in staff_page.content  # reasons are text on the staff page too

    page = client.get(f"/r/{token}/items/{p60.pk}/")
    assert b"we need 2025" in page.content
    assert SCRIPT.encode() not in page.content
    # The item took one file; after being sent back it takes a new one.
    send(client, token, p60.pk, body=b"%PDF-2025")
    p60.refresh_from_db()
    assert p60.state == ItemState.SUBMITTED
    assert actions(document_request).count("request.item_submitted") == 2


def test_accepting_every_required_item_closes_the_request_and_tells_staff(
    staff_user: User, staff_client: Client, s3_bucket: str, smtp: SmtpSink
) -> None:
    document_request, token = make_request(staff_user)
    client = visitor(document_request)
    p60, photo = item(document_request, "P60 for 2025"), item(document_request, "Photo ID")
    send(client, token, p60.pk)
    assert staff_client.post(f"/requests/{document_request.pk}/items/{p60.pk}/accept").status_code == 302
    document_request.refresh_from_db()
    assert document_request.state == RequestState.OPEN  # the photo ID is still missing
    send(client, token, photo.pk, filename="id.jpg", type_="image/jpeg")

    page = staff_client.get(f"/requests/{document_request.pk}/")
    assert b"Accept all waiting for review (1)" in page.content
    assert staff_client.post(f"/requests/{document_request.pk}/accept-all").status_code == 302
    document_request.refresh_from_db()
    assert document_request.state == RequestState.CLOSED
    assert document_request.closed_at is not None
    assert item(document_request, "Anything else").state == ItemState.OUTSTANDING  # optional
    message, receipt = smtp.wait_for(2)  # staff told, then the client's receipt (issue 16, step 2)
    assert smtp.recipients[0] == [staff_user.email]
    assert "Request complete: Ann Client" in message["Subject"]
    assert f"/requests/{document_request.pk}/" in message.get_content()
    assert smtp.recipients[1] == ["ann@example.test"]
    assert receipt["Subject"].startswith("Receipt")
    assert actions(document_request)[-3:] == ["request.closed", "request.staff_told", "request.receipt_sent"]

    # The link now says the request is complete, and signs nothing.
    closed = client.get(f"/r/{token}/")
    assert closed.status_code == 410
    assert b"complete" in closed.content
    assert client.get(f"/r/{token}/items/{photo.pk}/").status_code == 410
    assert sign(client, token, photo.pk, filename="id.jpg", type_="image/jpeg").status_code == 410
    # Review of a closed request is refused, and changes nothing.
    staff_client.post(f"/requests/{document_request.pk}/items/{photo.pk}/changes", {"reason": "again"})
    assert item(document_request, "Photo ID").state == ItemState.ACCEPTED


def test_the_item_state_machine_refuses_impossible_moves(
    staff_user: User, staff_client: Client, s3_bucket: str
) -> None:
    document_request, token = make_request(staff_user)
    p60 = item(document_request, "P60 for 2025")
    # Nothing was sent: it cannot be accepted or sent back.
    with pytest.raises(ItemWrongState):
        item_accept(actor=staff_user, request_id=document_request.pk, item_id=p60.pk)
    response = staff_client.post(
        f"/requests/{document_request.pk}/items/{p60.pk}/changes", {"reason": "no"}, follow=True
    )
    assert b"cannot be sent back for changes now" in response.content
    with pytest.raises(ItemWrongState):
        item_move(p60, ItemState.ACCEPTED, action="test")
    send(visitor(document_request), token, p60.pk)
    item_accept(actor=staff_user, request_id=document_request.pk, item_id=p60.pk)
    p60.refresh_from_db()
    for target in set(ItemState) - {ItemState.CHANGES_REQUESTED}:
        with pytest.raises(ItemWrongState):
            item_move(p60, target, action="test")  # accepted moves only back to changes requested (staff)
    # A stale copy of the row (another reviewer moved it meanwhile) moves nothing.
    stale = RequestItem.objects.get(pk=item(document_request, "Photo ID").pk)
    RequestItem.objects.filter(pk=stale.pk).update(state=ItemState.SUBMITTED)
    with pytest.raises(ItemWrongState):
        item_move(stale, ItemState.SUBMITTED, action="test")
    assert item(document_request, "Photo ID").state == ItemState.SUBMITTED
    # The accepted item takes no more files.
    refused = sign(visitor(document_request), token, p60.pk)
    assert refused.status_code == 409
    assert refused.json()["code"] == "item_wrong_state"
    assert not AuditEntry.objects.filter(action="test").exists()


def test_a_link_opens_only_its_own_request_and_items(staff_user: User, s3_bucket: str) -> None:
    mine, my_token = make_request(staff_user, client_name="Ann")
    theirs, their_token = make_request(staff_user, client_name="Bob", client_emails=["bob@example.test"])
    their_item = item(theirs, "Photo ID")
    client = visitor(mine)
    # My token with their item: 404 everywhere, nothing registered.
    assert client.get(f"/r/{my_token}/items/{their_item.pk}/").status_code == 404
    refused = sign(client, my_token, their_item.pk, filename="id.jpg", type_="image/jpeg")
    assert refused.status_code == 404
    assert not Upload.objects.filter(request_item=their_item).exists()
    # Their upload is not addressable through my link, even through my item's mount.
    theirs_upload = send(visitor(theirs), their_token, their_item.pk, filename="id.jpg", type_="image/jpeg")
    my_item = item(mine, "Photo ID")
    assert client.get(f"{api(my_token, my_item.pk)}/uploads/{theirs_upload.id}").status_code == 404
    # A portal's token shape that opens no request, and a made-up token: plain 404 pages.
    assert client.get("/r/" + "A" * 32 + "/").status_code == 404
    assert client.get("/r/short/").status_code == 404
    assert sign(client, "B" * 32, my_item.pk).status_code == 404


def test_the_staff_list_filters_by_state_and_overdue_and_sorts_by_due(staff_user: User, staff_client: Client) -> None:
    today = timezone.localdate()
    _late, _ = make_request(staff_user, client_name="Late Larry", due_date=today - dt.timedelta(days=3))
    _soon, _ = make_request(staff_user, client_name="Soon Sue", due_date=today + dt.timedelta(days=2))
    later, _ = make_request(staff_user, client_name="Later Lou", due_date=today + dt.timedelta(days=20))
    DocumentRequest.objects.filter(pk=later.pk).update(state=RequestState.CLOSED)

    def names(**query: str) -> list[str]:
        page = staff_client.get("/requests/", query)
        assert page.status_code == 200
        return re.findall(r'data-request="\d+">\s*<td><a href="[^"]+">([^<]+)</a>', page.content.decode())

    assert names() == ["Late Larry", "Soon Sue", "Later Lou"]
    assert names(sort="-due") == ["Later Lou", "Soon Sue", "Late Larry"]
    assert names(overdue="on") == ["Late Larry"]
    assert names(state="closed") == ["Later Lou"]
    assert names(state="bogus") == ["Late Larry", "Soon Sue", "Later Lou"]  # a bad filter value is ignored
    assert b"(overdue)" in staff_client.get("/requests/").content


def test_ids_out_of_any_range_are_plain_404s(staff_user: User, staff_client: Client) -> None:
    document_request, token = make_request(staff_user)
    huge = "9" * 30
    assert visitor().get(f"/r/{token}/items/{huge}/").status_code == 404
    assert staff_client.get(f"/requests/{huge}/").status_code == 404
    assert staff_client.post(f"/requests/{document_request.pk}/items/{huge}/accept").status_code == 404
    assert staff_client.get("/requests/new", {"template": huge}).status_code == 200


def test_an_s3_event_alone_stores_an_items_file_and_submits_the_item(
    staff_user: User,
    s3_bucket: str,
    settings,
    transactional_db: None,  # type: ignore[no-untyped-def]
) -> None:
    """The event can come before the complete call (or instead of it): the item moves
    too, not only the upload (the ledger's batch path leaves item uploads to the
    per-event path, which tells the followups)."""
    settings.INTAKE_EVENTS_WEBHOOK_TOKEN = "webhook-test-token-0123456789"
    document_request, token = make_request(staff_user)
    photo = item(document_request, "Photo ID")
    signed = sign(visitor(document_request), token, photo.pk, filename="id.jpg", type_="image/jpeg", size=3).json()
    requests.put(signed["url"], data=b"jpg", headers=signed["headers"], timeout=10).raise_for_status()
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-11-28T12:00:00.000Z",
        "s3": {
            "bucket": {"name": settings.INTAKE_S3_BUCKET},
            "object": {"key": quote_plus(signed["key"]), "size": 3, "eTag": "x", "sequencer": "0055AED6DCD90281E5"},
        },
    }
    response = Client().post(
        "/api/events/s3",
        data=json.dumps({"Records": [record]}),
        content_type="application/json",
        headers={"Authorization": "Bearer webhook-test-token-0123456789"},
    )
    assert response.status_code == 200
    assert Upload.objects.get(pk=signed["id"]).state == UploadState.STORED
    assert item(document_request, "Photo ID").state == ItemState.SUBMITTED
    assert AuditEntry.objects.get(action="request.item_submitted").detail["upload"] == signed["id"]


def test_admins_edit_templates_in_django_admin_and_each_save_is_audited(db: None) -> None:
    admin = User.objects.create_superuser("root", "root@example.test", "x" * 20)
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/uploader/requesttemplate/add/",
        {
            "name": "Annual tax return pack",
            "description": "",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
            "items-0-position": "0",
            "items-0-title": "P60 for 2025",
            "items-0-instructions": "",
            "items-0-required": "on",
            "items-0-allowed_extensions": '[".PDF"]',
            "items-0-allowed_content_types": "[]",
            "items-0-max_files": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    template = RequestTemplate.objects.get()
    assert list(template.items.values_list("title", "allowed_extensions", "max_files")) == [
        ("P60 for 2025", [".pdf"], 1)
    ]
    entry = AuditEntry.objects.get(action="request_template.saved")
    assert entry.actor_label == "root"
    assert entry.detail == {"template": template.pk, "name": "Annual tax return pack", "items": 1, "new": True}
    # A bad ending is a form error, not a server error.
    refused = client.post(
        f"/admin/uploader/requesttemplate/{template.pk}/change/",
        {
            "name": "Annual tax return pack",
            "description": "",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "1",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
            "items-0-id": str(template.items.get().pk),
            "items-0-template": str(template.pk),
            "items-0-position": "0",
            "items-0-title": "P60 for 2025",
            "items-0-instructions": "",
            "items-0-required": "on",
            "items-0-allowed_extensions": '[".p/df"]',
            "items-0-allowed_content_types": "[]",
            "items-0-max_files": "1",
        },
    )
    assert refused.status_code == 200
    assert b"is not a file name ending" in refused.content
    assert AuditEntry.objects.filter(action="request_template.saved").count() == 1


def test_a_submitted_item_whose_files_are_gone_waits_for_files_again(
    staff_user: User, staff_client: Client, s3_bucket: str
) -> None:
    document_request, token = make_request(staff_user)
    client = visitor(document_request)
    photo, p60 = item(document_request, "Photo ID"), item(document_request, "P60 for 2025")
    first = send(client, token, photo.pk, filename="front.jpg", type_="image/jpeg")
    second = send(client, token, photo.pk, filename="back.jpg", type_="image/jpeg")
    upload_close(upload_id=first.id, state=UploadState.DELETED, action="upload.deleted")
    assert item(document_request, "Photo ID").state == ItemState.SUBMITTED  # one file is left
    upload_close(upload_id=second.id, state=UploadState.DELETED, action="upload.deleted")
    assert item(document_request, "Photo ID").state == ItemState.OUTSTANDING
    assert AuditEntry.objects.get(action="request.item_files_gone").detail["upload"] == str(second.id)
    # An item that had been sent back goes back to that, its reason still shown.
    send(client, token, p60.pk)
    staff_client.post(f"/requests/{document_request.pk}/items/{p60.pk}/changes", {"reason": "Wrong year."})
    again = send(client, token, p60.pk)
    upload_close(upload_id=again.id, state=UploadState.DELETED, action="upload.deleted")
    assert item(document_request, "P60 for 2025").state == ItemState.CHANGES_REQUESTED
    assert b"Wrong year." in client.get(f"/r/{token}/").content
