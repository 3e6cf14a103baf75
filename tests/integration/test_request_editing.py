"""Staff change a document request after it is made (the client's details, the due
date, the code, items edited, added, removed), send an accepted item back, and reopen
a closed request; every change is audited, and a change that cannot be made writes
nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import User
from django.test import Client

from tests.integration.test_document_requests import item, make_request, send, visitor
from uploader.audit.models import AuditEntry
from uploader.requests.models import DocumentRequest, ItemState, RequestItem, RequestState
from uploader.requests.services import ItemSpec, item_accept

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("generous_rates")]


def edit_form(staff_client: Client, document_request: DocumentRequest) -> dict[str, Any]:
    """The edit page's form as a browser would send it back unchanged."""
    page = staff_client.get(f"/requests/{document_request.pk}/edit")
    assert page.status_code == 200
    html = page.content.decode()
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or name.group(1) == "csrfmiddlewaretoken":
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if kind and kind.group(1) == "checkbox":
            if " checked" in tag:
                data[name.group(1)] = "on"
        else:
            data[name.group(1)] = value.group(1) if value else ""
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        data[name] = text.strip()
    return data


def row_of(data: dict[str, Any], item_id: int) -> str:
    return next(
        key.removesuffix("-item_id")
        for key, value in data.items()
        if key.endswith("-item_id") and value == str(item_id)
    )


def actions(document_request: DocumentRequest) -> list[str]:
    return list(
        AuditEntry.objects.filter(detail__request=document_request.pk).order_by("id").values_list("action", flat=True)
    )


def test_staff_edit_the_client_the_due_date_and_the_items_each_audited(staff_user: User, staff_client: Client) -> None:
    document_request, _ = make_request(staff_user)
    p60, anything = item(document_request, "P60 for 2025"), item(document_request, "Anything else")
    data = edit_form(staff_client, document_request)
    data.update(
        client_name="Ann <b>Client</b>", client_emails="ann@example.test, tax@ann.example", due_date="2031-03-31"
    )
    data.pop("require_code", None)
    p60_row = row_of(data, p60.pk)
    data.update(
        {f"{p60_row}-title": "P60 for 2026", f"{p60_row}-max_files": "2", f"{p60_row}-allowed_extensions": "pdf JPG"}
    )
    data[f"{row_of(data, anything.pk)}-DELETE"] = "on"
    data.update({"items-3-title": "Council tax bill", "items-3-instructions": "This year's."})
    saved = staff_client.post(f"/requests/{document_request.pk}/edit", data)
    assert saved.status_code == 302, saved.content.decode()[:3000]

    document_request.refresh_from_db()
    assert document_request.client_name == "Ann <b>Client</b>"
    assert document_request.client_emails == ["ann@example.test", "tax@ann.example"]
    assert str(document_request.due_date) == "2031-03-31"
    assert not document_request.require_code
    p60.refresh_from_db()
    assert (p60.title, p60.max_files, p60.allowed_extensions) == ("P60 for 2026", 2, [".pdf", ".jpg"])
    assert not RequestItem.objects.filter(pk=anything.pk).exists()
    titles = list(RequestItem.objects.filter(request=document_request).values_list("title", flat=True))
    assert titles == ["P60 for 2026", "Photo ID", "Council tax bill"]
    assert actions(document_request)[1:] == [
        "request.edited",
        "request.item_removed",
        "request.item_edited",
        "request.item_added",
    ]
    edited = AuditEntry.objects.get(action="request.edited", detail__request=document_request.pk)
    assert edited.actor == staff_user
    assert edited.detail["changes"]["due_date"] == [None, "2031-03-31"]
    page = staff_client.get(f"/requests/{document_request.pk}/")
    assert b"Ann &lt;b&gt;Client&lt;/b&gt;" in page.content  # names are text
    assert b"Item removed" in page.content


def test_an_item_with_files_cannot_be_removed_and_nothing_of_that_edit_is_written(
    staff_user: User, staff_client: Client, s3_bucket: str
) -> None:
    document_request, token = make_request(staff_user)
    photo = item(document_request, "Photo ID")
    send(visitor(document_request), token, photo.pk, filename="id.jpg", type_="image/jpeg")
    data = edit_form(staff_client, document_request)
    data["client_name"] = "Someone Else"
    row = row_of(data, photo.pk)
    assert f"{row}-DELETE" not in data  # no box offered for it
    data[f"{row}-DELETE"] = "on"
    refused = staff_client.post(f"/requests/{document_request.pk}/edit", data)
    assert refused.status_code == 400
    assert b"only an item still waiting" in refused.content
    document_request.refresh_from_db()
    assert document_request.client_name == "Ann Client"
    assert RequestItem.objects.filter(pk=photo.pk).exists()
    assert "request.edited" not in actions(document_request)


def test_bad_edits_are_clear_400s(staff_user: User, staff_client: Client) -> None:
    document_request, _ = make_request(staff_user)
    data = edit_form(staff_client, document_request)
    for change, message in [
        ({"client_emails": "not-an-address"}, b"does not look like an e-mail address"),
        ({row_of(data, item(document_request, "Photo ID").pk) + "-title": ""}, b"This field is required"),
        (
            {row_of(data, item(document_request, "Photo ID").pk) + "-allowed_extensions": ".p d f!"},
            b"is not a file name ending",
        ),
    ]:
        answer = staff_client.post(f"/requests/{document_request.pk}/edit", {**data, **change})
        assert answer.status_code == 400, change
        assert message in answer.content, change
    other, _ = make_request(staff_user, client_name="Bob")
    foreign = {
        **data,
        row_of(data, item(document_request, "Photo ID").pk) + "-item_id": str(item(other, "Photo ID").pk),
    }
    # An item of another request is never edited (its row counts as a new item).
    staff_client.post(f"/requests/{document_request.pk}/edit", foreign)
    assert item(other, "Photo ID").title == "Photo ID"
    assert staff_client.get("/requests/999999999/edit").status_code == 404


def test_removing_the_last_unaccepted_required_item_closes_the_request(
    staff_user: User, staff_client: Client, s3_bucket: str
) -> None:
    document_request, token = make_request(staff_user)
    photo, p60 = item(document_request, "Photo ID"), item(document_request, "P60 for 2025")
    send(visitor(document_request), token, photo.pk, filename="id.jpg", type_="image/jpeg")
    item_accept(actor=staff_user, request_id=document_request.pk, item_id=photo.pk)
    data = edit_form(staff_client, document_request)
    data[f"{row_of(data, p60.pk)}-DELETE"] = "on"
    assert staff_client.post(f"/requests/{document_request.pk}/edit", data).status_code == 302
    document_request.refresh_from_db()
    assert document_request.state == RequestState.CLOSED
    assert actions(document_request)[-4:] == ["request.item_removed", "request.closed", "request.staff_told", "request.receipt_sent"]


def test_staff_send_an_accepted_item_back_and_reopen_a_closed_request(
    staff_user: User, staff_client: Client, s3_bucket: str
) -> None:
    document_request, token = make_request(staff_user, items=[ItemSpec(title="Photo ID")])
    photo = item(document_request, "Photo ID")
    client = visitor(document_request)
    send(client, token, photo.pk, filename="id.jpg", type_="image/jpeg")
    item_accept(actor=staff_user, request_id=document_request.pk, item_id=photo.pk)
    document_request.refresh_from_db()
    assert document_request.state == RequestState.CLOSED
    assert client.get(f"/r/{token}/").status_code == 410
    page = staff_client.get(f"/requests/{document_request.pk}/")
    assert b'id="reopen"' in page.content
    assert staff_client.get(f"/requests/{document_request.pk}/edit").status_code == 302  # closed: reopen first

    assert staff_client.post(f"/requests/{document_request.pk}/reopen").status_code == 302
    document_request.refresh_from_db()
    assert document_request.state == RequestState.OPEN
    assert document_request.closed_at is None
    assert client.get(f"/r/{token}/").status_code == 200
    reopened = AuditEntry.objects.get(action="request.reopened", detail__request=document_request.pk)
    assert reopened.actor == staff_user

    sent_back = staff_client.post(
        f"/requests/{document_request.pk}/items/{photo.pk}/changes", {"reason": "Blurry."}, follow=True
    )
    assert b"Sent back" in sent_back.content
    photo.refresh_from_db()
    assert photo.state == ItemState.CHANGES_REQUESTED
    assert photo.changes_reason == "Blurry."
    # A new round: the client may send again, and the item is submitted.
    send(client, token, photo.pk, filename="id2.jpg", type_="image/jpeg")
    photo.refresh_from_db()
    assert photo.state == ItemState.SUBMITTED


def test_staff_give_a_password_the_client_opens_the_request_with_it(
    staff_user: User, staff_client: Client, s3_bucket: str, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PORTAL_RATE_PASSWORD = (100_000, 60)
    settings.INTAKE_PORTAL_RATE_WRONG_PASSWORDS = (100_000, 60)
    document_request, token = make_request(staff_user)
    client = visitor()
    assert b"/password/" not in client.get(f"/r/{token}/").content  # no password: no such way in
    assert client.get(f"/r/{token}/password/")["Location"] == f"/r/{token}/"
    data = edit_form(staff_client, document_request)
    weak = staff_client.post(f"/requests/{document_request.pk}/edit", {**data, "password": "123"})
    assert weak.status_code == 400
    assert b"too short" in weak.content
    assert (
        staff_client.post(f"/requests/{document_request.pk}/edit", {**data, "password": "orange-kettle-42"}).status_code
        == 302
    )
    document_request.refresh_from_db()
    assert "orange-kettle-42" not in document_request.password_hash
    assert check_password("orange-kettle-42", document_request.password_hash)
    edited = AuditEntry.objects.filter(action="request.edited", detail__request=document_request.pk).get()
    assert edited.detail["changes"] == {"password_hash": ["none", "set"]}

    assert b"/password/" in client.get(f"/r/{token}/").content
    wrong = client.post(f"/r/{token}/password/", {"password": "apple"})
    assert wrong.status_code == 400
    assert b"That password is not right." in wrong.content
    assert client.post(f"/r/{token}/password/", {"password": "orange-kettle-42"})["Location"] == f"/r/{token}/"
    assert b"Hello Ann Client" in client.get(f"/r/{token}/").content
    photo = item(document_request, "Photo ID")
    send(client, token, photo.pk, filename="id.jpg", type_="image/jpeg")
    trail = actions(document_request)
    assert trail.index("request.password_failed") < trail.index("request.password_verified")

    # Removing the password (or changing it) locks those browsers out again.
    data = edit_form(staff_client, document_request)
    assert (
        staff_client.post(f"/requests/{document_request.pk}/edit", {**data, "clear_password": "on"}).status_code == 302
    )
    document_request.refresh_from_db()
    assert document_request.password_hash == ""
    assert b"Confirm it is you" in client.get(f"/r/{token}/").content


def test_password_guesses_are_rate_limited(staff_user: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PORTAL_RATE_PASSWORD = (2, 300)
    document_request, token = make_request(staff_user)
    DocumentRequest.objects.filter(pk=document_request.pk).update(password_hash=make_password("orange-kettle-42"))
    client = visitor()
    for _ in range(2):
        assert client.post(f"/r/{token}/password/", {"password": "apple"}).status_code == 400
    limited = client.post(f"/r/{token}/password/", {"password": "orange-kettle-42"})
    assert limited.status_code == 429
    assert b"Hello" not in client.get(f"/r/{token}/").content
