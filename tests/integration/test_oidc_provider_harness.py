"""The Cognito-like test OIDC provider (tests/support/oidc.py) behaves like Cognito where
the app relies on it: discovery, the authorization code flow with PKCE and nonce, the
tokens' claims, userinfo, client credentials for the machine client, and /logout.

The browser is played by `requests`: the login form is read and posted like a user
would, and the redirect to the app (which need not exist) is read from Location."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import jwt
import pytest
import requests

from tests.support.oidc import DEFAULT_PASSWORD, OidcProvider, OidcProviderError

pytestmark = pytest.mark.integration

# Never contacted: the flow stops at the redirect and reads the code from Location.
APP = "http://127.0.0.1:9"
REDIRECT_URI = f"{APP}/oidc/callback"
LOGOUT_URI = f"{APP}/signed-out"


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(redirect_uris=[REDIRECT_URI], logout_uris=[LOGOUT_URI]) as provider:
        yield provider


class LoginForm(HTMLParser):
    """The page's form as a browser sees it: action, inputs, labels, buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.labels: dict[str, str] = {}
        self.buttons: list[str] = []
        self.alerts: list[str] = []
        self._label_for: str | None = None
        self._in_button = False
        self._in_alert = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.action = attributes.get("action")
        elif tag == "input" and attributes.get("name"):
            self.inputs[str(attributes["name"])] = attributes
        elif tag == "label":
            self._label_for = attributes.get("for")
        elif tag == "button" and attributes.get("type", "submit") == "submit":
            self._in_button = True
            self.buttons.append("")
        elif attributes.get("role") == "alert":
            self._in_alert = True
            self.alerts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None
        elif tag == "button":
            self._in_button = False
        elif tag in {"p", "div"}:
            self._in_alert = False

    def handle_data(self, data: str) -> None:
        if self._label_for:
            self.labels[self._label_for] = self.labels.get(self._label_for, "") + data.strip()
        if self._in_button:
            self.buttons[-1] += data.strip()
        if self._in_alert:
            self.alerts[-1] += data


def parse_form(html: str) -> LoginForm:
    form = LoginForm()
    form.feed(html)
    return form


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def follow_to_app(browser: requests.Session, response: requests.Response) -> requests.Response | str:
    """Follow the provider's redirects; stop at a page, or return the app URL it sends to."""
    for _ in range(10):
        if not response.is_redirect:
            return response
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(APP):
            return location
        response = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError("too many redirects")


def start_sign_in(
    idp: OidcProvider, browser: requests.Session, **extra: str
) -> tuple[requests.Response | str, dict[str, str]]:
    verifier, challenge = pkce_pair()
    request = {
        "response_type": "code",
        "client_id": idp.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    response = browser.get(idp.authorization_endpoint, params=request, allow_redirects=False, timeout=10)
    return follow_to_app(browser, response), {**request, "code_verifier": verifier}


def submit_login(
    browser: requests.Session, page: requests.Response, username: str, password: str
) -> requests.Response | str:
    form = parse_form(page.text)
    assert form.action, "the login page has a form"
    response = browser.post(
        urljoin(page.url, form.action),
        data={"username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    return follow_to_app(browser, response)


def sign_in(idp: OidcProvider, browser: requests.Session, username: str) -> dict[str, str]:
    """The whole front-channel part; returns the authorization request plus `code`."""
    page, request = start_sign_in(idp, browser)
    assert isinstance(page, requests.Response), "an unknown browser is asked to sign in"
    landed = submit_login(browser, page, username, idp.user(username)["password"])
    assert isinstance(landed, str), f"the provider sends the browser back to the app, not {landed}"
    query = parse_qs(urlparse(landed).query)
    assert landed.startswith(f"{REDIRECT_URI}?")
    assert query["state"] == [request["state"]]
    assert query["iss"] == [idp.issuer]
    return {**request, "code": query["code"][0]}


def exchange_code(idp: OidcProvider, request: dict[str, str], *, verifier: str | None = None) -> requests.Response:
    return requests.post(
        idp.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": request["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier or request["code_verifier"],
        },
        auth=(idp.client_id, idp.client_secret),  # client_secret_basic
        timeout=10,
    )


def verify(idp: OidcProvider, token: str, **options: Any) -> dict[str, Any]:
    key = jwt.PyJWKClient(idp.jwks_url).get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=["RS256"], issuer=idp.issuer, **options)


def test_discovery_is_cognito_like(idp: OidcProvider) -> None:
    doc = idp.discovery
    assert doc["issuer"] == idp.issuer == f"http://127.0.0.1:{idp.port}"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(doc["grant_types_supported"])
    assert doc["end_session_endpoint"].startswith(idp.issuer)
    assert doc["authorization_endpoint"] == f"{idp.issuer}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{idp.issuer}/oauth2/token"
    assert doc["userinfo_endpoint"] == f"{idp.issuer}/oauth2/userInfo"
    assert idp.jwks_url == f"{idp.issuer}/.well-known/jwks.json"
    keys = requests.get(idp.jwks_url, timeout=10).json()["keys"]
    assert len(keys) == 2  # like Cognito: one key signs ID tokens, the other access tokens
    assert all(key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" for key in keys)
    assert all("d" not in key for key in keys)


def test_login_page_is_a_plain_labelled_form(idp: OidcProvider) -> None:
    with requests.Session() as browser:
        page, _ = start_sign_in(idp, browser, login_hint="vic")
        assert isinstance(page, requests.Response)
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        form = parse_form(page.text)
        assert form.labels == {"username": "Username", "password": "Password"}
        assert form.inputs["username"]["id"] == "username"
        assert form.inputs["username"]["value"] == "vic"  # login_hint fills it in
        assert form.inputs["password"]["type"] == "password"
        assert form.buttons == ["Sign in"]

        again = submit_login(browser, page, "vic", "not-the-password")
        assert isinstance(again, requests.Response), "a wrong password does not sign in"
        assert again.status_code == 200
        assert parse_form(again.text).alerts == ["Incorrect username or password."]
        assert parse_form(again.text).inputs["username"]["value"] == "vic"

        landed = submit_login(browser, again, "vic", DEFAULT_PASSWORD)
        assert isinstance(landed, str)
        assert landed.startswith(f"{REDIRECT_URI}?code=")


def test_cancel_on_the_login_page_returns_access_denied(idp: OidcProvider) -> None:
    with requests.Session() as browser:
        page, request = start_sign_in(idp, browser)
        assert isinstance(page, requests.Response)
        link = re.search(r'<a href="([^"]+)">Cancel</a>', page.text)
        assert link, "the login page has a Cancel link"
        cancel = browser.get(urljoin(page.url, link.group(1)), allow_redirects=False, timeout=10)
        landed = follow_to_app(browser, cancel)
    assert isinstance(landed, str)
    query = parse_qs(urlparse(landed).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [request["state"]]


def test_authorization_code_flow_with_pkce_gives_cognito_tokens(idp: OidcProvider) -> None:
    ada = idp.user("ada")
    with requests.Session() as browser:
        request = sign_in(idp, browser, "ada")
    response = exchange_code(idp, request)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert {"id_token", "access_token", "refresh_token", "expires_in"} <= tokens.keys()

    id_token = verify(idp, tokens["id_token"], audience=idp.client_id)
    assert id_token["aud"] == idp.client_id
    assert id_token["nonce"] == request["nonce"]
    assert id_token["token_use"] == "id"
    assert id_token["cognito:groups"] == ["intake-admins"]
    assert id_token["cognito:username"] == "ada"
    assert id_token["email"] == "ada@example.test"
    assert id_token["email_verified"] is True
    assert id_token["sub"] == ada["sub"]
    assert isinstance(id_token["auth_time"], int)

    # Cognito's access token: a JWT without `aud`, so PyJWT needs no audience to accept it.
    access = verify(idp, tokens["access_token"])
    assert "aud" not in access
    assert access["token_use"] == "access"
    assert access["client_id"] == idp.client_id
    assert set(access["scope"].split()) == {"openid", "email", "profile"}
    assert access["sub"] == ada["sub"]
    assert access["username"] == "ada"
    assert access["cognito:groups"] == ["intake-admins"]
    assert (
        jwt.get_unverified_header(tokens["access_token"])["kid"] != jwt.get_unverified_header(tokens["id_token"])["kid"]
    )

    userinfo = requests.get(
        idp.userinfo_endpoint, headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json() == {
        "sub": ada["sub"],
        "email": "ada@example.test",
        "email_verified": True,
        "username": "ada",
    }

    # The refresh token works, here with client_secret_post.
    refreshed = requests.post(
        idp.token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": idp.client_id,
            "client_secret": idp.client_secret,
        },
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert verify(idp, refreshed.json()["id_token"], audience=idp.client_id)["cognito:groups"] == ["intake-admins"]
    assert verify(idp, refreshed.json()["access_token"])["username"] == "ada"

    # The code is single-use (and replaying it revokes what it gave, as RFC 6749 asks).
    assert exchange_code(idp, request).json()["error"] == "invalid_grant"
    revoked = requests.get(
        idp.userinfo_endpoint, headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
    )
    assert revoked.status_code == 401


def test_the_code_needs_its_pkce_verifier_and_the_client_secret(idp: OidcProvider) -> None:
    with requests.Session() as browser:
        request = sign_in(idp, browser, "vic")
    wrong_secret = requests.post(
        idp.token_endpoint,
        data={"grant_type": "authorization_code", "code": request["code"], "redirect_uri": REDIRECT_URI},
        auth=(idp.client_id, "not-the-secret"),
        timeout=10,
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    wrong_verifier = exchange_code(idp, request, verifier=secrets.token_urlsafe(48))
    assert wrong_verifier.status_code == 400
    assert wrong_verifier.json()["error"] == "invalid_grant"


def test_a_user_in_no_group_has_no_groups_claim(idp: OidcProvider) -> None:
    with requests.Session() as browser:
        request = sign_in(idp, browser, "nobody")
    tokens = exchange_code(idp, request).json()
    id_token = verify(idp, tokens["id_token"], audience=idp.client_id)
    assert id_token["cognito:username"] == "nobody"
    assert "cognito:groups" not in id_token  # Cognito leaves it out rather than sending []
    assert "cognito:groups" not in verify(idp, tokens["access_token"])


def test_client_credentials_give_the_machine_client_a_jwt_access_token(idp: OidcProvider) -> None:
    response = requests.post(
        idp.token_endpoint,
        data={"grant_type": "client_credentials", "scope": "intake/upload intake/read"},
        auth=(idp.machine_client_id, idp.machine_client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert "id_token" not in body
    assert "refresh_token" not in body
    claims = verify(idp, body["access_token"])
    assert "aud" not in claims
    assert claims["token_use"] == "access"
    assert claims["client_id"] == claims["sub"] == idp.machine_client_id
    assert claims["scope"] == "intake/upload intake/read"
    assert claims["exp"] > claims["iat"]

    # No scope asked: all the client's scopes, like Cognito; one asked: that one.
    assert verify(idp, idp.machine_token())["scope"] == "intake/upload intake/read"
    assert verify(idp, idp.machine_token(["intake/read"]))["scope"] == "intake/read"

    for scope in ("intake/delete", "openid"):
        refused = requests.post(
            idp.token_endpoint,
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(idp.machine_client_id, idp.machine_client_secret),
            timeout=10,
        )
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_scope"
    # The app client may not use client credentials; the machine client may not sign users in.
    app_client = requests.post(
        idp.token_endpoint,
        data={"grant_type": "client_credentials"},
        auth=(idp.client_id, idp.client_secret),
        timeout=10,
    )
    assert app_client.status_code == 400  # invalid_request here, unauthorized_client at Cognito
    with requests.Session() as browser:
        machine_sign_in = browser.get(
            idp.authorization_endpoint,
            params={
                "response_type": "code",
                "client_id": idp.machine_client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid",
            },
            allow_redirects=False,
            timeout=10,
        )
    assert machine_sign_in.status_code == 400
    assert "Location" not in machine_sign_in.headers


def test_cognito_logout_ends_the_session_and_only_redirects_to_registered_uris(idp: OidcProvider) -> None:
    with requests.Session() as browser:
        sign_in(idp, browser, "ada")
        signed_in, _ = start_sign_in(idp, browser)
        assert isinstance(signed_in, str), "with a session, authorize goes straight back to the app"

        refused = browser.get(idp.logout_url("http://127.0.0.1:9/not-registered"), allow_redirects=False, timeout=10)
        assert refused.status_code == 400
        assert "Location" not in refused.headers
        assert "redirect_mismatch" in refused.text
        unknown_client = browser.get(
            f"{idp.logout_endpoint}?client_id=nope&logout_uri={LOGOUT_URI}", allow_redirects=False, timeout=10
        )
        assert unknown_client.status_code == 400
        still_signed_in, _ = start_sign_in(idp, browser)
        assert isinstance(still_signed_in, str), "a refused logout leaves the session alone"

        logout = browser.get(idp.logout_url(LOGOUT_URI), allow_redirects=False, timeout=10)
        assert logout.status_code == 302
        assert logout.headers["Location"] == LOGOUT_URI
        page, _ = start_sign_in(idp, browser)
        assert isinstance(page, requests.Response), "after logout, authorize asks to sign in again"
        assert parse_form(page.text).labels == {"username": "Username", "password": "Password"}

        # Cognito's other form: sign out, then start a new sign-in.
        relogin = browser.get(
            idp.logout_endpoint,
            params={
                "client_id": idp.client_id,
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
                "scope": "openid",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert relogin.status_code == 302
        assert relogin.headers["Location"].startswith(f"{idp.authorization_endpoint}?")
        login_page = follow_to_app(browser, relogin)
        assert isinstance(login_page, requests.Response)
        assert parse_form(login_page.text).buttons == ["Sign in"]


def test_rp_initiated_logout_ends_the_session(idp: OidcProvider) -> None:
    with requests.Session() as browser:
        request = sign_in(idp, browser, "vic")
        id_token = exchange_code(idp, request).json()["id_token"]
        unregistered = browser.get(
            idp.end_session_endpoint,
            params={"id_token_hint": id_token, "post_logout_redirect_uri": f"{APP}/elsewhere"},
            allow_redirects=False,
            timeout=10,
        )
        assert unregistered.status_code == 400

        page = browser.get(
            idp.end_session_endpoint,
            params={"id_token_hint": id_token, "post_logout_redirect_uri": LOGOUT_URI, "state": "after-logout"},
            allow_redirects=False,
            timeout=10,
        )
        assert page.status_code == 200  # a self-submitting form (a browser does not stop there)
        form = parse_form(page.text)
        assert form.action
        confirm = browser.post(
            urljoin(page.url, form.action),
            data={name: attributes["value"] for name, attributes in form.inputs.items()},
            allow_redirects=False,
            timeout=10,
        )
        assert confirm.status_code == 303
        assert confirm.headers["Location"] == f"{LOGOUT_URI}?state=after-logout"
        again, _ = start_sign_in(idp, browser)
        assert isinstance(again, requests.Response), "after logout, authorize asks to sign in again"


def test_stop_ends_the_provider_process() -> None:
    provider = OidcProvider(redirect_uris=[REDIRECT_URI])
    with provider:
        process = provider.process
        assert process is not None
        port = provider.port
        assert requests.get(provider.jwks_url, timeout=10).status_code == 200
    assert provider.process is None
    assert process.poll() is not None
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    with pytest.raises(OidcProviderError):
        provider.jwks_url  # noqa: B018 - the property raises once stopped
