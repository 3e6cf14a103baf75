"""Who is on a request's pages, and what the upload contract mounted under one of its
items lets them do.

Holding the link is not enough when the request asks for a code (`require_code`, on
by default, INTAKE_REQUEST_REQUIRE_CODE): the client gives one of the request's e-mail
addresses, gets a six-digit code there, and enters it; the browser's session then
remembers the request for INTAKE_REQUEST_ACCESS_DAYS (a closed request opens nothing
anyway). The answer to an address is the same whether or not it is one of the
request's, so addresses cannot be probed; only an HMAC of each code is stored; a code
lives INTAKE_REQUEST_CODE_TTL_SECONDS and takes INTAKE_REQUEST_CODE_MAX_ATTEMPTS
guesses; asking and guessing are rate limited per address and per client address
(the portals' limiter). Taking an address off the request, or a new link, locks its
sessions out. Staff may also give the client a password (the portal links' way):
entering it lets the browser in the same way, until the password changes.

The contract is mounted at `/r/<token>/items/<item id>/api/`; the mount passes the
token and item id to `request_item_principal` as one URL argument (the contract's
`portal_token`, see uploader.requests.urls), so the API needs nothing from requests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
import secrets
import smtplib
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from config.request_context import log_about
from uploader.access.principals import UploadPrincipal
from uploader.access.roles import Permission
from uploader.audit.services import audit_record
from uploader.portals.access import RateLimited, rate_limit, rate_limit_check, rate_limit_key
from uploader.requests import selectors
from uploader.requests.limits import ItemAdmission, item_upload_limits
from uploader.requests.models import DocumentRequest, RequestAccessCode, RequestItem, RequestState
from uploader.uploads.errors import UploadError

logger = logging.getLogger(__name__)

ITEM_SEPARATOR = "/items/"
SESSION_KEY = "intake_requests"
CODE_DIGITS = 6


class RequestNotFound(UploadError):
    """No request has this link, or the item is not one of its items: the same answer."""

    status = 404
    code = "request_not_found"


class RequestClosed(UploadError):
    status = 410
    code = "request_closed"


class RequestLocked(UploadError):
    """The request asks for a code and this browser has not entered one."""

    status = 403
    code = "request_locked"


def request_for_token(token: str, *, require_open: bool = True) -> DocumentRequest:
    request = selectors.request_find_by_token(token=token)
    if request is None:
        raise RequestNotFound("This link does not exist or is no longer valid.")
    log_about(document_request=request.pk)
    if require_open and request.state != RequestState.OPEN:
        raise RequestClosed("This request is complete, so this link takes no more files. Thank you!")
    return request


def item_of(request: DocumentRequest, item_id: int) -> RequestItem:
    item = RequestItem.objects.filter(pk=item_id, request=request).first()
    if item is None:
        raise RequestNotFound("This link does not exist or is no longer valid.")
    return item


# --- the session's proof ----------------------------------------------------------------------


def _addresses(request: DocumentRequest) -> set[str]:
    return {address.strip().lower() for address in request.client_emails}


def _proof(request: DocumentRequest, email: str) -> str:
    """Bound to the link and the address: a new link, or the address taken off the
    request, and the proof opens nothing."""
    return salted_hmac("intake.request-access", f"{request.pk}:{request.token_digest}:{email}").hexdigest()


def _state(http: HttpRequest, request: DocumentRequest) -> dict[str, Any]:
    requests = http.session.get(SESSION_KEY)
    state = requests.get(str(request.pk)) if isinstance(requests, dict) else None
    return state if isinstance(state, dict) else {}


def _save_state(http: HttpRequest, request: DocumentRequest, state: dict[str, Any]) -> None:
    requests = http.session.get(SESSION_KEY)
    requests = dict(requests) if isinstance(requests, dict) else {}
    requests[str(request.pk)] = state
    http.session[SESSION_KEY] = requests


def _password_proof(request: DocumentRequest) -> str:
    """Bound to the password's hash too: a new password, or none, and it opens nothing."""
    return salted_hmac(
        "intake.request-password", f"{request.pk}:{request.token_digest}:{request.password_hash}"
    ).hexdigest()


def client_verified(http: HttpRequest, request: DocumentRequest) -> bool:
    """May this browser see the request? Always, when it asks for no code."""
    if not request.require_code:
        return True
    state = _state(http, request)
    until = state.get("until")
    if not isinstance(until, int | float) or until <= time.time():
        return False
    if state.get("by") == "password":
        return bool(request.password_hash) and constant_time_compare(
            str(state.get("proof", "")), _password_proof(request)
        )
    email = str(state.get("email", ""))
    return email in _addresses(request) and constant_time_compare(str(state.get("proof", "")), _proof(request, email))


def pending_email(http: HttpRequest, request: DocumentRequest) -> str:
    """The address the last code was asked for in this browser ("" when none)."""
    return str(_state(http, request).get("pending", ""))


def access_grant(http: HttpRequest, request: DocumentRequest, email: str = "", *, by_password: bool = False) -> None:
    """Remember in this session that its client proved they hold `email` (or know the
    request's password)."""
    email = email.strip().lower()
    http.session.cycle_key()  # a new session id once it grants something
    days = settings.INTAKE_REQUEST_ACCESS_DAYS
    until = int(time.time()) + days * 86400
    if by_password:
        state: dict[str, Any] = {"by": "password", "proof": _password_proof(request), "until": until}
    else:
        state = {"by": "code", "email": email, "proof": _proof(request, email), "until": until}
    _save_state(http, request, state)
    user = getattr(http, "user", None)
    if user is None or not user.is_authenticated:  # a staff sign-in keeps its own lifetime
        http.session.set_expiry(days * 86400)


# --- one-time codes ---------------------------------------------------------------------------


def _code_hash(request: DocumentRequest, email: str, code: str) -> str:
    return salted_hmac("intake.request-code", f"{request.pk}:{email}:{code}", algorithm="sha256").hexdigest()


def _send_code_email(request: DocumentRequest, email: str, code: str) -> bool:
    minutes = settings.INTAKE_REQUEST_CODE_TTL_SECONDS // 60
    who = settings.INTAKE_BUSINESS_NAME or "we"
    body = "\n".join(
        [
            f"Your code to open the documents {who} asked you for: {code}",
            "",
            f"It works for {minutes} minutes, once. If you did not ask for it, ignore this e-mail.",
        ]
    )
    message = EmailMessage(subject=f"Your code: {code}", body=body, to=[email])
    try:
        message.send()
    except (smtplib.SMTPException, OSError):
        logger.exception("could not send a request's one-time code")
        return False
    return True


def code_send(http: HttpRequest, request: DocumentRequest, email: str) -> None:
    """Send a code to `email` when it is one of the request's addresses; the caller
    answers the same either way. RateLimited past the limits (counted for any address)."""
    email = email.strip().lower()[:254]
    rate_limit(http, bucket="request-code", rate=settings.INTAKE_REQUEST_RATE_CODE_ADDRESS)
    rate_limit_key(f"request-code-email:{request.pk}:{email}", rate=settings.INTAKE_REQUEST_RATE_CODE_EMAIL)
    state = _state(http, request)
    state["pending"] = email
    _save_state(http, request, state)
    if email not in _addresses(request):
        audit_record(action="request.code_not_sent", detail={"request": request.pk, "why": "not one of its addresses"})
        return
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    now = timezone.now()
    # Only the newest code of an address counts: an earlier one is spent.
    RequestAccessCode.objects.filter(request=request, email=email, used_at__isnull=True).update(used_at=now)
    RequestAccessCode.objects.create(
        request=request,
        email=email,
        code_hash=_code_hash(request, email, code),
        expires_at=now + dt.timedelta(seconds=settings.INTAKE_REQUEST_CODE_TTL_SECONDS),
    )
    sent = _send_code_email(request, email, code)
    audit_record(
        action="request.code_sent" if sent else "request.code_not_sent", detail={"request": request.pk, "to": email}
    )


class CodeResult(enum.Enum):
    VERIFIED = "verified"
    WRONG = "wrong"
    NO_CODE = "no code"  # none asked for this address, expired, spent, or out of guesses


def code_check(http: HttpRequest, request: DocumentRequest, code: str) -> CodeResult:
    """Check a code against the newest one sent to the pending address; on success the
    session is granted the request. Every guess uses one of the code's attempts (a
    conditional UPDATE, so parallel guesses cannot exceed them). RateLimited per
    client address."""
    rate_limit(http, bucket="request-code-check", rate=settings.INTAKE_REQUEST_RATE_CODE_CHECK)
    email = pending_email(http, request)
    code = "".join(code.split())[: CODE_DIGITS * 2]
    latest = RequestAccessCode.objects.filter(request=request, email=email).order_by("-created_at", "-pk").first()
    now = timezone.now()
    usable = (
        latest is not None
        and RequestAccessCode.objects.filter(
            pk=latest.pk,
            used_at__isnull=True,
            expires_at__gt=now,
            attempts__lt=settings.INTAKE_REQUEST_CODE_MAX_ATTEMPTS,
        ).update(attempts=F("attempts") + 1)
        == 1
    )
    if latest is None or not usable:
        audit_record(action="request.code_failed", detail={"request": request.pk, "to": email, "why": "no usable code"})
        return CodeResult.NO_CODE
    if not constant_time_compare(latest.code_hash, _code_hash(request, email, code)):
        audit_record(
            action="request.code_failed",
            detail={"request": request.pk, "to": email, "why": "wrong code", "attempt": latest.attempts + 1},
        )
        return CodeResult.WRONG
    if not RequestAccessCode.objects.filter(pk=latest.pk, used_at__isnull=True).update(used_at=now):
        return CodeResult.NO_CODE  # a parallel request used it first
    access_grant(http, request, email)
    audit_record(action="request.code_verified", detail={"request": request.pk, "to": email})
    return CodeResult.VERIFIED


def password_check(http: HttpRequest, request: DocumentRequest, password: str) -> bool:
    """Check the request's password (rate limited per client address, and per request
    for wrong guesses, as a portal's); on success the session is granted the request."""
    rate_limit(http, bucket="request-password", rate=settings.INTAKE_PORTAL_RATE_PASSWORD)
    wrong_guesses = f"password-wrong:request:{request.pk}"
    # Checked before hashing: once the request has had its share of wrong guesses,
    # every attempt waits (the right one too), and guessing costs no hashing.
    rate_limit_check(wrong_guesses, rate=settings.INTAKE_PORTAL_RATE_WRONG_PASSWORDS)
    if not request.password_hash or not check_password(password, request.password_hash):
        with contextlib.suppress(RateLimited):  # this guess is answered as wrong anyway
            rate_limit_key(wrong_guesses, rate=settings.INTAKE_PORTAL_RATE_WRONG_PASSWORDS)
        audit_record(action="request.password_failed", detail={"request": request.pk})
        return False
    access_grant(http, request, by_password=True)
    audit_record(action="request.password_verified", detail={"request": request.pk})
    return True


# --- the principal the upload contract uses ----------------------------------------------------


def request_item_principal(request: HttpRequest, key: str) -> UploadPrincipal:
    """The caller of `/r/<token>/items/<id>/api/…`: may upload to this item (within its
    limits) and see only this item's files, once this browser has proved who it is."""
    rate_limit(request, bucket="api", rate=settings.INTAKE_PORTAL_RATE_API)
    token, _, item_id = key.partition(ITEM_SEPARATOR)
    document_request = request_for_token(token)
    item = item_of(document_request, int(item_id)) if item_id.isdigit() else None
    if item is None:
        raise RequestNotFound("This link does not exist or is no longer valid.")
    if not client_verified(request, document_request):
        raise RequestLocked("Open the request's link and enter the code we e-mail you first.")
    return UploadPrincipal(
        owner=None,
        scope=f"request-{document_request.pk}",
        limits=item_upload_limits(item),
        permissions=frozenset({Permission.UPLOAD, Permission.BROWSE}),
        visible=Q(request_item=item),
        registration_fields={
            "request_item": item,
            "uploader_name": document_request.client_name,
            "uploader_email": _state(request, document_request).get("email")
            or (document_request.client_emails[0] if document_request.client_emails else ""),
        },
        audit_label=f"request:{document_request.pk}",
        admission=ItemAdmission(item),
    )
