"""Staff sign-in through the Cognito-like test provider, end to end over HTTP.

The app runs in pytest-django's live server; the provider is the real oidc-provider
(tests/support/oidc.py). The browser is a `requests.Session` that follows redirects
one by one and fills the provider's login form like a person would, so every hop
(our /oidc/authenticate/, the provider, our callback) is a real request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests
from django.contrib.auth import authenticate
from django.contrib.auth.models import User

from tests.integration.test_oidc_provider_harness import parse_form
from tests.support.cognito import use_test_provider
from tests.support.oidc import OidcProvider
from uploader.access.models import OidcIdentity
from uploader.access.roles import Role, role_of
from uploader.audit.models import AuditEntry

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

USERS = (
    {"username": "ada", "groups": ["intake-admins"], "attributes": {"name": "Ada"}},
    {"username": "sam", "groups": ["intake-staff", "unrelated"]},
    {"username": "vic", "groups": ["intake-viewers"]},
    {"username": "nobody", "groups": []},
    {"username": "outsider", "groups": ["marketing"]},
)


@pytest.fixture(scope="module")
def idp(live_server) -> Iterator[OidcProvider]:  # type: ignore[no-untyped-def]
    with OidcProvider(
        redirect_uris=[f"{live_server.url}/oidc/callback/"],
        logout_uris=[f"{live_server.url}/accounts/signed-out/"],
        users=USERS,
    ) as provider:
        yield provider


@pytest.fixture
def cognito(settings, idp: OidcProvider) -> OidcProvider:  # type: ignore[no-untyped-def]
    use_test_provider(settings, idp)
    return idp


class Browser:
    """Follows redirects itself so each hop can be checked, and knows the provider's form."""

    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.session = requests.Session()
        self.visited: list[str] = []

    def follow(self, response: requests.Response) -> requests.Response:
        for _ in range(15):
            if not response.is_redirect:
                return response
            location = urljoin(response.url, response.headers["Location"])
            self.visited.append(location)
            response = self.session.get(location, allow_redirects=False, timeout=15)
        raise AssertionError(f"too many redirects: {self.visited}")

    def get(self, path: str) -> requests.Response:
        url = path if path.startswith("http") else f"{self.app_url}{path}"
        return self.follow(self.session.get(url, allow_redirects=False, timeout=15))

    def log_in_at_provider(self, page: requests.Response, username: str, password: str) -> requests.Response:
        form = parse_form(page.text)
        assert form.action, f"expected the provider's login form at {page.url}"
        response = self.session.post(
            urljoin(page.url, form.action), data={"username": username, "password": password},
            allow_redirects=False, timeout=15,
        )
        return self.follow(response)

    def sign_in(self, idp: OidcProvider, username: str, path: str = "/accounts/login/") -> requests.Response:
        page = self.get(path)
        assert page.url.startswith(idp.issuer), f"sign-in should reach the provider, got {page.url}"
        return self.log_in_at_provider(page, username, idp.user(username)["password"])

    def post_form(self, path: str, data: dict[str, str] | None = None) -> requests.Response:
        token = self.session.cookies.get("csrftoken")
        assert token, "the page set a CSRF cookie"
        response = self.session.post(
            f"{self.app_url}{path}", data={"csrfmiddlewaretoken": token, **(data or {})},
            allow_redirects=False, timeout=15,
        )
        return self.follow(response)


@pytest.fixture
def browser(live_server) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    b = Browser(live_server.url)
    yield b
    b.session.close()


def test_an_admin_signs_in_and_lands_on_the_dashboard_with_the_admin_role(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    page = browser.sign_in(cognito, "ada")
    assert page.status_code == 200
    assert page.url == f"{live_server.url}/"
    assert 'id="uploader"' in page.text  # admins may upload
    assert ">Admin<" in page.text
    identity = OidcIdentity.objects.get(subject=cognito.user("ada")["sub"])
    assert identity.issuer == cognito.issuer
    assert identity.groups == ["intake-admins"]
    user = identity.user
    assert user.username == "ada@example.test"
    assert not user.has_usable_password()
    assert role_of(User.objects.get(pk=user.pk)) is Role.ADMIN
    assert user.is_superuser
    assert user.is_staff
    actions = list(AuditEntry.objects.filter(actor=user).values_list("action", flat=True))
    assert "auth.sign_in" in actions
    assert "auth.role_changed" in actions
    # The flow used PKCE and a nonce, and went through the provider's own pages.
    authorize = next(u for u in browser.visited if u.startswith(cognito.authorization_endpoint))
    query = parse_qs(urlparse(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"]
    assert query["state"]


def test_staff_and_viewer_get_their_roles(cognito, live_server) -> None:  # type: ignore[no-untyped-def]
    staff, viewer = Browser(live_server.url), Browser(live_server.url)
    staff_page = staff.sign_in(cognito, "sam")
    viewer_page = viewer.sign_in(cognito, "vic")
    assert 'id="uploader"' in staff_page.text
    assert 'id="uploader"' not in viewer_page.text
    assert "Recent uploads" in viewer_page.text
    assert role_of(OidcIdentity.objects.get(subject=cognito.user("sam")["sub"]).user) is Role.STAFF
    vic = OidcIdentity.objects.get(subject=cognito.user("vic")["sub"]).user
    assert role_of(vic) is Role.VIEWER
    assert not vic.is_staff
    # The viewer's session cannot register an upload.
    refused = viewer.session.get(f"{live_server.url}/api/s3/params", params={"filename": "a.txt", "size": "3"}, timeout=15)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"


@pytest.mark.parametrize("username", ["nobody", "outsider"])
def test_someone_in_no_allowed_group_sees_a_no_access_page(cognito, browser, live_server, username: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.sign_in(cognito, username)
    assert page.url == f"{live_server.url}/accounts/no-access/"
    assert page.status_code == 403
    assert "Your account has no access to Intake" in page.text
    assert f"{username}@example.test" in page.text
    # Not signed in: the dashboard sends them back to sign in.
    again = browser.session.get(f"{live_server.url}/", allow_redirects=False, timeout=15)
    assert again.status_code == 302
    assert "/accounts/login/" in again.headers["Location"]
    refusal = AuditEntry.objects.get(action="auth.sign_in_refused")
    assert refusal.detail["reason"] == "no_role"
    assert refusal.detail["who"] == f"{username}@example.test"


def test_sign_out_ends_the_app_session_and_the_providers(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    browser.sign_in(cognito, "sam")
    page = browser.post_form("/accounts/logout/")
    assert page.url == f"{live_server.url}/accounts/signed-out/"
    assert "You are signed out" in page.text
    # The browser went through the provider's logout with our client id.
    logout = next(u for u in browser.visited if u.startswith(cognito.logout_endpoint))
    assert parse_qs(urlparse(logout).query) == {
        "client_id": [cognito.client_id], "logout_uri": [f"{live_server.url}/accounts/signed-out/"]
    }
    # Both sessions are gone: the dashboard asks to sign in, and the provider shows its form again.
    page = browser.get("/")
    assert page.url.startswith(cognito.issuer)
    assert parse_form(page.text).action
    sam = OidcIdentity.objects.get(subject=cognito.user("sam")["sub"]).user
    assert AuditEntry.objects.filter(action="auth.sign_out", actor=sam).count() == 1


def test_users_are_found_by_subject_not_by_email(cognito, browser) -> None:  # type: ignore[no-untyped-def]
    # A local account that happens to use ada's address must not become ada's.
    squatter = User.objects.create_user(username="ada@example.test", email="ada@example.test", password="x" * 20)
    browser.sign_in(cognito, "ada")
    identity = OidcIdentity.objects.get(subject=cognito.user("ada")["sub"])
    assert identity.user != squatter
    assert identity.user.username.startswith("ada")
    assert role_of(User.objects.get(pk=squatter.pk)) is None
    # Signing in again finds the same user.
    second = Browser(browser.app_url)
    second.sign_in(cognito, "ada")
    assert OidcIdentity.objects.filter(subject=cognito.user("ada")["sub"]).count() == 1


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https:evil.example", "javascript:alert(1)",
                                    "https://evil.example/"])
def test_next_only_ever_leads_to_this_site(cognito, browser, live_server, target: str) -> None:  # type: ignore[no-untyped-def]
    for entry in ("/accounts/login/", "/oidc/authenticate/"):
        fresh = Browser(live_server.url)
        page = fresh.sign_in(cognito, "sam", path=f"{entry}?{requests.compat.urlencode({'next': target})}")
        assert page.url == f"{live_server.url}/", f"{entry} with next={target!r} ended at {page.url}"
        assert all("evil" not in u and "javascript" not in u for u in fresh.visited)


def test_next_on_this_site_is_kept(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    page = browser.sign_in(cognito, "sam", path="/accounts/login/?next=/uploads/recent")
    assert page.url == f"{live_server.url}/uploads/recent"


def test_an_expired_sign_in_renews_through_the_provider_without_a_password(cognito, browser, live_server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 1
    browser.sign_in(cognito, "sam")
    time.sleep(1.2)
    # A script's call gets a 401 it can act on, not a redirect to another site.
    api = browser.session.get(f"{live_server.url}/api/uploads", headers={"Accept": "application/json"},
                              allow_redirects=False, timeout=15)
    assert api.status_code == 401
    assert api.json()["code"] == "sign_in_expired"
    assert api.json()["signInUrl"].startswith("/oidc/authenticate/")
    # A page load goes through the provider, whose session still holds: no form.
    page = browser.get("/uploads/recent")
    assert page.status_code == 200
    assert page.url == f"{live_server.url}/uploads/recent"
    assert any(u.startswith(cognito.authorization_endpoint) for u in browser.visited[-6:])


def test_a_cancelled_sign_in_shows_a_plain_page(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    page = browser.get("/oidc/callback/?error=access_denied&state=nope")
    assert page.url == f"{live_server.url}/accounts/no-access/"
    assert "Sign-in did not complete" in page.text


def test_password_sign_in_is_off_when_cognito_is_configured(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    User.objects.create_user(username="local", password="Local-passw0rd!", is_staff=True)
    page = browser.get("/accounts/login/")
    assert page.url.startswith(cognito.issuer)  # straight to the provider, no password form of ours
    admin_login = browser.session.get(f"{live_server.url}/admin/login/", allow_redirects=False, timeout=15)
    assert admin_login.status_code == 302
    assert admin_login.headers["Location"].startswith("/accounts/login/")
    # No backend checks passwords, so a right password signs no one in.
    assert authenticate(username="local", password="Local-passw0rd!") is None


# --- review fixes ----------------------------------------------------------------------------


def _code_without_pkce(browser: Browser, idp: OidcProvider, username: str, live_url: str) -> str:
    """What an insider can get: a code for our callback from an authorization request
    they built themselves, with no PKCE challenge and no nonce (a confidential client
    does not have to use PKCE). Returned instead of being handed to our callback."""
    params = {
        "response_type": "code", "client_id": idp.client_id, "redirect_uri": f"{live_url}/oidc/callback/",
        "scope": "openid email profile", "state": "insider",
    }
    response = browser.session.get(idp.authorization_endpoint, params=params, allow_redirects=False, timeout=15)
    for _ in range(15):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(f"{live_url}/oidc/callback/"):
                return parse_qs(urlparse(location).query)["code"][0]
            response = browser.session.get(location, allow_redirects=False, timeout=15)
        else:
            form = parse_form(response.text)
            response = browser.session.post(
                urljoin(response.url, form.action or ""),
                data={"username": username, "password": idp.user(username)["password"]},
                allow_redirects=False, timeout=15,
            )
    raise AssertionError("never came back with a code")


def test_a_code_posted_to_the_password_form_signs_no_one_in(settings, idp, live_server) -> None:  # type: ignore[no-untyped-def]
    """With both sign-ins on, the password form must not run the code exchange (which
    would skip state, nonce and PKCE)."""
    use_test_provider(settings, idp, allow_password=True)
    thief = Browser(live_server.url)
    code = _code_without_pkce(thief, idp, "sam", live_server.url)
    page = thief.get("/accounts/login/")
    token = thief.session.cookies["csrftoken"]
    response = thief.session.post(
        f"{live_server.url}/accounts/login/?code={code}&state=anything",
        data={"csrfmiddlewaretoken": token, "username": "whoever", "password": "whatever"},
        allow_redirects=False, timeout=15,
    )
    assert response.status_code == 200  # the form again, with its error
    assert "did not match" in response.text
    assert page.status_code == 200
    dashboard = thief.session.get(f"{live_server.url}/", allow_redirects=False, timeout=15)
    assert dashboard.status_code == 302
    assert not OidcIdentity.objects.filter(subject=idp.user("sam")["sub"]).exists()


def test_an_unknown_state_ends_on_the_no_access_page_and_signs_no_one_out(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    browser.sign_in(cognito, "sam")
    page = browser.get("/oidc/callback/?code=x&state=replayed")
    assert page.url == f"{live_server.url}/accounts/no-access/"
    assert "Sign-in did not complete" in page.text
    # A link with ?error= and a state this browser is not waiting for changes nothing.
    browser.get("/oidc/callback/?error=access_denied&state=nope")
    assert browser.session.get(f"{live_server.url}/", allow_redirects=False, timeout=15).status_code == 200
    assert AuditEntry.objects.filter(action="auth.sign_in_refused", detail__reason="unknown_state").count() == 2


def test_a_disabled_account_is_signed_out_at_once(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    browser.sign_in(cognito, "sam")
    User.objects.filter(oidc_identity__subject=cognito.user("sam")["sub"]).update(is_active=False)
    response = browser.session.get(f"{live_server.url}/", allow_redirects=False, timeout=15)
    assert response.status_code == 302
    assert "/accounts/login/" in response.headers["Location"]


def test_admin_log_out_also_ends_the_providers_session(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    browser.sign_in(cognito, "ada")
    browser.get("/admin/")
    page = browser.post_form("/admin/logout/")
    assert page.url == f"{live_server.url}/accounts/signed-out/"
    assert any(u.startswith(cognito.logout_endpoint) for u in browser.visited)


def test_losing_the_role_then_signing_in_as_someone_else_ends_the_providers_session(cognito, browser, live_server) -> None:  # type: ignore[no-untyped-def]
    browser.sign_in(cognito, "sam")
    sam = User.objects.get(oidc_identity__subject=cognito.user("sam")["sub"])
    sam.groups.clear()
    sam.is_staff = False
    sam.save()
    page = browser.get("/accounts/no-access/")
    assert "Your account has no access to Intake" in page.text
    browser.post_form("/accounts/logout/")
    assert any(u.startswith(cognito.logout_endpoint) for u in browser.visited)
