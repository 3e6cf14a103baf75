"""Machine clients call the upload contract and the read API with Cognito access tokens
from the client-credentials flow, issued by the real test provider and verified
against its JWKS over HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import requests
from django.test import Client

from tests.integration import test_oidc_provider_harness as harness
from tests.support.cognito import use_test_provider
from tests.support.oidc import OidcProvider
from uploader.audit.models import AuditEntry
from uploader.uploads.models import Upload

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PARAMS = {"filename": "invoice.pdf", "type": "application/pdf", "size": "1234"}


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(
        redirect_uris=[harness.REDIRECT_URI], machine_scopes=("intake/upload", "intake/read", "other/thing")
    ) as provider:
        yield provider


@pytest.fixture
def cognito(settings, idp: OidcProvider, s3_bucket: str) -> OidcProvider:  # type: ignore[no-untyped-def]
    use_test_provider(settings, idp)
    return idp


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_an_upload_scope_registers_uploads_owned_by_the_client(cognito: OidcProvider, client: Client) -> None:
    token = cognito.machine_token(["intake/upload"])
    response = client.get("/api/s3/params", PARAMS, **bearer(token))
    assert response.status_code == 200, response.content
    upload = Upload.objects.get(pk=response.json()["id"])
    assert upload.owner is not None
    assert upload.owner.username == f"machine:{cognito.machine_client_id}"
    assert not upload.owner.is_staff
    assert not upload.owner.has_usable_password()
    entry = AuditEntry.objects.get(action="upload.registered", upload=upload)
    assert entry.actor_label == f"machine:{cognito.machine_client_id}"
    # A POST needs no CSRF token with a Bearer token (nothing a browser could forge).
    client_with_csrf = Client(enforce_csrf_checks=True)
    created = client_with_csrf.post(
        "/api/s3/multipart", json.dumps({"filename": "big.bin", "type": "application/octet-stream", "size": 20_000_000}),
        content_type="application/json", **bearer(token),
    )
    assert created.status_code == 200, created.content


def test_scopes_decide_what_a_token_may_do(cognito: OidcProvider, client: Client) -> None:
    read_only = cognito.machine_token(["intake/read"])
    refused = client.get("/api/s3/params", PARAMS, **bearer(read_only))
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    listed = client.get("/api/uploads", **bearer(read_only))
    assert listed.status_code == 200
    assert listed.json() == {"uploads": [], "next": None}
    foreign = cognito.machine_token(["other/thing"])
    assert client.get("/api/uploads", **bearer(foreign)).status_code == 403
    assert Upload.objects.count() == 0


def test_read_scope_lists_and_downloads_stored_files(cognito: OidcProvider, client: Client) -> None:
    token = cognito.machine_token(["intake/upload", "intake/read"])
    created = client.get("/api/s3/params", {**PARAMS, "size": "5"}, **bearer(token)).json()
    requests.put(created["url"], data=b"hello", headers=created["headers"], timeout=10).raise_for_status()
    completed = client.post(f"/api/s3/complete?key={created['key']}", **bearer(token))
    assert completed.status_code == 200, completed.content
    listed = client.get("/api/uploads", {"state": "stored"}, **bearer(token)).json()["uploads"]
    assert [u["id"] for u in listed] == [created["id"]]
    download = client.get(f"/api/uploads/{created['id']}/download", **bearer(token))
    assert download.status_code == 302
    assert requests.get(download["Location"], timeout=10).content == b"hello"
    assert AuditEntry.objects.filter(action="upload.downloaded", upload_id=created["id"]).count() == 1


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer", "invalid_request"),
        ("Bearer not.a.jwt", "invalid_token"),
    ],
)
def test_malformed_authorization_is_a_401(cognito: OidcProvider, client: Client, header: str, code: str) -> None:
    response = client.get("/api/s3/params", PARAMS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"] == f'Bearer error="{code}"'


def test_another_scheme_is_no_credential_and_no_session_is_a_401(cognito: OidcProvider, client: Client) -> None:
    """Basic (say, added by a browser behind HTTP auth) is not how a machine client
    calls: without a session it is simply nobody."""
    response = client.get("/api/s3/params", PARAMS, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_tampered_token_is_refused_and_never_logged(cognito: OidcProvider, client: Client, caplog) -> None:  # type: ignore[no-untyped-def]
    token = cognito.machine_token(["intake/read"])
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "intake/upload intake/read"
    forged = ".".join([header, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), signature])
    response = client.get("/api/s3/params", PARAMS, **bearer(forged))
    assert response.status_code == 401
    assert "bad_signature" in response.json()["message"]
    assert Upload.objects.count() == 0
    assert signature not in caplog.text
    assert payload not in caplog.text


def test_a_token_of_another_app_client_is_refused(cognito: OidcProvider, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_MACHINE_CLIENT_IDS = ["someotherclient"]
    response = client.get("/api/uploads", **bearer(cognito.machine_token(["intake/read"])))
    assert response.status_code == 401
    assert "client_not_allowed" in response.json()["message"]


def test_without_cognito_configured_tokens_are_refused(client: Client, db: None) -> None:
    response = client.get("/api/uploads", **bearer("a.b.c"))
    assert response.status_code == 401
    assert response.json()["message"] == "This server does not accept access tokens."


def test_a_persons_account_with_the_machine_name_is_never_used(cognito: OidcProvider, client: Client) -> None:
    from django.contrib.auth.models import User

    User.objects.create_user(username=f"machine:{cognito.machine_client_id}", password="Person-passw0rd!")
    response = client.get("/api/uploads", **bearer(cognito.machine_token(["intake/read"])))
    assert response.status_code == 401
    assert "belongs to a person" in response.json()["message"]


def test_with_a_session_too_the_audit_names_the_token_s_client(cognito: OidcProvider, client: Client, staff_user) -> None:  # type: ignore[no-untyped-def]
    client.force_login(staff_user)
    response = client.get("/api/s3/params", PARAMS, **bearer(cognito.machine_token(["intake/upload"])))
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="upload.registered")
    assert entry.actor_label == f"machine:{cognito.machine_client_id}"
    assert Upload.objects.get().owner.username == f"machine:{cognito.machine_client_id}"  # type: ignore[union-attr]


def test_a_bearer_call_with_an_expired_session_cookie_is_judged_by_its_token(cognito: OidcProvider, client: Client, staff_user) -> None:  # type: ignore[no-untyped-def]
    client.force_login(staff_user)
    session = client.session
    session["oidc_id_token_expiration"] = 1.0  # long past
    session.save()
    response = client.get("/api/uploads", **bearer(cognito.machine_token(["intake/read"])))
    assert response.status_code == 200


def test_an_impossible_before_date_is_a_400(cognito: OidcProvider, client: Client) -> None:
    response = client.get("/api/uploads", {"before": "2024-02-30T00:00:00"}, **bearer(cognito.machine_token(["intake/read"])))
    assert response.status_code == 400
    assert response.json()["field"] == "before"


def test_a_session_get_that_would_register_needs_the_csrf_token(s3_bucket: str, staff_user) -> None:  # type: ignore[no-untyped-def]
    # From a browser that sends neither Sec-Fetch-Site nor Origin (as Django's test
    # client does), the token is the only proof.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    browser.get("/")  # sets the CSRF cookie, as the upload page does
    refused = browser.get("/api/s3/params", PARAMS)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf"
    assert Upload.objects.count() == 0
    token = browser.cookies["csrftoken"].value
    assert browser.get("/api/s3/params", PARAMS, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_a_persons_access_token_is_refused_even_from_an_allowed_client(cognito: OidcProvider, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    """Only client-credentials tokens act as machine clients: a person's access token
    (authorization code flow) from an app client on the list is not one."""
    settings.INTAKE_MACHINE_CLIENT_IDS = [cognito.client_id, cognito.machine_client_id]
    with requests.Session() as browser:
        code_request = harness.sign_in(cognito, browser, "ada")
    token = harness.exchange_code(cognito, code_request).json()["access_token"]
    response = client.get("/api/uploads", **bearer(token))
    assert response.status_code == 401
    assert response.json()["message"] == "Only client-credentials access tokens may call the API."
