"""Sign-in, sign-out and the pages around them.

With Cognito configured, /accounts/login/ sends the browser to Cognito's hosted UI
(through mozilla-django-oidc's /oidc/authenticate/, which keeps `next` only when it
points at this site). Django's password form is offered only when
INTAKE_ALLOW_PASSWORD_SIGN_IN is on (local mode, or explicitly in production).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dashboard.access import render_no_access
from dashboard.signin.oidc import COGNITO_SESSION_KEY, REFUSAL_SESSION_KEY, cognito_logout_url
from uploader.access.roles import role_of


def safe_next(request: HttpRequest, value: str | None) -> str | None:
    """`value` when it is a path or URL on this site, else None (never //evil,
    /\\evil, https:evil or javascript:)."""
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return value
    return None


def cognito_sign_in_url(next_url: str | None) -> str:
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    return f"{reverse('oidc_authentication_init')}{query}"


class PasswordLoginView(LoginView):
    redirect_authenticated_user = True
    template_name = "registration/login.html"

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["cognito_url"] = cognito_sign_in_url(self.get_redirect_url() or None) if settings.INTAKE_OIDC_ENABLED else None
        return context


@never_cache
def sign_in(request: HttpRequest) -> HttpResponseBase:
    next_url = safe_next(request, request.GET.get("next"))
    if settings.INTAKE_ALLOW_PASSWORD_SIGN_IN:
        return PasswordLoginView.as_view()(request)
    if request.user.is_authenticated and role_of(request.user) is not None:
        return HttpResponseRedirect(next_url or reverse(settings.LOGIN_REDIRECT_URL))
    return HttpResponseRedirect(cognito_sign_in_url(next_url))


@never_cache
def no_access(request: HttpRequest) -> HttpResponse:
    """Where a refused sign-in lands. Says why, without an error page."""
    refusal = request.session.get(REFUSAL_SESSION_KEY) or {}
    if request.user.is_authenticated and role_of(request.user) is None:
        # Signed in, but their role was taken away since: end the session too, and
        # keep the marker that makes "sign in as someone else" end Cognito's as well.
        who = request.user.get_username()
        was_at_cognito = COGNITO_SESSION_KEY in request.session
        logout(request)
        request.session[REFUSAL_SESSION_KEY] = {"reason": "no_role", "who": who}
        if was_at_cognito:
            request.session[COGNITO_SESSION_KEY] = True
        return render_no_access(request, reason="no_role", who=who)
    return render_no_access(request, reason=str(refusal.get("reason") or "failed"), who=str(refusal.get("who") or ""))


@never_cache
def signed_out(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signed_out.html", {})


def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """Django admin's own login form would bypass Cognito; send it to ours."""
    next_url = safe_next(request, request.GET.get("next")) or reverse("admin:index")
    return HttpResponseRedirect(f"{reverse('login')}?{urlencode({'next': next_url})}")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """End our session, then Cognito's (when it was used), then the signed-out page.
    POST only, with CSRF: a link elsewhere must not sign people out."""
    destination = cognito_logout_url(request)
    logout(request)
    return HttpResponseRedirect(destination)


def cognito_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """mozilla-django-oidc's views, answering 404 where Cognito is not configured
    (password-only mode): the library would raise ImproperlyConfigured, a 500."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.INTAKE_OIDC_ENABLED:
            raise Http404("Sign-in with Cognito is not configured here; use the sign-in page.")
        return view(request, *args, **kwargs)

    return guarded
