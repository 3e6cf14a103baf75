"""Client portals over HTTP: the pages, the portal-scoped upload contract, limits
before signing and after storing, refusals, rate limits, the command line."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import random
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from uploader import s3
from uploader.audit.models import AuditEntry
from uploader.portals import tokens as portal_tokens
from uploader.portals.models import Portal
from uploader.portals.services import portal_disable, portal_rotate_link, portal_update
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("generous_rates")]

MiB = 1024 * 1024
PASSWORD = "open sesame 42"


def visitor_client(**extra: object) -> Client:
    return Client(REMOTE_ADDR=f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}", **extra)


def enter(
    client: Client,
    token: str,
    *,
    password: str | None = None,
    name: str = "Ann Client",
    email: str = "ann@example.test",
) -> None:
    if password is not None:
        response = client.post(f"/p/{token}/unlock", {"password": password})
        assert response.status_code == 302, response.content
    response = client.post(f"/p/{token}/identify", {"name": name, "email": email})
    assert response.status_code == 302, response.content


def sign(client: Client, token: str, *, filename: str = "report.pdf", type_: str = "application/pdf", size: int = 1000):  # type: ignore[no-untyped-def]
    return client.get(f"/p/{token}/api/s3/params", {"filename": filename, "type": type_, "metadata[size]": size})


def upload_file(
    client: Client, token: str, body: bytes, *, filename: str = "report.pdf", type_: str = "application/pdf"
) -> dict:
    signed = sign(client, token, filename=filename, type_=type_, size=len(body))
    assert signed.status_code == 200, signed.content
    put = requests.put(signed.json()["url"], data=body, headers=signed.json()["headers"], timeout=30)
    assert put.status_code == 200
    done = client.post(f"/p/{token}/api/s3/complete?key={signed.json()['key']}")
    assert done.status_code == 200, done.content
    return done.json()


# --- pages ---------------------------------------------------------------------------------------


def test_password_then_identity_then_upload_page(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(password=PASSWORD, welcome_message="Send us your receipts.")
    client = visitor_client()
    page = client.get(f"/p/{token}/")
    assert page.status_code == 200
    assert b'type="password"' in page.content
    assert b"Send us your receipts" not in page.content  # nothing of the portal before the password
    # Nothing is signed before the password.
    assert sign(client, token).status_code == 403

    wrong = client.post(f"/p/{token}/unlock", {"password": "nope"})
    assert wrong.status_code == 400
    assert b"not right" in wrong.content
    assert client.post(f"/p/{token}/unlock", {"password": PASSWORD}).status_code == 302

    identify = client.get(f"/p/{token}/")
    assert b'name="email"' in identify.content
    assert b"Each file can be up to" in identify.content  # limits explained before upload
    refused = client.post(f"/p/{token}/identify", {"name": "", "email": "not-an-address"})
    assert refused.status_code == 400
    assert b"Please enter your name" in refused.content
    assert b"does not look like an e-mail" in refused.content
    assert sign(client, token).status_code == 403  # not identified yet

    enter(client, token, name="Ann", email="ann@example.test")
    upload_page = client.get(f"/p/{token}/")
    assert b'id="uploader"' in upload_page.content
    config = json.loads(
        upload_page.content.split(b'id="intake-upload-config" type="application/json">')[1].split(b"</script>")[0]
    )
    assert config["endpoint"].endswith(f"/p/{token}/api")
    assert "csrftoken" in upload_page.cookies


def test_unknown_token_is_a_plain_404(make_portal) -> None:  # type: ignore[no-untyped-def]
    make_portal()
    client = visitor_client()
    assert client.get("/p/" + "A" * 32 + "/").status_code == 404
    assert client.get("/p/short/").status_code == 404
    assert sign(client, "B" * 32).status_code == 404


def test_changing_the_password_locks_earlier_visitors_out(make_portal, staff_user) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(password=PASSWORD)
    client = visitor_client()
    enter(client, token, password=PASSWORD)
    assert sign(client, token).status_code == 200
    portal_update(actor=staff_user, portal=portal, password="a new password")
    assert sign(client, token).status_code == 403
    assert b'type="password"' in client.get(f"/p/{token}/").content


def test_rotating_the_link_kills_the_old_one_at_once(make_portal, staff_user) -> None:  # type: ignore[no-untyped-def]
    portal, old = make_portal()
    client = visitor_client()
    enter(client, old)
    assert sign(client, old).status_code == 200
    portal_rotate_link(actor=staff_user, portal=portal)
    new = portal_tokens.token_for(portal.token_nonce)
    assert new != old
    assert client.get(f"/p/{old}/").status_code == 404
    assert sign(client, old).status_code == 404
    assert client.get(f"/p/{new}/").status_code == 200
    assert AuditEntry.objects.filter(action="portal.link_rotated", detail__portal=portal.pk).count() == 1


def test_csrf_is_enforced_on_forms_and_state_changing_calls(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal()
    client = visitor_client(enforce_csrf_checks=True)
    client.get(f"/p/{token}/")
    assert client.post(f"/p/{token}/identify", {"name": "Ann", "email": "a@example.test"}).status_code == 403
    csrf = client.cookies["csrftoken"].value
    assert (
        client.post(
            f"/p/{token}/identify", {"name": "Ann", "email": "a@example.test", "csrfmiddlewaretoken": csrf}
        ).status_code
        == 302
    )
    body = json.dumps({"filename": "big.bin", "type": "application/octet-stream", "metadata": {"size": 20 * MiB}})
    # Django's test client sends neither Sec-Fetch-Site nor Origin: the token decides.
    assert client.post(f"/p/{token}/api/s3/multipart", body, content_type="application/json").status_code == 403
    ok = client.post(f"/p/{token}/api/s3/multipart", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert ok.status_code == 200, ok.content
    # The GET that registers a single upload needs the token too (ADR 0004).
    query = {"filename": "x.pdf", "type": "application/pdf", "metadata[size]": 10}
    refused = client.get(f"/p/{token}/api/s3/params", query)
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf")
    assert client.get(f"/p/{token}/api/s3/params", query, HTTP_X_CSRFTOKEN=csrf).status_code == 200


def test_portal_calls_from_the_portals_own_page_need_no_token(make_portal) -> None:  # type: ignore[no-untyped-def]
    """What a current browser says on calls from the portal page (Uppy 6 can send no
    token): same-origin passes, another origin or a sibling subdomain does not."""
    _, token = make_portal()
    client = visitor_client(enforce_csrf_checks=True)
    client.get(f"/p/{token}/")
    csrf = client.cookies["csrftoken"].value
    client.post(f"/p/{token}/identify", {"name": "Ann", "email": "a@example.test", "csrfmiddlewaretoken": csrf})
    body = json.dumps({"filename": "big.bin", "type": "application/octet-stream", "metadata": {"size": 20 * MiB}})

    def create(**headers: str) -> Any:
        return client.post(f"/p/{token}/api/s3/multipart", body, content_type="application/json", headers=headers)

    assert create(**{"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}).status_code == 200
    query = {"filename": "x.pdf", "type": "application/pdf", "metadata[size]": 10}
    assert client.get(f"/p/{token}/api/s3/params", query, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    for refused in (
        create(**{"Sec-Fetch-Site": "same-site", "Origin": "https://files.testserver"}),
        create(**{"Origin": "https://elsewhere.example"}),
        client.get(f"/p/{token}/api/s3/params", query, headers={"Sec-Fetch-Site": "same-site"}),
    ):
        assert (refused.status_code, refused.json()["code"]) == (403, "csrf")
    assert Upload.objects.count() == 2


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer whatever", ""])
def test_an_authorization_header_lifts_no_guard_on_portal_calls(make_portal, authorization: str) -> None:  # type: ignore[no-untyped-def]
    """A browser adds Authorization by itself behind HTTP auth (a staging site): a
    portal call is still the visitor's session, so the cross-site refusal and the
    CSRF check both hold."""
    _, token = make_portal()
    client = visitor_client(enforce_csrf_checks=True)
    client.get(f"/p/{token}/")
    csrf = client.cookies["csrftoken"].value
    client.post(f"/p/{token}/identify", {"name": "Ann", "email": "a@example.test", "csrfmiddlewaretoken": csrf})
    body = json.dumps({"filename": "big.bin", "type": "application/octet-stream", "metadata": {"size": 20 * MiB}})
    no_csrf = client.post(f"/p/{token}/api/s3/multipart", body, content_type="application/json", HTTP_AUTHORIZATION=authorization)
    assert no_csrf.status_code == 403
    assert no_csrf.json()["code"] == "csrf"
    cross_site = client.get(
        f"/p/{token}/api/s3/params",
        {"filename": "x.pdf", "type": "application/pdf", "metadata[size]": 10},
        HTTP_SEC_FETCH_SITE="cross-site",
        HTTP_AUTHORIZATION=authorization,
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert cross_site.status_code == 403
    assert cross_site.json()["code"] == "forbidden"
    assert not Upload.objects.exists()


# --- the portal-scoped contract ------------------------------------------------------------------


def test_bad_json_on_the_portal_contract_is_a_400(make_portal) -> None:  # type: ignore[no-untyped-def]
    """Nested 2,000 deep (the parser runs out of stack), not an object, not JSON: a
    400 naming no field, never a 500."""
    _, token = make_portal()
    client = visitor_client()
    enter(client, token)
    created = client.post(
        f"/p/{token}/api/s3/multipart", json.dumps({"filename": "big.bin", "metadata": {"size": 20 * MiB}}),
        content_type="application/json",
    ).json()
    complete = f"/p/{token}/api/s3/multipart/{created['uploadId']}/complete?key={created['key']}"
    for body in ("[" * 2_000 + "]" * 2_000, "[1, 2]", "not json"):
        for url in (f"/p/{token}/api/s3/multipart", complete):
            response = client.post(url, body, content_type="application/json")
            assert response.status_code == 400, (url, body[:10])
            assert response.json()["code"] == "invalid"
            assert response.json()["field"] is None
    assert Upload.objects.count() == 1


def test_a_portal_path_that_names_no_call_is_a_json_404(make_portal) -> None:  # type: ignore[no-untyped-def]
    """Found by the fuzzing: as on the staff mount, not Django's HTML page."""
    _, token = make_portal()
    client = visitor_client()
    enter(client, token)
    for path in ("uploads/not-a-uuid", "s3/multipart/abc/-1", "uploads"):
        response = client.get(f"/p/{token}/api/{path}")
        assert (response.status_code, response["Content-Type"]) == (404, "application/json"), path
        assert response.json()["code"] == "not_found"


def test_client_upload_is_recorded_under_the_portal_with_identity_and_ip(make_portal) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(slug="smith-co")
    client = visitor_client()
    enter(client, token, name="Ann Client", email="ann@example.test")
    done = upload_file(client, token, b"x" * 1234, filename="receipts.pdf")
    upload = Upload.objects.get(key=done["key"])
    assert upload.portal == portal
    assert upload.owner is None
    assert upload.state == UploadState.STORED
    assert upload.key.startswith("uploads/smith-co/")
    assert (upload.uploader_name, upload.uploader_email) == ("Ann Client", "ann@example.test")
    entry = AuditEntry.objects.get(action="upload.registered", upload=upload)
    assert entry.detail["uploader_name"] == "Ann Client"
    assert entry.detail["uploader_email"] == "ann@example.test"
    assert entry.detail["portal"] == portal.pk
    assert entry.ip_address == client.defaults["REMOTE_ADDR"]
    assert entry.actor is None
    assert entry.actor_label == "portal:smith-co"

    confirmation = client.get(f"/p/{token}/done")
    assert confirmation.status_code == 200
    assert b"receipts.pdf" in confirmation.content
    assert b"1 file arrived" in confirmation.content


def test_a_portal_token_on_another_portals_upload_is_a_404(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token_a = make_portal(name="Portal A")
    _, token_b = make_portal(name="Portal B")
    client = visitor_client()
    enter(client, token_a)
    enter(client, token_b)
    signed = sign(client, token_a).json()
    # The same browser, unlocked on both portals, cannot reach A's upload through B.
    assert client.post(f"/p/{token_b}/api/s3/complete?key={signed['key']}").status_code == 404
    assert client.get(f"/p/{token_b}/api/uploads/{signed['id']}").status_code == 404
    multipart = client.post(
        f"/p/{token_a}/api/s3/multipart",
        json.dumps({"filename": "big.bin", "type": "application/octet-stream", "metadata": {"size": 20 * MiB}}),
        content_type="application/json",
    ).json()
    for path in (f"s3/multipart/{multipart['uploadId']}/1", f"s3/multipart/{multipart['uploadId']}"):
        response = client.get(f"/p/{token_b}/api/{path}?key={multipart['key']}")
        assert response.status_code == 404, path
    # And nobody else on the same portal sees it either.
    stranger = visitor_client()
    enter(stranger, token_a)
    assert stranger.get(f"/p/{token_a}/api/uploads/{signed['id']}").status_code == 404
    # The staff API is not reachable with a portal session either.
    assert client.get(f"/api/uploads/{signed['id']}").status_code == 401
    # While the owner's session still works.
    assert client.get(f"/p/{token_a}/api/uploads/{signed['id']}").status_code == 200


def test_client_pages_name_the_business_and_never_the_portal_name(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_BUSINESS_NAME = "Harbour & Finch"
    settings.INTAKE_BUSINESS_CONTACT_EMAIL = "office@harbour.example"
    settings.INTAKE_BUSINESS_CONTACT_PHONE = ""
    _, token = make_portal(name="HF internal batch 7")  # no title of its own
    client = visitor_client()
    page = client.get(f"/p/{token}/").content.decode()
    assert "So Harbour &amp; Finch knows who the files are from." in page
    assert "Files for Harbour &amp; Finch" in page
    assert 'href="mailto:office@harbour.example"' in page
    assert "HF internal batch 7" not in page
    enter(client, token)
    page = client.get(f"/p/{token}/").content.decode()
    assert "HF internal batch 7" not in page
    assert "Harbour &amp; Finch" in page


def test_a_dead_link_says_whom_to_ask(make_portal, staff_user, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_BUSINESS_NAME = "Harbour & Finch"
    settings.INTAKE_BUSINESS_CONTACT_EMAIL = "office@harbour.example"
    settings.INTAKE_BUSINESS_CONTACT_PHONE = "+44 20 7946 0000"
    portal, token = make_portal(name="HF internal batch 8")
    portal_disable(actor=staff_user, portal=portal)
    page = visitor_client().get(f"/p/{token}/")
    assert page.status_code == 410
    text = page.content.decode()
    assert "To send files, ask Harbour &amp; Finch for a new link" in text
    assert 'href="mailto:office@harbour.example"' in text
    assert 'href="tel:+442079460000"' in text
    assert "HF internal batch 8" not in text
    missing = visitor_client().get(f"/p/{portal_tokens.token_for(portal_tokens.new_nonce())}/")
    assert missing.status_code == 404
    assert "To send files, ask Harbour &amp; Finch for a new link" in missing.content.decode()


def test_the_upload_page_says_what_is_left_on_the_link(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(max_files=3, max_total_bytes="2 MiB")
    client = visitor_client()
    enter(client, token)
    assert sign(client, token, size=512 * 1024).status_code == 200  # in flight: it holds its place
    page = client.get(f"/p/{token}/").content.decode()
    assert "Still open on this link: <strong>1.5 MiB and 2 files left</strong>." in page


@pytest.mark.parametrize("closing", ["disabled", "expired"])
def test_closed_portals_show_a_plain_page_and_sign_nothing(make_portal, staff_user, closing: str) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(welcome_message="Welcome, clients")
    client = visitor_client()
    enter(client, token)
    if closing == "disabled":
        portal_disable(actor=staff_user, portal=portal)
    else:
        portal_update(actor=staff_user, portal=portal, expires_at=timezone.now() - dt.timedelta(minutes=1))
    before = Upload.objects.count()
    page = client.get(f"/p/{token}/")
    assert page.status_code == 410
    assert b"closed" in page.content
    assert b"Welcome, clients" not in page.content
    assert b"uppy" not in page.content.lower()
    response = sign(client, token)
    assert response.status_code == 410
    assert response.json()["code"] == "portal_closed"
    multipart = client.post(
        f"/p/{token}/api/s3/multipart",
        json.dumps({"filename": "a.bin", "type": "application/octet-stream", "metadata": {"size": 6 * MiB}}),
        content_type="application/json",
    )
    assert multipart.status_code == 410
    assert "url" not in multipart.json()
    assert Upload.objects.count() == before
    assert client.post(f"/p/{token}/unlock", {"password": "x"}).status_code == 410


def test_editing_a_live_portal_takes_effect_at_once(make_portal, staff_user) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(title="Old title")
    client = visitor_client()
    enter(client, token)
    assert sign(client, token, size=5 * MiB).status_code == 200
    portal_update(actor=staff_user, portal=portal, title="New title", max_file_bytes="1 MiB")
    assert b"New title" in client.get(f"/p/{token}/").content
    assert sign(client, token, size=5 * MiB).status_code == 400


# --- limits ----------------------------------------------------------------------------------------


def test_per_file_size_limit_refuses_before_signing(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(max_file_bytes="1 MiB")
    client = visitor_client()
    enter(client, token)
    response = sign(client, token, size=2 * MiB)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "limit_exceeded"
    assert "largest file accepted is 1 MiB" in body["message"]
    assert Upload.objects.count() == 0


def test_file_count_counts_uploads_in_flight(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(max_files=2)
    client = visitor_client()
    enter(client, token)
    assert sign(client, token).status_code == 200  # registered, never completed
    multipart = client.post(
        f"/p/{token}/api/s3/multipart",
        json.dumps({"filename": "big.bin", "type": "application/octet-stream", "metadata": {"size": 6 * MiB}}),
        content_type="application/json",
    )
    assert multipart.status_code == 200
    third = sign(client, token)
    assert third.status_code == 400
    assert third.json()["code"] == "limit_exceeded"
    assert "at most 2 files" in third.json()["message"]
    # Another visitor shares the portal's count.
    other = visitor_client()
    enter(other, token)
    assert sign(other, token).status_code == 400
    assert b"received all the files it accepts" in client.get(f"/p/{token}/").content
    # An aborted upload frees its place.
    m = multipart.json()
    assert client.delete(f"/p/{token}/api/s3/multipart/{m['uploadId']}?key={m['key']}").status_code == 200
    assert sign(other, token).status_code == 200


def test_an_abandoned_single_upload_frees_its_place_when_its_url_expires(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    """A PUT that never happened must not fill a one-file portal for a day: once the
    signed URL has expired the registration no longer counts."""
    _, token = make_portal(max_files=1)
    client = visitor_client()
    enter(client, token)
    abandoned = sign(client, token)
    assert abandoned.status_code == 200
    assert sign(client, token).status_code == 400  # its URL can still be used
    Upload.objects.filter(pk=abandoned.json()["id"]).update(
        created_at=timezone.now() - dt.timedelta(seconds=settings.INTAKE_PRESIGN_EXPIRES_SECONDS + 1)
    )
    assert sign(client, token).status_code == 200


def test_total_bytes_limit(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(max_total_bytes="3000")
    client = visitor_client()
    enter(client, token)
    upload_file(client, token, b"a" * 2000)
    response = sign(client, token, size=1500)
    assert response.status_code == 400
    assert response.json()["code"] == "limit_exceeded"
    assert "in total" in response.json()["message"]
    assert sign(client, token, size=1000).status_code == 200


def test_types_by_extension_and_content_type(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(allowed_extensions=".pdf, .JPG", allowed_content_types="application/pdf image/*")
    client = visitor_client()
    enter(client, token)
    by_name = sign(client, token, filename="tool.exe", type_="application/pdf")
    assert by_name.status_code == 400
    assert ".pdf, .jpg" in by_name.json()["message"]
    by_type = sign(client, token, filename="photo.jpg", type_="text/html")
    assert by_type.status_code == 400
    assert "text/html" in by_type.json()["message"]
    assert sign(client, token, filename="photo.JPG", type_="image/jpeg").status_code == 200
    assert sign(client, token, filename="scan.pdf", type_="application/pdf").status_code == 200


def _create_sizeless(client: Client, token: str, filename: str = "scan.bin") -> Any:
    """What Uppy 6 sends: no size anywhere."""
    body = {"filename": filename, "type": "application/octet-stream", "metadata": {"name": filename}}
    return client.post(f"/p/{token}/api/s3/multipart", json.dumps(body), content_type="application/json")


def _put_parts(client: Client, token: str, created: dict, parts: list[bytes]) -> Any:
    base = f"/p/{token}/api/s3/multipart/{created['uploadId']}"
    etags = []
    for number, body in enumerate(parts, start=1):
        url = client.get(f"{base}/{number}", {"key": created["key"]}).json()["url"]
        put = requests.put(url, data=body, timeout=60)
        assert put.status_code == 200, put.text
        etags.append({"PartNumber": number, "ETag": put.headers["ETag"]})
    return client.post(
        f"{base}/complete?key={created['key']}", json.dumps({"parts": etags}), content_type="application/json"
    )


def test_a_file_without_a_declared_size_counts_at_once_and_its_bytes_once_stored(make_portal) -> None:  # type: ignore[no-untyped-def]
    """Size-less registrations (Uppy 6) take a place in the file count when they are
    made; the portal's total holds them when they are stored."""
    portal, token = make_portal(max_files=3, max_total_bytes=str(15 * MiB))
    client = visitor_client()
    enter(client, token)
    single = client.get(f"/p/{token}/api/s3/params", {"filename": "a.pdf", "type": "application/pdf"})
    assert single.status_code == 200, single.content  # a POST policy capped at the portal's per-file limit
    assert single.json()["method"] == "POST"
    first = _create_sizeless(client, token)
    assert first.status_code == 200, first.content
    assert Upload.objects.get(key=first.json()["key"]).declared_size is None
    second = _create_sizeless(client, token, "second.bin")
    assert second.status_code == 200
    full = _create_sizeless(client, token, "third.bin")
    assert (full.status_code, full.json()["field"]) == (400, "count")

    body = os.urandom(12 * MiB)
    done = _put_parts(client, token, first.json(), [body[: 5 * MiB], body[5 * MiB : 10 * MiB], body[10 * MiB :]])
    assert done.status_code == 200, done.content
    stored = Upload.objects.get(key=first.json()["key"])
    assert (stored.state, stored.stored_size, stored.portal) == (UploadState.STORED, 12 * MiB, portal)
    assert s3.get_object_bytes(key=stored.key) == body

    # 3 MiB of the total are left: 6 MiB stored through the second registration break it.
    over = _put_parts(client, token, second.json(), [os.urandom(5 * MiB), os.urandom(1 * MiB)])
    assert over.status_code == 400
    assert over.json()["code"] == "limit_exceeded"
    rejected = Upload.objects.get(key=second.json()["key"])
    assert rejected.state == UploadState.REJECTED
    assert "total" in rejected.rejection_reason
    assert s3.head_object_or_none(key=rejected.key) is None


def test_a_file_without_a_size_is_refused_when_none_of_the_total_is_left(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(max_total_bytes="3000")
    client = visitor_client()
    enter(client, token)
    upload_file(client, token, b"a" * 3000)
    refused = _create_sizeless(client, token)
    assert (refused.status_code, refused.json()["field"]) == (400, "size")
    assert "already been sent" in refused.json()["message"]
    assert Upload.objects.count() == 1


def test_an_object_stored_larger_than_declared_is_rejected_and_not_kept(make_portal) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(max_file_bytes="4000")
    client = visitor_client()
    enter(client, token)
    signed = sign(client, token, size=1000).json()
    # A client that ignores what was signed (or a store that does not enforce it).
    s3.put_object_bytes(key=signed["key"], body=b"z" * 5000, content_type="application/pdf")
    response = client.post(f"/p/{token}/api/s3/complete?key={signed['key']}")
    assert response.status_code == 400
    assert "refused" in response.json()["message"]
    upload = Upload.objects.get(key=signed["key"])
    assert upload.state == UploadState.REJECTED
    assert "4000" in upload.rejection_reason or "3.9 KiB" in upload.rejection_reason
    assert s3.head_object_or_none(key=signed["key"]) is None
    listed = client.get(f"/p/{token}/done")
    assert b"Not accepted" in listed.content


def _pdf_portal_upload(make_portal, body: bytes, *, stored_type: str):  # type: ignore[no-untyped-def]
    """Sign a PDF on a PDF-only portal, PUT it with `stored_type` as its Content-Type
    (the emulator keeps whatever it is sent), and complete it."""
    _, token = make_portal(allowed_content_types="application/pdf")
    client = visitor_client()
    enter(client, token)
    signed = sign(client, token, size=len(body)).json()
    put = requests.put(signed["url"], data=body, headers={"Content-Type": stored_type}, timeout=30)
    assert put.status_code == 200
    return signed, client.post(f"/p/{token}/api/s3/complete?key={signed['key']}")


def test_an_object_stored_with_another_type_than_signed_is_rejected_and_not_kept(make_portal) -> None:  # type: ignore[no-untyped-def]
    """The emulator, like some S3-compatible servers, stores whatever Content-Type the
    client sends; a portal that takes only PDFs must not keep an HTML page."""
    signed, response = _pdf_portal_upload(make_portal, b"<script>alert(1)</script>", stored_type="text/html")
    assert response.status_code == 400
    assert "text/html" in response.json()["message"]
    upload = Upload.objects.get(key=signed["key"])
    assert upload.state == UploadState.REJECTED
    assert "application/pdf was declared" in upload.rejection_reason
    assert s3.head_object_or_none(key=signed["key"]) is None


def test_an_object_stored_with_the_signed_type_and_parameters_is_kept(make_portal) -> None:  # type: ignore[no-untyped-def]
    """Parameters and case are not a different type."""
    signed, response = _pdf_portal_upload(make_portal, b"%PDF-1.4 not really", stored_type="Application/PDF; charset=binary")
    assert response.status_code == 200, response.content
    assert Upload.objects.get(key=signed["key"]).state == UploadState.STORED


def test_a_stored_object_over_the_portals_total_is_rejected(make_portal) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(max_total_bytes="3000")
    client = visitor_client()
    enter(client, token)
    first = sign(client, token, size=1500).json()
    second = sign(client, token, size=1500).json()
    s3.put_object_bytes(key=first["key"], body=b"a" * 1500, content_type="application/pdf")
    assert client.post(f"/p/{token}/api/s3/complete?key={first['key']}").status_code == 200
    # Staff tighten the total while the second file is in flight: what S3 holds is checked again.
    portal.max_total_bytes = 2000
    portal.save(update_fields=["max_total_bytes"])
    s3.put_object_bytes(key=second["key"], body=b"b" * 1500, content_type="application/pdf")
    response = client.post(f"/p/{token}/api/s3/complete?key={second['key']}")
    assert response.status_code == 400
    upload = Upload.objects.get(key=second["key"])
    assert upload.state == UploadState.REJECTED
    assert "total" in upload.rejection_reason
    assert s3.head_object_or_none(key=second["key"]) is None


# --- rate limits -----------------------------------------------------------------------------------


def test_page_rate_limit_trips_and_recovers(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal()
    settings.INTAKE_PORTAL_RATE_PAGE = (3, 2)
    client = visitor_client()
    _wait_for_fresh_window(2)
    for _ in range(3):
        assert client.get(f"/p/{token}/").status_code == 200
    limited = client.get(f"/p/{token}/")
    assert limited.status_code == 429
    assert b"wait" in limited.content
    assert 1 <= int(limited["Retry-After"]) <= 3
    # Another address is not affected.
    assert visitor_client().get(f"/p/{token}/").status_code == 200
    time.sleep(int(limited["Retry-After"]))
    assert client.get(f"/p/{token}/").status_code == 200


def test_password_and_signing_rate_limits(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(password=PASSWORD)
    settings.INTAKE_PORTAL_RATE_PASSWORD = (2, 2)
    settings.INTAKE_PORTAL_RATE_API = (2, 2)
    client = visitor_client()
    _wait_for_fresh_window(2)
    assert client.post(f"/p/{token}/unlock", {"password": "a"}).status_code == 400
    assert client.post(f"/p/{token}/unlock", {"password": "b"}).status_code == 400
    # Even the right password waits now: guessing cannot go faster than the limit.
    assert client.post(f"/p/{token}/unlock", {"password": PASSWORD}).status_code == 429
    _wait_for_fresh_window(2)
    enter(client, token, password=PASSWORD)
    assert sign(client, token).status_code == 200
    assert sign(client, token).status_code == 200
    limited = sign(client, token)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    _wait_for_fresh_window(2)
    assert sign(client, token).status_code == 200


def test_behind_a_proxy_clients_are_counted_by_their_own_address(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    """With one trusted proxy, the rate limit counts the address the proxy saw, not the
    proxy's own (shared by everyone) nor what a client wrote into the header itself."""
    _, token = make_portal()
    settings.INTAKE_PORTAL_RATE_PAGE = (2, 2)
    settings.INTAKE_TRUSTED_PROXIES = 1
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    _wait_for_fresh_window(2)
    for _ in range(2):
        assert proxy.get(f"/p/{token}/", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 200
    assert proxy.get(f"/p/{token}/", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # Another client behind the same proxy still gets in, even one forging a left entry.
    assert proxy.get(f"/p/{token}/", HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.9").status_code == 200


def _wait_for_fresh_window(window: int) -> None:
    """Start at the beginning of a fixed window, so a test's requests share one."""
    time.sleep(window - (time.time() % window) + 0.05)


# --- text stays text -------------------------------------------------------------------------------

SCRIPT = "<script>alert('x')</script>"


def test_html_in_branding_filenames_and_uploader_fields_is_shown_as_text(make_portal, staff_client) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(
        name=f"Evil {SCRIPT}", title=f"Title {SCRIPT}", welcome_message=f'Hi <img src=x onerror="alert(1)"> {SCRIPT}'
    )
    client = visitor_client()
    enter(client, token, name=f"Mallory {SCRIPT}", email="mallory@example.test")
    upload_file(client, token, b"q" * 100, filename=f"{SCRIPT}.pdf")
    pages = [client.get(f"/p/{token}/"), client.get(f"/p/{token}/done")]
    for page in pages:
        assert page.status_code == 200
        assert SCRIPT.encode() not in page.content
        assert b"<img src=x" not in page.content
        assert b"&lt;script&gt;" in page.content
    assert b"Mallory &lt;script&gt;" in pages[1].content


# --- the command line ------------------------------------------------------------------------------


def test_cli_creates_a_portal_whose_printed_link_works(db, s3_bucket, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PUBLIC_BASE_URL = "https://files.example.test"
    monkeypatch.setattr("sys.stdin", io.StringIO("cli password\n"))
    out = io.StringIO()
    call_command(
        "portal_create", "Jones family", "--title", "Jones: send documents", "--max-files", "3",
        "--max-file-size", "10MiB", "--extensions", ".pdf", "--expires", "14d", "--password-stdin",
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    link = out.getvalue().strip()
    assert link.startswith("https://files.example.test/p/")
    portal = Portal.objects.get(slug="jones-family")
    assert portal.max_files == 3
    assert portal.max_file_bytes == 10 * MiB
    assert portal.password_hash.startswith("md5$")  # hashed by Django's (test) hasher
    assert "cli password" not in portal.password_hash
    assert link not in json.dumps(list(Portal.objects.values_list("token_nonce", "token_digest")))

    path = urlsplit(link).path
    client = visitor_client()
    page = client.get(path)
    assert page.status_code == 200
    assert b"Jones: send documents" in page.content
    assert client.post(f"{path}unlock", {"password": "cli password"}).status_code == 302
    assert client.post(f"{path}identify", {"name": "Jo", "email": "jo@example.test"}).status_code == 302
    assert b'id="uploader"' in client.get(path).content

    listing = io.StringIO()
    call_command("portal_list", "--links", stdout=listing)
    assert "jones-family\topen" in listing.getvalue()
    assert link in listing.getvalue()
    call_command("portal_disable", "jones-family", stdout=io.StringIO())
    assert client.get(path).status_code == 410
    assert AuditEntry.objects.filter(action="portal.disabled", actor_label="cli").count() == 1


# --- concurrency -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_cannot_overshoot_the_file_count(make_portal) -> None:  # type: ignore[no-untyped-def]
    """Each registration re-checks the count under the portal's row lock in the
    transaction that saves it, so racing clients get exactly the places there are."""
    from django.db import connection

    _, token = make_portal(max_files=2)
    clients = [visitor_client() for _ in range(6)]
    for client in clients:
        enter(client, token)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def register(client: Client) -> None:
        try:
            barrier.wait()
            statuses.append(sign(client, token).status_code)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=register, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 400, 400, 400, 400]
    assert Upload.objects.filter(state=UploadState.REGISTERED).count() == 2


def test_audit_and_logs_never_hold_the_link_token(make_portal, staff_user, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    portal, token = make_portal(password=PASSWORD)
    portal_update(actor=staff_user, portal=portal, title="Changed")
    client = visitor_client()
    assert client.post(f"/p/{token}/unlock", {"password": "wrong"}).status_code == 400  # Django logs 4xx paths
    assert client.post(f"/p/{token}/unlock", {"password": PASSWORD}).status_code == 302
    enter(client, token)
    upload_file(client, token, b"x" * 3)
    portal_rotate_link(actor=staff_user, portal=portal)
    new = portal_tokens.token_for(portal.token_nonce)
    assert any("/p/<link>/unlock" in record.getMessage() for record in caplog.records)
    assert token not in caplog.text
    assert PASSWORD not in caplog.text
    trail = json.dumps(list(AuditEntry.objects.values("action", "detail", "actor_label")))
    assert {"portal.created", "portal.changed", "portal.link_rotated"} <= {
        e["action"] for e in AuditEntry.objects.values("action")
    }
    assert token not in trail
    assert new not in trail
    assert PASSWORD not in trail
    assert portal.password_hash not in trail


def test_identity_the_database_cannot_hold_is_refused_with_a_message(make_portal) -> None:  # type: ignore[no-untyped-def]
    """An address validate_email accepts but the column cannot hold, or a name with a
    NUL (PostgreSQL refuses it), is a 400 on the form, never a 500 later."""
    _, token = make_portal()
    client = visitor_client()
    client.get(f"/p/{token}/")
    too_long = client.post(f"/p/{token}/identify", {"name": "Ann", "email": "a" * 64 + "@" + "b" * 240 + ".example.test"})
    assert too_long.status_code == 400
    assert b"at most 254 characters" in too_long.content
    nul = client.post(f"/p/{token}/identify", {"name": "Ann\x00Client", "email": "ann@example.test"})
    assert nul.status_code == 400
    assert b"control characters" in nul.content
    enter(client, token)
    bad_name = sign(client, token, filename="report\x00.pdf")
    assert bad_name.status_code == 400
    assert bad_name.json()["field"] == "filename"
    assert not Upload.objects.exists()


def test_wrong_passwords_are_also_limited_per_portal(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    """Guesses from many addresses add up: past the portal's own limit even the right
    password waits, whichever address it comes from."""
    _, token = make_portal(password=PASSWORD)
    settings.INTAKE_PORTAL_RATE_WRONG_PASSWORDS = (3, 60)
    _wait_for_fresh_window(2)
    for _ in range(3):
        assert visitor_client().post(f"/p/{token}/unlock", {"password": "guess"}).status_code == 400
    limited = visitor_client().post(f"/p/{token}/unlock", {"password": "guess"})
    assert limited.status_code == 429
    assert b"too many wrong passwords" in limited.content
    assert visitor_client().post(f"/p/{token}/unlock", {"password": PASSWORD}).status_code == 429


def test_ipv6_clients_are_counted_by_their_64(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal()
    settings.INTAKE_PORTAL_RATE_PAGE = (2, 2)
    _wait_for_fresh_window(2)
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        assert Client(REMOTE_ADDR=host).get(f"/p/{token}/").status_code == 200
    assert Client(REMOTE_ADDR="2001:db8:1:2::3").get(f"/p/{token}/").status_code == 429
    assert Client(REMOTE_ADDR="2001:db8:1:3::1").get(f"/p/{token}/").status_code == 200


def test_an_edit_does_not_undo_a_rotation_made_while_the_form_was_open(make_portal, staff_user) -> None:  # type: ignore[no-untyped-def]
    portal, old_token = make_portal()
    stale = Portal.objects.get(pk=portal.pk)  # the edit form's copy
    portal_rotate_link(actor=staff_user, portal=Portal.objects.get(pk=portal.pk))
    portal_update(actor=staff_user, portal=stale, title="New title")
    fresh = Portal.objects.get(pk=portal.pk)
    assert fresh.title == "New title"
    assert fresh.token_digest != portal_tokens.digest_of(old_token)
    assert visitor_client().get(f"/p/{old_token}/").status_code == 404
