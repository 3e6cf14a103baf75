"""Who is on a portal page: the portal a link token opens, whether this browser has
unlocked it, who the visitor said they are, and how often they may knock.

A visitor's state lives in their Django session, per portal: a random visitor id
(their uploads carry it, and it is all they can see or complete), the name and
e-mail they gave, and proof they entered the current password. Changing the
password or rotating the link locks every earlier session out.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac

from config.request_context import client_ip, log_about
from uploader.access.principals import UploadPrincipal
from uploader.access.roles import Permission
from uploader.portals import selectors as portal_selectors
from uploader.portals.limits import portal_upload_limits
from uploader.portals.models import Portal
from uploader.portals.services import portal_is_open
from uploader.uploads.errors import UploadError

SESSION_KEY = "intake_portals"


class PortalNotFound(UploadError):
    """No portal has this link (or it was rotated): the same answer for both."""

    status = 404
    code = "portal_not_found"


class PortalClosed(UploadError):
    """Disabled or past its expiry: nothing is signed."""

    status = 410
    code = "portal_closed"


class PortalLocked(UploadError):
    """Password not entered in this browser, or the visitor has not said who they are."""

    status = 403
    code = "portal_locked"


class RateLimited(UploadError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests from your address; please wait {retry_after} seconds and try again.")
        self.retry_after = retry_after


# --- rate limits ----------------------------------------------------------------------------


def client_address(request: HttpRequest) -> str:
    """The address rate limits count by: the client's, behind INTAKE_TRUSTED_PROXIES
    proxies, not the load balancer's (which would make every client share one count)."""
    return client_ip(request.META, trusted_proxies=settings.INTAKE_TRUSTED_PROXIES) or "unknown"


def rate_limit(request: HttpRequest, *, bucket: str, rate: tuple[int, int]) -> None:
    """Count one request of this address in a fixed window in the shared cache; raise
    RateLimited past the limit."""
    rate_limit_key(f"{bucket}:{_address_key(client_address(request))}", rate=rate)


def _window(key: str, rate: tuple[int, int]) -> tuple[str, int]:
    """The cache key of the current window and the seconds until it ends."""
    window = rate[1]
    now = time.time()
    slot = int(now // window)
    return f"intake:rate:{key}:{window}:{slot}", int((slot + 1) * window - now) + 1


def rate_limit_check(key: str, *, rate: tuple[int, int]) -> None:
    """RateLimited when `key` has already used up this window, without counting."""
    cache_key, retry_after = _window(key, rate)
    if int(cache.get(cache_key) or 0) >= rate[0]:
        raise RateLimited(retry_after=max(1, retry_after))


def rate_limit_key(key: str, *, rate: tuple[int, int]) -> None:
    """Count one event for `key` in a fixed window; RateLimited past the limit.
    `cache.add` then `incr` is atomic in Redis, so processes share one count."""
    limit, window = rate
    cache_key, retry_after = _window(key, rate)
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        raise RateLimited(retry_after=max(1, retry_after))


def _address_key(address: str) -> str:
    """IPv6 clients usually hold a whole /64: count them by it, or every address in it
    would get its own allowance."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


# --- the portal and the visitor ---------------------------------------------------------------


def portal_for_token(token: str, *, require_open: bool = True) -> Portal:
    portal = portal_selectors.portal_find_by_token(token=token)
    if portal is not None:
        log_about(portal=portal.pk)
    if portal is None:
        raise PortalNotFound("This upload link does not exist or is no longer valid.")
    if require_open and not portal_is_open(portal):
        raise PortalClosed("This upload link is closed; please ask whoever sent it for a new one.")
    return portal


@dataclass(frozen=True)
class Visitor:
    visitor_id: str
    name: str
    email: str
    unlocked: bool

    @property
    def identified(self) -> bool:
        return bool(self.visitor_id)


def _unlock_proof(portal: Portal) -> str:
    """Bound to the current password hash and link: a change to either invalidates it."""
    return salted_hmac("intake.portal-unlock", f"{portal.pk}:{portal.password_hash}:{portal.token_digest}").hexdigest()


def _state(request: HttpRequest, portal: Portal) -> dict[str, Any]:
    portals = request.session.get(SESSION_KEY)
    state = portals.get(str(portal.pk)) if isinstance(portals, dict) else None
    return state if isinstance(state, dict) else {}


def _save_state(request: HttpRequest, portal: Portal, state: dict[str, Any]) -> None:
    portals = request.session.get(SESSION_KEY)
    portals = dict(portals) if isinstance(portals, dict) else {}
    portals[str(portal.pk)] = state
    request.session[SESSION_KEY] = portals


def visitor_of(request: HttpRequest, portal: Portal) -> Visitor:
    state = _state(request, portal)
    unlocked = not portal.password_hash or constant_time_compare(str(state.get("unlock", "")), _unlock_proof(portal))
    identified = (
        unlocked
        and state.get("link") == portal.token_digest
        and bool(state.get("visitor"))
        # Requirements can tighten while a visitor is on the page: ask again then.
        and (bool(state.get("name")) or not portal.require_name)
        and (bool(state.get("email")) or not portal.require_email)
    )
    return Visitor(
        visitor_id=str(state.get("visitor", "")) if identified else "",
        name=str(state.get("name", "")) if identified else "",
        email=str(state.get("email", "")) if identified else "",
        unlocked=unlocked,
    )


def visitor_unlock(request: HttpRequest, portal: Portal, password: str) -> bool:
    """Check the password (rate limited per address by the caller, and here per portal
    for wrong guesses, so many addresses cannot guess faster together); remember
    success in the session."""
    wrong_guesses = f"password-wrong:portal:{portal.pk}"
    # Checked before hashing: once the link has had its share of wrong guesses, every
    # attempt waits (the right one too), and guessing costs no password hashing.
    rate_limit_check(wrong_guesses, rate=settings.INTAKE_PORTAL_RATE_WRONG_PASSWORDS)
    if not portal.password_hash or not check_password(password, portal.password_hash):
        with contextlib.suppress(RateLimited):  # this guess is answered as wrong anyway
            rate_limit_key(wrong_guesses, rate=settings.INTAKE_PORTAL_RATE_WRONG_PASSWORDS)
        return False
    request.session.cycle_key()  # a new session id once it grants something
    state = _state(request, portal)
    state["unlock"] = _unlock_proof(portal)
    _save_state(request, portal, state)
    return True


def visitor_identify(request: HttpRequest, portal: Portal, *, name: str, email: str) -> Visitor:
    """Remember who the visitor said they are; keeps their visitor id when they had one."""
    state = _state(request, portal)
    if state.get("link") != portal.token_digest or not state.get("visitor"):
        state["visitor"] = secrets.token_hex(16)
    state.update(link=portal.token_digest, name=name, email=email)
    _save_state(request, portal, state)
    return visitor_of(request, portal)


# --- the principal the upload contract uses ----------------------------------------------------


def portal_principal(request: HttpRequest, portal_token: str) -> UploadPrincipal:
    """The caller of `/p/<token>/api/…`: may upload to this portal and see only what
    this browser session uploaded through it."""
    rate_limit(request, bucket="api", rate=settings.INTAKE_PORTAL_RATE_API)
    portal = portal_for_token(portal_token)
    visitor = visitor_of(request, portal)
    if not visitor.unlocked:
        raise PortalLocked("Enter this link's password first.")
    if not visitor.identified:
        raise PortalLocked("Tell us who you are on the upload page first.")
    return UploadPrincipal(
        owner=None,
        scope=portal.slug,
        limits=portal_upload_limits(portal),
        permissions=frozenset({Permission.UPLOAD, Permission.BROWSE}),
        visible=Q(portal=portal, portal_visitor=visitor.visitor_id),
        registration_fields={
            "portal": portal,
            "portal_visitor": visitor.visitor_id,
            "uploader_name": visitor.name,
            "uploader_email": visitor.email,
        },
        audit_label=f"portal:{portal.slug}",
    )
