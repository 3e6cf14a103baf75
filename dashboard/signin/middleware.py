"""A Cognito sign-in lasts OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS; then the browser goes
back through Cognito, whose own session usually lets it straight through.

mozilla-django-oidc's SessionRefresh middleware does this with `prompt=none`, which
Cognito's hosted UI does not support, so a silent refresh would fail. Instead:
- a page load (GET) is redirected through sign-in and comes back to the same page;
- a call from script (the upload API, htmx) cannot follow a redirect to another
  site, so it gets a 401 with the sign-in URL (htmx: HX-Redirect, so the page goes
  there itself); an upload in progress fails with that message and resumes after
  sign-in (Golden Retriever).
Bearer-token calls have no session and are not affected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from dashboard.signin.views import cognito_sign_in_url

EXPIRY_SESSION_KEY = "oidc_id_token_expiration"
_EXEMPT_PREFIXES = ("/oidc/", "/accounts/", "/healthz/", "/static/", "/p/")


class SignInExpiryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.INTAKE_OIDC_ENABLED and self._expired(request):
            return self._renew(request)
        return self.get_response(request)

    @staticmethod
    def _expired(request: HttpRequest) -> bool:
        if "Authorization" in request.headers:
            return False  # a machine client's call: its token, not a session, is what counts
        if request.path.startswith(_EXEMPT_PREFIXES) or not request.user.is_authenticated:
            return False
        expires = request.session.get(EXPIRY_SESSION_KEY)
        return isinstance(expires, int | float) and expires < time.time()

    @staticmethod
    def _renew(request: HttpRequest) -> HttpResponse:
        from_script = (
            request.path.startswith("/api/")
            or request.headers.get("HX-Request") == "true"
            or "application/json" in request.headers.get("Accept", "")
        )
        if request.method not in {"GET", "HEAD"} and not from_script:
            # A form posted after expiry: the data cannot survive the trip through
            # Cognito; come back to the page it was posted from, to send it again.
            referer = urlsplit(request.headers.get("Referer", ""))
            back = referer.path if referer.netloc == request.get_host() and referer.path else "/"
            return HttpResponseRedirect(cognito_sign_in_url(back))
        if from_script:
            # Come back to the page the script runs on (htmx says which), else home.
            page = urlsplit(request.headers.get("HX-Current-URL", "")).path or "/"
            sign_in_url = cognito_sign_in_url(page)
            response = JsonResponse(
                {"message": "Your sign-in has expired. Sign in again to continue.", "code": "sign_in_expired",
                 "signInUrl": sign_in_url},
                status=401,
            )
            response["HX-Redirect"] = sign_in_url
            return response
        return HttpResponseRedirect(cognito_sign_in_url(request.get_full_path()))
