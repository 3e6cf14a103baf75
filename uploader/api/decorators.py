"""What every call of the JSON API goes through: who is calling and may they, the
cross-site and CSRF guards, and domain errors turned into JSON answers
`{"message", "code", "field"}` with the status the error carries: 400 bad input,
401 unknown caller, 403 not allowed, 404 not yours or not there, 409 wrong state,
503 storage down.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.http import is_same_domain
from django.views.decorators.csrf import csrf_exempt

from uploader.access import machine
from uploader.access.principals import UploadPrincipal, signed_in_principal
from uploader.access.roles import NotAllowed, Permission
from uploader.uploads.errors import Unauthenticated, UploadError

View = Callable[..., HttpResponse]
# Who calls a mount of the contract that has callers of its own: the portal mount
# (uploader.portals.urls) passes it as the URL argument `principal_of`, with its token.
PrincipalResolver = Callable[[HttpRequest, str], UploadPrincipal]

logger = logging.getLogger(__name__)

CSRF_REFUSED = (
    "CSRF check failed: the call must come from this site's pages (a browser that sends neither "
    "Sec-Fetch-Site nor Origin must also send the CSRF token, X-CSRFToken)."
)


def error_response(*, status: int, message: str, code: str, field: str | None = None) -> JsonResponse:
    return JsonResponse({"message": message, "code": code, "field": field}, status=status)


def no_such_call(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """What a path under the API that names no call answers (a malformed upload id, a
    part number that is not a number): the JSON 404 the document promises, not Django's
    HTML page. Mounted last, it takes whatever the mount passes (a portal's token)."""
    return error_response(status=404, message="No such call or upload; /api/openapi.json lists the calls.", code="not_found")


def _only_process_view(request: HttpRequest) -> HttpResponse:
    raise AssertionError("The CSRF check uses the middleware's process_view only.")


def csrf_failure(request: HttpRequest) -> HttpResponse | None:
    """Django's CSRF check (Origin or Referer, then the token) for session callers whose
    browser sends neither Sec-Fetch-Site nor Origin (session_call_refusal): the views
    are exempt from the middleware so that Bearer callers (no cookies, so nothing to
    forge) need no token.

    Unlike the middleware, the check covers GETs too: the contract's GETs register
    uploads and sign parts, and a cross-site link could otherwise make a signed-in
    browser do that (ADR 0004). The middleware passes safe methods, so a GET is shown
    to it as a shallow copy whose method is POST and whose form data is empty: the
    token must come in the header (our pages send it with every call), the GET's body
    is never read, and the real request keeps its method."""
    checked = request
    if request.method in {"GET", "HEAD"}:
        checked = copy.copy(request)
        checked.method = "POST"
        checked.POST = QueryDict()  # the token comes in the header; the GET's body is never read
    refusal = CsrfViewMiddleware(_only_process_view).process_view(checked, _only_process_view, (), {})
    if refusal is None:
        return None
    # Django has logged why (logger django.security.csrf); the answer is its HTML page.
    return error_response(status=403, message=CSRF_REFUSED, code="csrf")


def _is_site_origin(request: HttpRequest, origin: str) -> bool:
    """The Origin is this site: the request's own scheme and host, or one of
    CSRF_TRUSTED_ORIGINS (`https://*.example.com` for any subdomain), as Django's own
    Origin check decides."""
    if origin == f"{request.scheme}://{request.get_host()}":
        return True
    scheme, netloc = urlsplit(origin)[:2]
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if origin == trusted:
            return True
        trusted_scheme, trusted_netloc = urlsplit(trusted)[:2]
        if "*" in trusted_netloc and scheme == trusted_scheme and is_same_domain(netloc, trusted_netloc.lstrip("*")):
            return True
    return False


def session_call_refusal(request: HttpRequest) -> HttpResponse | None:
    """The CSRF defence of a session (cookie) call, or None when it may go on.

    Current browsers say where a call comes from, and a page cannot change it:
    `Sec-Fetch-Site` on every request, `Origin` on every non-GET one. So the call
    passes without a token when its Origin is this site, or, without an Origin (a
    GET), when `Sec-Fetch-Site` is `same-origin`: clients that cannot add headers
    (Uppy 6's companionEndpoint mode) work. A sibling subdomain is `same-site`, and
    that alone never passes: another host under the same site may be run by someone
    else or serve user content (ADR 0004, last update). Only a browser that sends
    neither header gets Django's token check (`csrf_failure`). `cross-site` is refused
    before this, in contract_api.

    `Origin: null` names no site (a sandboxed page, or a `no-referrer` policy on our
    own POSTs), so Sec-Fetch-Site decides; without it, Django's check refuses it."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        passed = _is_site_origin(request, origin)
    elif fetch_site is not None:
        passed = fetch_site == "same-origin"
    else:
        return csrf_failure(request)
    if passed:
        return None
    logger.warning("session call refused: Origin %.100r, Sec-Fetch-Site %.30r", origin, fetch_site)
    return error_response(status=403, message=CSRF_REFUSED, code="csrf")


def _is_bearer(request: HttpRequest) -> bool:
    """A machine client's call: `Authorization: Bearer …`. Another scheme (Basic, which
    browsers add by themselves behind HTTP auth on a staging site) is not a caller's
    credential here: the session decides, with all its guards."""
    return machine.is_bearer_header(request.headers.get("Authorization"))


def _principal_for(request: HttpRequest, portal_token: str | None, principal_of: PrincipalResolver | None) -> UploadPrincipal:
    """Who is calling: a portal visitor, a machine client (Bearer), or a person."""
    if portal_token is not None:
        if principal_of is None:
            raise ImproperlyConfigured("A portal mount of the contract passes principal_of (uploader.portals.urls).")
        return principal_of(request, portal_token)
    if _is_bearer(request):
        return machine.principal_from_authorization(request.headers["Authorization"])
    user = request.user
    if not user.is_authenticated:
        raise Unauthenticated("Sign in to upload files.")
    return signed_in_principal(user)


def caller(request: HttpRequest) -> UploadPrincipal:
    """The caller contract_api resolved for this request."""
    return cast(UploadPrincipal, request.intake_principal)  # type: ignore[attr-defined]


def contract_api(permission: Permission) -> Callable[[View], View]:
    """Resolve the caller, check it may do `permission`, and turn domain errors into
    JSON answers: 401 unknown caller, 403 known but not allowed, 404/409/400/503 from
    the services.

    Requests a browser marks as cross-site are refused outright unless they carry a
    Bearer token: the signing calls include GETs that register uploads, and a session
    cookie must never sign for another site's page. Other session calls then pass
    session_call_refusal (where the browser says they come from, else the token).
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(
            request: HttpRequest,
            *args: Any,
            portal_token: str | None = None,
            principal_of: PrincipalResolver | None = None,
            **kwargs: Any,
        ) -> HttpResponse:
            # The caller is a machine client exactly when this is the staff API and a
            # Bearer Authorization header is there: such a request is authenticated by its
            # token alone (never the session, see _principal_for), so a cross-site page,
            # which cannot forge the token, gains nothing. Browser apps of the business
            # on other sites call with theirs (CORS, ADR 0008). Portal calls are always
            # session callers, whatever headers a browser adds (HTTP auth in front of a
            # staging site, say): both guards hold for them.
            bearer = portal_token is None and _is_bearer(request)
            if request.headers.get("Sec-Fetch-Site") == "cross-site" and not bearer:
                return error_response(status=403, message="Cross-site requests are not allowed.", code="forbidden")
            try:
                principal = _principal_for(request, portal_token, principal_of)
                if not principal.may(permission):
                    raise NotAllowed(permission)
                if not bearer and (failure := session_call_refusal(request)) is not None:
                    return failure
                request.intake_principal = principal  # type: ignore[attr-defined]
                if principal.owner is not None and bearer:
                    # A machine client: the audit trail names it like a signed-in user
                    # (even when the request also carries someone's session cookie).
                    request.user = principal.owner
                return view(request, *args, **kwargs)
            except machine.BearerRefused as exc:
                response = error_response(status=exc.status, message=exc.message, code=exc.code)
                if exc.status == 401:
                    response["WWW-Authenticate"] = f'Bearer error="{exc.code}"'
                return response
            except Unauthenticated as exc:
                return error_response(status=401, message=str(exc), code="unauthenticated")
            except PermissionDenied as exc:
                return error_response(status=403, message=str(exc) or "Not allowed.", code="forbidden")
            except UploadError as exc:
                response = error_response(status=exc.status, message=exc.message, code=exc.code, field=exc.field)
                if retry_after := getattr(exc, "retry_after", None):
                    response["Retry-After"] = str(retry_after)
                return response
            except ValidationError as exc:
                # A model's own validation (full_clean) caught what the services did not.
                return error_response(status=400, message=" ".join(exc.messages)[:300], code="invalid")

        return csrf_exempt(wrapper)

    return decorate
