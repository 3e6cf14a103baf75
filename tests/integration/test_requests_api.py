"""The document requests API (/api/requests…) over HTTP: staff sessions and machine
clients with real access tokens (the test OIDC provider, verified against its JWKS),
files sent through an item's mount to the S3 emulator, every review action with its
audit entries, the roles and scopes that may call it, and the answers to bad input,
unknown ids and wrong states."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from tests.integration import test_oidc_provider_harness as harness
from tests.integration.test_document_requests import item, make_request, send, visitor
from tests.support.cognito import use_test_provider
from tests.support.oidc import OidcProvider
from uploader.access.accounts import user_set_role
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.requests import tokens
from uploader.requests.api import views
from uploader.requests.models import DocumentRequest, ItemState, RequestState, RequestTemplate, TemplateItem

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("generous_rates")]

HTML = "<img src=x onerror=alert(1)>"
SCOPES = ("intake/upload", "intake/read", "intake/requests")


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(redirect_uris=[harness.REDIRECT_URI], machine_scopes=SCOPES) as provider:
        yield provider


@pytest.fixture
def cognito(settings, idp: OidcProvider) -> OidcProvider:  # type: ignore[no-untyped-def]
    use_test_provider(settings, idp)
    return idp


@pytest.fixture
def tax_pack(db: None) -> RequestTemplate:
    template = RequestTemplate.objects.create(name="Annual tax return pack", retention_days=30)
    TemplateItem.objects.create(template=template, position=0, title="P60 for 2025", allowed_extensions=[".pdf"])
    TemplateItem.objects.create(template=template, position=1, title="Photo ID")
    TemplateItem.objects.create(template=template, position=2, title="Anything else", required=False)
    return template


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post(client: Client, path: str, body: object = None, **extra: Any) -> Any:
    data = "" if body is None else body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data, content_type="application/json", **extra)


def actions(request_id: int) -> list[str]:
    entries = AuditEntry.objects.filter(detail__request=request_id).order_by("id")
    return list(entries.values_list("action", flat=True))


def person(role: Role | None, name: str) -> Client:
    user = User.objects.create_user(username=name, password="x" * 20, email=f"{name}@example.test")
    user_set_role(user=user, role=role, source="test")
    client = Client()
    client.force_login(user)
    return client


# --- making a request ------------------------------------------------------------------------------


def test_staff_make_a_request_from_a_template(staff_client: Client, tax_pack: RequestTemplate, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PUBLIC_BASE_URL = "https://files.example.test"
    response = post(
        staff_client,
        "/api/requests",
        {
            "clientName": f"Ann {HTML}",
            "clientEmails": ["ann@example.test"],
            "company": "Ann & Co",
            "template": tax_pack.pk,
            "dueDate": "2030-01-31",
        },
    )
    assert response.status_code == 201, response.content
    answer = response.json()
    made = DocumentRequest.objects.get()
    assert answer["id"] == made.pk
    assert response["Location"] == answer["location"] == f"http://testserver/api/requests/{made.pk}"
    assert answer["link"] == f"https://files.example.test/r/{tokens.token_for(made.token_nonce)}/"
    assert answer["staffPage"] == f"https://files.example.test/requests/{made.pk}/"
    assert [i["title"] for i in answer["items"]] == ["P60 for 2025", "Photo ID", "Anything else"]
    assert [i["required"] for i in answer["items"]] == [True, True, False]
    assert answer["items"][0]["allowedExtensions"] == [".pdf"]
    assert {i["state"] for i in answer["items"]} == {"outstanding"}
    assert (answer["template"], answer["dueDate"], answer["retentionDays"]) == (tax_pack.pk, "2030-01-31", 30)
    assert (answer["state"], answer["createdBy"], answer["complete"]) == ("open", "alice", False)
    # Names are data: the JSON string as sent, in a JSON answer the browser will not sniff as a page.
    assert answer["clientName"] == f"Ann {HTML}"
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert made.client_name == f"Ann {HTML}"
    assert made.created_by.username == "alice"  # type: ignore[union-attr]
    entry = AuditEntry.objects.get(action="request.created")
    assert entry.actor_label == "alice"
    assert entry.detail == {
        "request": made.pk,
        "client_name": f"Ann {HTML}",
        "items": 3,
        "template": tax_pack.name,
        "retention_days": 30,
    }
    assert mail.outbox == []  # the client is sent the link by whoever made it, as from the staff page


def test_a_request_with_its_own_items_and_settings(staff_client: Client, tax_pack: RequestTemplate) -> None:
    response = post(
        staff_client,
        "/api/requests",
        {
            "clientName": "Bob",
            "clientEmails": ["bob@example.test", "office@bob.example.test"],
            "template": tax_pack.pk,
            "items": [
                {
                    "title": "Bank statements",
                    "instructions": "January to March",
                    "allowedExtensions": [".PDF", "csv"],
                    "maxFiles": 3,
                },
                {"title": "Receipts", "required": False, "allowedContentTypes": ["image/*"], "dueDate": "2030-02-01"},
            ],
            "requireCode": False,
            "waitsForStaff": True,
            "reminders": {"daysBeforeDue": 0, "overdueEveryDays": 3},
        },
    )
    assert response.status_code == 201, response.content
    made = DocumentRequest.objects.get()
    rows = list(made.items.values_list("title", "required", "allowed_extensions", "allowed_content_types", "max_files"))
    assert rows == [
        ("Bank statements", True, [".pdf", ".csv"], [], 3),
        ("Receipts", False, [], ["image/*"], None),
    ]
    assert made.template == tax_pack  # recorded; its items were replaced by the ones given
    assert (made.require_code, made.waits_for_staff) == (False, True)
    assert (made.remind_days_before_due, made.remind_overdue_every_days) == (None, 3)
    assert response.json()["items"][1]["dueDate"] == "2030-02-01"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"clientName": "Ann", "clientEmails": ["not-an-address"], "items": [{"title": "P60"}]}, "clientEmails"),
        ({"clientName": "Ann", "clientEmails": [], "items": [{"title": "P60"}]}, "clientEmails"),
        ({"clientName": "Ann", "clientEmails": "ann@example.test", "items": [{"title": "P60"}]}, "clientEmails"),
        ({"clientName": "  ", "clientEmails": ["ann@example.test"], "items": [{"title": "P60"}]}, "clientName"),
        ({"clientName": "Ann", "clientEmails": ["ann@example.test"]}, "items"),
        ({"clientName": "Ann", "clientEmails": ["ann@example.test"], "items": []}, "items"),
        ({"clientName": "Ann", "clientEmails": ["ann@example.test"], "template": 999_999}, "template"),
        ({"clientName": "Ann", "clientEmails": ["ann@example.test"], "template": "pack"}, "template"),
        (
            {
                "clientName": "Ann",
                "clientEmails": ["ann@example.test"],
                "items": [{"title": "P60"}],
                "dueDate": "2030-02-30",
            },
            "dueDate",
        ),
        (
            {
                "clientName": "Ann",
                "clientEmails": ["ann@example.test"],
                "items": [{"title": "P60"}],
                "dueDate": "31/01/2030",
            },
            "dueDate",
        ),
        (
            {
                "clientName": "Ann",
                "clientEmails": ["ann@example.test"],
                "items": [{"title": "P60"}],
                "dueDat": "2030-01-31",
            },
            "dueDat",
        ),
        (
            {
                "clientName": "Ann",
                "clientEmails": ["ann@example.test"],
                "items": [{"title": "P60"}, {"instructions": "?"}],
            },
            "items[1].title",
        ),
        (
            {"clientName": "Ann", "clientEmails": ["ann@example.test"], "items": [{"title": "P60", "maxFiles": 0}]},
            "items[0].maxFiles",
        ),
        (
            {"clientName": "Ann", "clientEmails": ["ann@example.test"], "items": [{"title": "P60", "required": "yes"}]},
            "items[0].required",
        ),
        (
            {
                "clientName": "Ann",
                "clientEmails": ["ann@example.test"],
                "items": [{"title": "P60", "allowedExtensions": [".p df"]}],
            },
            "items",
        ),
        (
            {
                "clientName": "Ann",
                "clientEmails": ["ann@example.test"],
                "items": [{"title": "P60"}],
                "reminders": {"onDueDate": 1},
            },
            "reminders.onDueDate",
        ),
        # Only admins choose how long files are kept.
        (
            {
                "clientName": "Ann",
                "clientEmails": ["ann@example.test"],
                "items": [{"title": "P60"}],
                "retentionDays": 7,
            },
            "retentionDays",
        ),
        ({"clientName": "Ann\ud800", "clientEmails": ["ann@example.test"], "items": [{"title": "P60"}]}, "clientName"),
        ({"clientName": "Ann\x00", "clientEmails": ["ann@example.test"], "items": [{"title": "P60"}]}, "clientName"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_written(
    staff_client: Client, tax_pack: RequestTemplate, body: dict[str, Any], field: str
) -> None:
    response = post(staff_client, "/api/requests", body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert response.json()["field"] == field, response.json()
    assert not DocumentRequest.objects.exists()
    assert not AuditEntry.objects.filter(action="request.created").exists()


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "{" * 5_000, '{"clientName": 1}'])
def test_a_body_that_is_not_a_request_is_a_400(staff_client: Client, body: str) -> None:
    response = post(staff_client, "/api/requests", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not DocumentRequest.objects.exists()


def test_an_admin_sets_the_retention(tax_pack: RequestTemplate) -> None:
    admin = person(Role.ADMIN, "ada")
    body = {"clientName": "Ann", "clientEmails": ["ann@example.test"], "template": tax_pack.pk, "retentionDays": None}
    response = post(admin, "/api/requests", body)
    assert response.status_code == 201, response.content
    assert response.json()["retentionDays"] is None
    assert DocumentRequest.objects.get().retention_days is None


# --- reading ---------------------------------------------------------------------------------------


def test_the_list_filters_and_pages_newest_first(
    staff_client: Client, staff_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    late, _ = make_request(staff_user, client_name="Late Larry", due_date=dt.date(2001, 1, 1))
    soon, _ = make_request(staff_user, client_name="Soon Sue", company="Sue Ltd", due_date=dt.date(2999, 1, 1))
    done, _ = make_request(staff_user, client_name="Done Dan", client_emails=["dan@example.test"])
    DocumentRequest.objects.filter(pk=done.pk).update(state=RequestState.CLOSED)

    def names(**query: str) -> list[str]:
        response = staff_client.get("/api/requests", query)
        assert response.status_code == 200, response.content
        return [row["clientName"] for row in response.json()["requests"]]

    assert names() == ["Done Dan", "Soon Sue", "Late Larry"]
    assert names(state="open") == ["Soon Sue", "Late Larry"]
    assert names(overdue="true") == ["Late Larry"]
    assert names(client="sue ltd") == ["Soon Sue"]
    assert names(client="DAN@example") == ["Done Dan"]
    row = staff_client.get("/api/requests", {"overdue": "1"}).json()["requests"][0]
    assert (row["overdue"], row["items"]) == (True, {"total": 3, "accepted": 0, "waitingForReview": 0})

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    first = staff_client.get("/api/requests").json()
    assert [r["id"] for r in first["requests"]] == [done.pk, soon.pk]
    second = staff_client.get("/api/requests", {"before": first["next"]}).json()
    assert ([r["id"] for r in second["requests"]], second["next"]) == ([late.pk], None)

    for query, field in [
        ({"state": "bogus"}, "state"),
        ({"overdue": "maybe"}, "overdue"),
        ({"before": "damaged"}, "before"),
    ]:
        refused = staff_client.get("/api/requests", query)
        assert refused.status_code == 400
        assert refused.json()["field"] == field


def test_a_request_with_its_items_states_and_files(staff_client: Client, staff_user: User, s3_bucket: str) -> None:
    document_request, token = make_request(staff_user)
    p60 = item(document_request, "P60 for 2025")
    upload = send(visitor(document_request), token, p60.pk, filename=f"{HTML}.pdf")
    response = staff_client.get(f"/api/requests/{document_request.pk}")
    assert response.status_code == 200
    items = {i["title"]: i for i in response.json()["items"]}
    assert items["P60 for 2025"]["state"] == "submitted"
    (sent,) = items["P60 for 2025"]["files"]
    assert sent["id"] == str(upload.id)
    assert sent["filename"] == f"{HTML}.pdf"
    assert (sent["size"], sent["sha256"], sent["scanState"]) == (4, None, "not_scanned")
    assert sent["download"] == f"http://testserver/api/uploads/{upload.id}/download"
    assert staff_client.get(sent["download"]).status_code == 302  # staff may download it
    assert items["Photo ID"]["files"] == []


def test_unknown_ids_are_404s(staff_client: Client, staff_user: User) -> None:
    document_request, _ = make_request(staff_user)
    other, _ = make_request(staff_user)
    foreign = other.items.first()
    assert foreign is not None
    huge = "9" * 30
    mine = f"/api/requests/{document_request.pk}"
    answers = [
        staff_client.get("/api/requests/999999"),
        staff_client.get(f"/api/requests/{huge}"),
        staff_client.get("/api/requests/abc"),  # no such call
        post(staff_client, "/api/requests/0/close"),
        post(staff_client, f"{mine}/items/{foreign.pk}/accept"),
        post(staff_client, f"{mine}/items/{foreign.pk}/send-back", {"reason": "blurred"}),
        post(staff_client, f"{mine}/items/{huge}/accept"),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(404, "not_found")] * len(answers)
    assert mail.outbox == []
    # Even once its own request is closed, an item of another request is not there.
    DocumentRequest.objects.filter(pk=document_request.pk).update(state=RequestState.CLOSED)
    assert post(staff_client, f"/api/requests/{document_request.pk}/items/{foreign.pk}/accept").status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == ItemState.OUTSTANDING


# --- review ----------------------------------------------------------------------------------------


def test_review_over_the_api_moves_states_and_audits_as_the_staff_pages(
    staff_client: Client, staff_user: User, s3_bucket: str
) -> None:
    document_request, token = make_request(staff_user, client_name=f"Ann {HTML}")
    client = visitor(document_request)
    p60, photo = item(document_request, "P60 for 2025"), item(document_request, "Photo ID")
    base = f"/api/requests/{document_request.pk}"

    not_yet = post(staff_client, f"{base}/items/{p60.pk}/accept")
    assert not_yet.status_code == 409
    assert not_yet.json()["code"] == "item_wrong_state"

    send(client, token, p60.pk)
    send(client, token, photo.pk, filename="id.pdf")
    accepted = post(staff_client, f"{base}/items/{p60.pk}/accept")
    assert accepted.status_code == 200, accepted.content
    assert (accepted.json()["moved"], accepted.json()["closed"]) == (1, False)
    assert {i["title"]: i["state"] for i in accepted.json()["request"]["items"]}["P60 for 2025"] == "accepted"
    assert post(staff_client, f"{base}/items/{p60.pk}/accept").status_code == 409  # accepted already

    reason = f"The photo is blurred {HTML}"
    sent_back = post(staff_client, f"{base}/items/{photo.pk}/send-back", {"reason": reason})
    assert sent_back.status_code == 200, sent_back.content
    assert sent_back.json()["emailed"] is True
    back = {i["title"]: i for i in sent_back.json()["request"]["items"]}["Photo ID"]
    assert (back["state"], back["changesReason"]) == ("changes_requested", reason)
    (message,) = mail.outbox
    assert message.to == ["ann@example.test"]
    assert reason in message.body

    for body, field in [({"reason": "   "}, "reason"), ({}, "reason"), ({"reason": "x", "why": "y"}, "why")]:
        refused = post(staff_client, f"{base}/items/{photo.pk}/send-back", body)
        assert refused.status_code == 400
        assert refused.json()["field"] == field

    send(client, token, photo.pk, filename="id-again.pdf")
    every = post(staff_client, f"{base}/accept-all")
    assert every.status_code == 200, every.content
    assert (every.json()["moved"], every.json()["closed"]) == (1, True)
    assert every.json()["request"]["state"] == "closed"
    assert post(staff_client, f"{base}/accept-all").status_code == 409  # closed: nothing more to review
    assert post(staff_client, f"{base}/close").status_code == 409

    trail = actions(document_request.pk)
    assert trail[: trail.index("request.closed") + 1] == [
        "request.created",
        "request.item_submitted",
        "request.item_submitted",
        "request.item_accepted",
        "request.item_changes_requested",
        "request.client_emailed",
        "request.item_submitted",
        "request.item_accepted",
        "request.closed",
    ]
    changes = AuditEntry.objects.get(action="request.item_changes_requested")
    assert (changes.actor_label, changes.detail["reason"]) == ("alice", reason)
    assert AuditEntry.objects.get(action="request.item_accepted", detail__all=True).actor_label == "alice"


def test_a_request_that_waits_for_staff_is_closed_over_the_api(staff_client: Client, staff_user: User) -> None:
    document_request, _ = make_request(staff_user, waits_for_staff=True)
    base = f"/api/requests/{document_request.pk}"
    early = post(staff_client, f"{base}/close")
    assert early.status_code == 409
    assert "required item" in early.json()["message"]
    document_request.items.update(state=ItemState.SUBMITTED)
    waiting = post(staff_client, f"{base}/accept-all").json()
    assert (waiting["moved"], waiting["closed"], waiting["waitingForStaff"]) == (3, False, True)
    assert waiting["request"]["complete"] is True
    closed = post(staff_client, f"{base}/close")
    assert closed.status_code == 200, closed.content
    assert (closed.json()["closed"], closed.json()["request"]["state"]) == (True, "closed")
    entry = AuditEntry.objects.get(action="request.closed")
    assert (entry.actor_label, entry.detail["why"]) == ("alice", "closed by staff")


# --- who may call it -------------------------------------------------------------------------------


def test_people_without_the_request_permission_are_refused(staff_user: User) -> None:
    document_request, _ = make_request(staff_user)
    document_request.items.update(state=ItemState.SUBMITTED)
    body = {"clientName": "Ann", "clientEmails": ["ann@example.test"], "items": [{"title": "P60"}]}
    for who, status in [("viewer", 403), ("norole", 403)]:
        client = person(Role.VIEWER if who == "viewer" else None, who)
        assert client.get("/api/requests").status_code == status
        assert client.get(f"/api/requests/{document_request.pk}").status_code == status
        assert post(client, "/api/requests", body).status_code == status
        refused = post(client, f"/api/requests/{document_request.pk}/accept-all")
        assert refused.status_code == status
        assert refused.json()["code"] == "forbidden"
    anonymous = Client().get("/api/requests")
    assert anonymous.status_code == 401
    assert DocumentRequest.objects.count() == 1
    assert set(document_request.items.values_list("state", flat=True)) == {ItemState.SUBMITTED}


def test_a_machine_client_needs_the_requests_scope(cognito: OidcProvider, staff_user: User) -> None:
    document_request, _ = make_request(staff_user)
    client = Client(enforce_csrf_checks=True)  # a Bearer call needs no CSRF token
    without = bearer(cognito.machine_token(["intake/upload", "intake/read"]))
    refused = client.get("/api/requests", **without)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    body = {"clientName": "Bob", "clientEmails": ["bob@example.test"], "items": [{"title": "P60"}]}
    assert post(client, "/api/requests", body, **without).status_code == 403

    with_scope = bearer(cognito.machine_token(["intake/requests"]))
    listed = client.get("/api/requests", **with_scope)
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["requests"]] == [document_request.pk]
    made = post(client, "/api/requests", body, **with_scope)
    assert made.status_code == 201, made.content
    machine = f"machine:{cognito.machine_client_id}"
    assert made.json()["createdBy"] == machine
    assert AuditEntry.objects.get(action="request.created", detail__client_name="Bob").actor_label == machine
    document_request.items.update(state=ItemState.SUBMITTED)
    accepted = post(client, f"/api/requests/{document_request.pk}/accept-all", **with_scope)
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["closed"] is True
    assert set(AuditEntry.objects.filter(action="request.item_accepted").values_list("actor_label", flat=True)) == {
        machine
    }
    # Its files' bytes still need the read scope.
    assert client.get("/api/uploads", **with_scope).status_code == 403


def test_a_session_call_passes_the_csrf_guard_of_the_rest_of_the_api(staff_user: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    browser.get("/")  # the CSRF cookie, as a page sets it
    body = {"clientName": "Ann", "clientEmails": ["ann@example.test"], "items": [{"title": "P60"}]}
    no_proof = post(browser, "/api/requests", body)
    assert no_proof.status_code == 403
    assert no_proof.json()["code"] == "csrf"
    assert post(browser, "/api/requests", body, HTTP_ORIGIN="https://evil.example").json()["code"] == "csrf"
    assert post(browser, "/api/requests", body, HTTP_SEC_FETCH_SITE="cross-site").status_code == 403
    assert browser.get("/api/requests", HTTP_SEC_FETCH_SITE="same-site").status_code == 403
    assert not DocumentRequest.objects.exists()
    assert post(browser, "/api/requests", body, HTTP_ORIGIN="http://testserver").status_code == 201
    token = browser.cookies["csrftoken"].value
    assert browser.get("/api/requests", HTTP_X_CSRFTOKEN=token).status_code == 200
