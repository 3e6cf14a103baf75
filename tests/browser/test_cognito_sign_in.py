"""Sign-in and sign-out in Chromium against the Cognito-like provider (a real OIDC
provider process), as a person does it: the app's sign-in, the provider's form, back
to the dashboard; refused when in no allowed group; sign-out ends both sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cognito import use_test_provider
from tests.support.oidc import OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def idp(live_server) -> Iterator[OidcProvider]:  # type: ignore[no-untyped-def]
    with OidcProvider(
        redirect_uris=[f"{live_server.url}/oidc/callback/"],
        logout_uris=[f"{live_server.url}/accounts/signed-out/"],
    ) as provider:
        yield provider


@pytest.fixture
def cognito(settings, idp: OidcProvider) -> OidcProvider:  # type: ignore[no-untyped-def]
    use_test_provider(settings, idp)
    return idp


def sign_in_at_provider(page, idp: OidcProvider, username: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_url(f"{idp.issuer}/**")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(idp.user(username)["password"])
    page.get_by_role("button", name="Sign in").click()


def test_admin_signs_in_and_out_and_both_sessions_end(page, live_server, cognito) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/")
    sign_in_at_provider(page, cognito, "ada")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator(".who").text_content() == "ada@example.test"
    assert page.get_by_role("link", name="Admin").is_visible()
    assert page.locator("#uploader").count() == 1

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/accounts/signed-out/")
    assert page.get_by_role("heading", name="You are signed out").is_visible()

    # The provider's session ended too: signing in again asks for the password.
    page.get_by_role("link", name="Sign in again").click()
    page.wait_for_url(f"{cognito.issuer}/**")
    assert page.get_by_label("Password").is_visible()


def test_a_viewer_lands_without_the_uploader(page, live_server, cognito) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/accounts/login/")
    sign_in_at_provider(page, cognito, "vic")
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Recent uploads").is_visible()
    assert page.locator("#uploader").count() == 0
    assert page.get_by_role("link", name="Admin").count() == 0


def test_someone_in_no_allowed_group_is_refused_with_a_clear_page(page, live_server, cognito) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/")
    sign_in_at_provider(page, cognito, "nobody")
    page.wait_for_url(f"{live_server.url}/accounts/no-access/")
    assert page.get_by_role("heading", name="Your account has no access to Intake").is_visible()
    assert "nobody@example.test" in page.locator("main").text_content()
    # Not signed in to Intake. The provider still knows them, so they are refused
    # again until they sign in as someone else, which signs them out there too.
    page.goto(f"{live_server.url}/uploads/recent")
    page.wait_for_url(f"{live_server.url}/accounts/no-access/")
    page.get_by_role("button", name="Sign in as someone else").click()
    page.wait_for_url(f"{live_server.url}/accounts/signed-out/")
    page.get_by_role("link", name="Sign in again").click()
    sign_in_at_provider(page, cognito, "vic")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator(".who").text_content() == "vic@example.test"
