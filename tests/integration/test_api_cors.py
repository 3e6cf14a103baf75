"""The API's own CORS (django-cors-headers, ADR 0008) as a running server answers it:
browser apps on listed origins may call /api/ with a Bearer token, nobody else, never
with credentials, and portal pages stay same-origin. Tokens come from the real test
provider and are verified against its JWKS over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.integration import test_oidc_provider_harness as harness
from tests.support.cognito import use_test_provider
from tests.support.oidc import OidcProvider

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

APP_ORIGIN = "https://app.example.test"
FOREIGN_ORIGIN = "https://elsewhere.example.test"


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(
        redirect_uris=[harness.REDIRECT_URI], machine_scopes=("intake/upload", "intake/read")
    ) as provider:
        yield provider


@pytest.fixture
def app_url(live_server, settings, idp: OidcProvider, s3_bucket: str) -> str:  # type: ignore[no-untyped-def]
    use_test_provider(settings, idp)
    settings.INTAKE_API_CORS_ALLOWED_ORIGINS = [APP_ORIGIN]
    settings.CORS_ALLOWED_ORIGINS = [APP_ORIGIN]
    return str(live_server.url)


def preflight(url: str, origin: str, method: str = "GET", headers: str = "authorization") -> requests.Response:
    return requests.options(
        url,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
        timeout=10,
        allow_redirects=False,
    )


def cors_headers(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def test_a_listed_origin_is_allowed_without_credentials(app_url: str) -> None:
    response = preflight(f"{app_url}/api/s3/params", APP_ORIGIN, headers="authorization,content-type,x-request-id")
    # Answered by the middleware: no sign-in, no CSRF, no view (which would say 401).
    assert response.status_code == 200
    assert response.content == b""
    assert "Set-Cookie" not in response.headers
    headers = cors_headers(response)
    assert headers["access-control-allow-origin"] == APP_ORIGIN
    assert {"authorization", "content-type", "x-request-id"} <= set(headers["access-control-allow-headers"].split(", "))
    assert {"GET", "POST", "DELETE"} <= set(headers["access-control-allow-methods"].split(", "))
    assert headers["access-control-max-age"] == "3600"
    assert "access-control-allow-credentials" not in headers
    assert "origin" in response.headers["Vary"].lower()


def test_preflights_for_every_contract_method_are_answered_before_auth(app_url: str) -> None:
    for method, path in (("POST", "/api/s3/multipart"), ("DELETE", "/api/s3/multipart/some-id?key=x")):
        response = preflight(f"{app_url}{path}", APP_ORIGIN, method=method, headers="authorization,content-type")
        assert response.status_code == 200, (method, response.status_code)
        assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_a_foreign_origin_gets_no_allow_origin(app_url: str) -> None:
    response = preflight(f"{app_url}/api/s3/params", FOREIGN_ORIGIN)
    assert "access-control-allow-origin" not in cors_headers(response)
    assert "access-control-allow-credentials" not in cors_headers(response)


def test_with_no_origins_configured_the_api_stays_same_origin(app_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_API_CORS_ALLOWED_ORIGINS = []
    settings.CORS_ALLOWED_ORIGINS = []
    response = preflight(f"{app_url}/api/s3/params", APP_ORIGIN)
    assert "access-control-allow-origin" not in cors_headers(response)


def test_a_bearer_call_from_a_listed_origin_can_be_read_and_from_another_cannot(
    app_url: str, idp: OidcProvider
) -> None:
    token = idp.machine_token(["intake/read"])
    auth = {"Authorization": f"Bearer {token}"}
    listed = requests.get(f"{app_url}/api/uploads", headers={**auth, "Origin": APP_ORIGIN}, timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"uploads": [], "next": None}
    assert listed.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = {h.strip().lower() for h in listed.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"retry-after", "x-request-id"}
    assert "Access-Control-Allow-Credentials" not in listed.headers
    assert listed.headers["X-Request-ID"]

    # The server still answers (CORS is the browser's rule), but without the header the
    # foreign page's browser will not let it read the answer.
    foreign = requests.get(f"{app_url}/api/uploads", headers={**auth, "Origin": FOREIGN_ORIGIN}, timeout=10)
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in cors_headers(foreign)


def test_error_answers_carry_the_cors_headers_too(app_url: str) -> None:
    """A browser app must be able to read a 401 to know its token expired."""
    response = requests.get(
        f"{app_url}/api/uploads", headers={"Authorization": "Bearer not.a.jwt", "Origin": APP_ORIGIN}, timeout=10
    )
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert response.json()["code"] == "invalid_token"


def test_portal_pages_and_their_contract_stay_same_origin(app_url: str, make_portal) -> None:  # type: ignore[no-untyped-def]
    _portal, token = make_portal()
    for path in (f"/p/{token}/api/s3/params", f"/p/{token}/"):
        response = preflight(f"{app_url}{path}", APP_ORIGIN)
        assert cors_headers(response) == {}, path
        assert "origin" not in response.headers.get("Vary", "").lower()
    page = requests.get(f"{app_url}/p/{token}/", headers={"Origin": APP_ORIGIN}, timeout=10)
    assert page.status_code == 200
    assert cors_headers(page) == {}


def test_a_browser_app_on_another_site_can_call_with_its_bearer_token(app_url: str, idp: OidcProvider) -> None:
    token = idp.machine_token(["intake/read"])
    response = requests.get(
        f"{app_url}/api/uploads",
        # What Chromium sends with a fetch() from a page on another site.
        headers={
            "Authorization": f"Bearer {token}",
            "Origin": APP_ORIGIN,
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "cors",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_a_cross_site_request_without_a_token_is_still_refused(app_url: str) -> None:
    """Only a Bearer token lifts the cross-site refusal: a cookie-only request from
    another site's page never signs anything."""
    response = requests.get(
        f"{app_url}/api/uploads",
        headers={"Origin": APP_ORIGIN, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
