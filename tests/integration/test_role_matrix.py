"""Each role against each staff action, over HTTP (Django's test client, real views,
real database, the S3 emulator for the calls that reach S3)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from uploader.access.accounts import user_set_role
from uploader.access.roles import Role
from uploader.bundles.build import bundle_build
from uploader.notify.models import WebhookDelivery, WebhookDeliveryState
from uploader.portals.models import Portal
from uploader.portals.services import portal_create
from uploader.requests.models import DocumentRequest, ItemState, RequestItem, RequestTemplate
from uploader.requests.services import ItemSpec, request_create
from uploader.uploads.models import Upload

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROLES: dict[str, Role | None] = {"admin": Role.ADMIN, "staff": Role.STAFF, "viewer": Role.VIEWER, "norole": None}
WHO = [*ROLES, "anonymous"]


def _client_for(who: str) -> Client:
    client = Client()
    if who != "anonymous":
        user = User.objects.create_user(username=f"{who}-{uuid.uuid4().hex[:8]}", password="x" * 20)
        user_set_role(user=user, role=ROLES[who], source="test")
        client.force_login(user)
    return client


@pytest.fixture
def stored_upload(s3_bucket: str) -> Upload:
    """A stored file that belongs to someone else (an admin uploaded it)."""
    client = _client_for("admin")
    created = client.get("/api/s3/params", {"filename": "plan.pdf", "type": "application/pdf", "size": 4}).json()
    requests.put(created["url"], data=b"plan", headers=created["headers"], timeout=10).raise_for_status()
    assert client.post(f"/api/s3/complete?key={created['key']}").status_code == 200
    return Upload.objects.get(pk=created["id"])


def _given_up_delivery() -> WebhookDelivery:
    """A fresh given-up webhook delivery of a fresh portal (one per caller: the first
    caller allowed to send it again makes it pending). Nothing is sent: these tests
    never run the on-commit hook that enqueues the attempt."""
    portal = portal_create(actor=None, name=f"Hooks {uuid.uuid4().hex[:6]}")
    return WebhookDelivery.objects.create(
        portal=portal,
        url="https://hooks.example.com/in",
        event="portal.files_arrived",
        body="{}",
        state=WebhookDeliveryState.GAVE_UP,
        attempts=5,
    )


def _any_portal() -> Portal:
    return Portal.objects.first() or portal_create(actor=None, name="Holds", title="Send us files")


def _retry_path(delivery: WebhookDelivery) -> str:
    return f"/portals/{delivery.portal_id}/webhooks/{delivery.pk}/retry"


def _submitted_item_path(action: str, *, under: str = "") -> str:
    """A fresh request whose one item waits for review (one per caller: the first caller
    allowed to accept it closes the request); `under="/api"` for the requests API."""
    request = request_create(actor=None, client_name="Ann", client_emails=["ann@example.test"], items=[ItemSpec("P60")])
    item = request.items.get()
    RequestItem.objects.filter(pk=item.pk).update(state=ItemState.SUBMITTED)
    return f"{under}/requests/{request.pk}/items/{item.pk}/{action}"


def _complete_request_path() -> str:
    """A fresh request that is complete and waits for staff to close it."""
    request = request_create(
        actor=None, client_name="Ann", client_emails=["ann@example.test"], items=[ItemSpec("P60")], waits_for_staff=True
    )
    request.items.update(state=ItemState.ACCEPTED)
    return f"/requests/{request.pk}/close"


def _a_template() -> RequestTemplate:
    return RequestTemplate.objects.create(name=f"Pack {uuid.uuid4().hex[:8]}")


def _open_request() -> DocumentRequest:
    return request_create(actor=None, client_name="Ann", client_emails=["ann@example.test"], items=[ItemSpec("P60")])


# The client's details again, and no item rows: a valid edit that changes the name.
_EDIT_REQUEST = {
    "client_name": "Ann Other",
    "client_emails": "ann@example.test",
    "items-TOTAL_FORMS": "0",
    "items-INITIAL_FORMS": "0",
    "items-MIN_NUM_FORMS": "0",
    "items-MAX_NUM_FORMS": "50",
}


_NEW_REQUEST = {
    "client_name": "Ann",
    "client_emails": "ann@example.test",
    "items-TOTAL_FORMS": "1",
    "items-INITIAL_FORMS": "0",
    "items-MIN_NUM_FORMS": "0",
    "items-MAX_NUM_FORMS": "50",
    "items-0-title": "P60",
    "items-0-required": "on",
}


def _portal_with_file(upload: Upload) -> Portal:
    """A fresh portal holding the stored file (one zip per caller)."""
    portal = portal_create(actor=None, name=f"Zip {uuid.uuid4().hex[:6]}", title="Send us files")
    Upload.objects.filter(pk=upload.pk).update(portal=portal)
    return portal


def _request_with_file(upload: Upload) -> int:
    request = request_create(actor=None, client_name="Ann", client_emails=["ann@example.test"], items=[ItemSpec("P60")])
    Upload.objects.filter(pk=upload.pk).update(request_item=request.items.get())
    return int(request.pk)


def _ready_bundle_path(upload: Upload, action: str) -> str:
    """A ready zip of the file, asked for by an admin and built here (the test's
    transaction never commits, so the on-commit enqueue does not run)."""
    location = _client_for("admin").post(f"/portals/{_portal_with_file(upload).pk}/bundle")["Location"]
    bundle_build(location.strip("/").split("/")[-1])
    return f"{location}{action}"


def _call(client: Client, action: str, upload: Upload) -> int:
    calls: dict[str, Any] = {
        "open dashboard": lambda: client.get("/"),
        "sign an upload": lambda: client.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": 3}),
        "start a multipart upload": lambda: client.post(
            "/api/s3/multipart", json.dumps({"filename": "b.bin", "size": 6_000_000}), content_type="application/json"
        ),
        "list files": lambda: client.get("/api/uploads"),
        "download a file": lambda: client.get(f"/api/uploads/{upload.id}/download"),
        "open Django admin": lambda: client.get("/admin/"),
        "read the audit log in admin": lambda: client.get("/admin/uploader/auditentry/"),
        "manage users in admin": lambda: client.get("/admin/auth/user/"),
        "list portals": lambda: client.get("/portals/"),
        "see and replay failed events": lambda: client.get("/events/"),
        "see upload stats": lambda: client.get("/stats/"),
        "read the audit trail": lambda: client.get("/audit/"),
        "export the audit trail": lambda: client.get("/audit/export.csv"),
        "open the new-portal form": lambda: client.get("/portals/new"),
        "create a portal": lambda: client.post(
            "/portals/new", {"name": f"P {uuid.uuid4().hex[:6]}", "title": "Send us files", "brand_colour": "#0b6e4f"}
        ),
        "send a webhook delivery again": lambda: client.post(_retry_path(_given_up_delivery())),
        "ask to delete a file": lambda: client.get(f"/uploads/{upload.id}/delete"),
        "delete a file": lambda: client.post(f"/uploads/{upload.id}/delete", {"confirmed": "yes"}),
        "ask to hold a file": lambda: client.get(f"/uploads/{upload.id}/hold"),
        "hold a file": lambda: client.post(f"/uploads/{upload.id}/hold", {"confirmed": "yes"}),
        "lift a file's hold": lambda: client.post(f"/uploads/{upload.id}/lift-hold", {"confirmed": "yes"}),
        "hold a portal's files": lambda: client.post(f"/portals/{_any_portal().pk}/hold", {"confirmed": "yes"}),
        "lift a portal's holds": lambda: client.post(f"/portals/{_any_portal().pk}/lift-hold", {"confirmed": "yes"}),
        "list document requests": lambda: client.get("/requests/"),
        "open the new-request form": lambda: client.get("/requests/new"),
        "make a document request": lambda: client.post("/requests/new", _NEW_REQUEST),
        "accept a request item": lambda: client.post(_submitted_item_path("accept")),
        "send a request item back": lambda: client.post(_submitted_item_path("changes"), {"reason": "blurred"}),
        "close a complete request": lambda: client.post(_complete_request_path()),
        "list document requests (API)": lambda: client.get("/api/requests"),
        "read a document request (API)": lambda: client.get(f"/api/requests/{_open_request().pk}"),
        "make a document request (API)": lambda: client.post(
            "/api/requests",
            json.dumps({"clientName": "Ann", "clientEmails": ["ann@example.test"], "items": [{"title": "P60"}]}),
            content_type="application/json",
        ),
        "accept a request item (API)": lambda: client.post(_submitted_item_path("accept", under="/api")),
        "send a request item back (API)": lambda: client.post(
            _submitted_item_path("send-back", under="/api"), json.dumps({"reason": "blurred"}), content_type="application/json"
        ),
        "accept all of a request (API)": lambda: client.post(f"/api/requests/{_open_request().pk}/accept-all"),
        "close a complete request (API)": lambda: client.post(f"/api{_complete_request_path()}"),
        "manage request templates in admin": lambda: client.get("/admin/uploader/requesttemplate/"),
        "open a request's edit form": lambda: client.get(f"/requests/{_open_request().pk}/edit"),
        "edit a document request": lambda: client.post(f"/requests/{_open_request().pk}/edit", _EDIT_REQUEST),
        "reopen a document request": lambda: client.post(f"/requests/{_open_request().pk}/reopen"),
        "list request templates": lambda: client.get("/requests/templates/"),
        "make a request template": lambda: client.post(
            "/requests/templates/new", {**_NEW_REQUEST, "name": f"T {uuid.uuid4().hex[:6]}"}
        ),
        "edit a request template": lambda: client.post(
            f"/requests/templates/{_a_template().pk}/", {**_NEW_REQUEST, "name": f"T {uuid.uuid4().hex[:6]}"}
        ),
        "delete a request template": lambda: client.post(f"/requests/templates/{_a_template().pk}/delete"),
        # The file is clean, so an admin is sent back to its page with the reason.
        "release an unscanned file": lambda: client.post(f"/uploads/{upload.id}/release", {"reason": "known"}),
        "read a quarantined file": lambda: client.post(f"/uploads/{upload.id}/quarantined"),
        "zip a portal's files": lambda: client.post(f"/portals/{_portal_with_file(upload).pk}/bundle"),
        "zip a request's files": lambda: client.post(f"/requests/{_request_with_file(upload)}/bundle"),
        "watch a zip being made": lambda: client.get(_ready_bundle_path(upload, "")),
        "download a zip": lambda: client.post(_ready_bundle_path(upload, "download")),
    }
    return int(calls[action]().status_code)


# Expected status per action, in the order of WHO: admin, staff, viewer, no role, signed out.
MATRIX: dict[str, tuple[int, int, int, int, int]] = {
    "open dashboard": (200, 200, 200, 403, 302),
    "sign an upload": (200, 200, 403, 403, 401),
    "start a multipart upload": (200, 200, 403, 403, 401),
    "list files": (200, 200, 200, 403, 401),
    "download a file": (302, 302, 302, 403, 401),
    # Django admin: staff and admins only (viewers are not Django staff); users only for admins.
    "open Django admin": (200, 200, 302, 302, 302),
    "read the audit log in admin": (200, 403, 302, 302, 302),
    "manage users in admin": (200, 403, 302, 302, 302),
    "list portals": (200, 200, 403, 403, 302),
    "see and replay failed events": (200, 403, 403, 403, 302),
    "see upload stats": (200, 200, 200, 403, 302),
    "read the audit trail": (200, 403, 403, 403, 302),
    "export the audit trail": (200, 403, 403, 403, 302),
    "open the new-portal form": (200, 200, 403, 403, 302),
    "create a portal": (302, 302, 403, 403, 302),
    "send a webhook delivery again": (302, 302, 403, 403, 302),
    # Deleting a file cannot be undone: admins only (Permission.DELETE_FILES).
    "ask to delete a file": (200, 403, 403, 403, 302),
    "delete a file": (302, 403, 403, 403, 302),
    # A legal hold overrides deletion: admins only (Permission.LEGAL_HOLD).
    "ask to hold a file": (200, 403, 403, 403, 302),
    "hold a file": (302, 403, 403, 403, 302),
    "lift a file's hold": (302, 403, 403, 403, 302),
    "hold a portal's files": (302, 403, 403, 403, 302),
    "lift a portal's holds": (302, 403, 403, 403, 302),
    "list document requests": (200, 200, 403, 403, 302),
    "open the new-request form": (200, 200, 403, 403, 302),
    "make a document request": (302, 302, 403, 403, 302),
    "accept a request item": (302, 302, 403, 403, 302),
    "send a request item back": (302, 302, 403, 403, 302),
    "close a complete request": (302, 302, 403, 403, 302),
    # The requests API: the same roles; JSON answers (401 for nobody, not the sign-in page).
    "list document requests (API)": (200, 200, 403, 403, 401),
    "read a document request (API)": (200, 200, 403, 403, 401),
    "make a document request (API)": (201, 201, 403, 403, 401),
    "accept a request item (API)": (200, 200, 403, 403, 401),
    "send a request item back (API)": (200, 200, 403, 403, 401),
    "accept all of a request (API)": (200, 200, 403, 403, 401),
    "close a complete request (API)": (200, 200, 403, 403, 401),
    "open a request's edit form": (200, 200, 403, 403, 302),
    "edit a document request": (302, 302, 403, 403, 302),
    "reopen a document request": (302, 302, 403, 403, 302),
    # Templates are admins' (Django admin; staff are Django staff but may not see them).
    "manage request templates in admin": (200, 403, 302, 302, 302),
    "list request templates": (200, 403, 403, 403, 302),
    "make a request template": (302, 403, 403, 403, 302),
    "edit a request template": (302, 403, 403, 403, 302),
    "delete a request template": (302, 403, 403, 403, 302),
    "release an unscanned file": (302, 403, 403, 403, 302),
    "read a quarantined file": (302, 403, 403, 403, 302),
    # "Download all as a zip": DOWNLOAD and the page's own permission (viewers have
    # DOWNLOAD but see neither portals nor requests).
    "zip a portal's files": (302, 302, 403, 403, 302),
    "zip a request's files": (302, 302, 403, 403, 302),
    "watch a zip being made": (200, 200, 403, 403, 302),
    "download a zip": (302, 302, 403, 403, 302),
}


@pytest.mark.parametrize("action", list(MATRIX))
def test_role_matrix(action: str, stored_upload: Upload) -> None:
    got = tuple(_call(_client_for(who), action, stored_upload) for who in WHO)
    assert got == MATRIX[action], dict(zip(WHO, got, strict=True))


def test_a_viewer_sees_the_business_files_without_the_uploader(stored_upload: Upload) -> None:
    page = _client_for("viewer").get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="uploader"' not in html
    assert "plan.pdf" in html
    assert f"/api/uploads/{stored_upload.id}/download" in html


def test_a_person_without_a_role_gets_a_page_that_says_so(db: None) -> None:
    page = _client_for("norole").get("/")
    assert page.status_code == 403
    assert "Your account has no access to Intake" in page.content.decode()


@pytest.mark.parametrize(
    "page",
    ["upload", "uploadevent", "auditentry", "portal", "derivative", "webhookdelivery"],
)
def test_admins_read_every_record_in_django_admin_and_change_none(page: str, stored_upload: Upload) -> None:
    admin_client = _client_for("admin")
    listing = admin_client.get(f"/admin/uploader/{page}/")
    assert listing.status_code == 200
    assert f"/admin/uploader/{page}/add/" not in listing.content.decode()
    assert admin_client.get(f"/admin/uploader/{page}/add/").status_code == 403


def test_admins_read_sign_in_identities(db: None) -> None:
    assert _client_for("admin").get("/admin/uploader/oidcidentity/").status_code == 200
