"""The pages a client sees at /p/<token>/: password, "who are you", upload, confirmation.

Thin: resolve the portal and the visitor (uploader.portals.access), check one form,
render. A missing, disabled or expired portal gets a plain page and nothing else.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from uploader.notify.tasks import send_portal_receipt
from uploader.portals import selectors as portal_selectors
from uploader.portals.access import (
    PortalClosed,
    PortalNotFound,
    RateLimited,
    Visitor,
    portal_for_token,
    rate_limit,
    visitor_identify,
    visitor_of,
    visitor_unlock,
)
from uploader.portals.branding import portal_logo_url
from uploader.portals.identity import business_identity, client_title
from uploader.portals.limits import limits_summary, portal_allowance, portal_upload_limits
from uploader.portals.models import Portal
from uploader.uploads.models import ScanState, UploadState

MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254  # what Upload.uploader_email holds (validate_email allows 320)

PortalView = Callable[[HttpRequest, Portal, Visitor, str], HttpResponse]


def _relative_luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_colour_on(hex_colour: str) -> str:
    """White or near-black, whichever contrasts more with the brand colour (WCAG)."""
    luminance = _relative_luminance(hex_colour)
    on_white = 1.05 / (luminance + 0.05)
    on_dark = (luminance + 0.05) / (_relative_luminance("#111418") + 0.05)
    return "#ffffff" if on_white >= on_dark else "#111418"


def _render(
    request: HttpRequest, template: str, portal: Portal | None, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context = {"business": business_identity(), **context}
    if portal is not None:
        context = {
            "portal": portal,
            "page_title": client_title(portal),
            "logo_url": portal_logo_url(portal),
            "on_brand": text_colour_on(portal.brand_colour),
            "limits": limits_summary(portal),
            **context,
        }
    return render(request, template, context, status=status)


def _plain(
    request: HttpRequest, *, title: str, message: str, status: int, ask_for_a_link: bool = False
) -> HttpResponse:
    """A page with a message only; a dead link's page says whom to ask for a new one."""
    context = {"title": title, "message": message, "ask_for_a_link": ask_for_a_link}
    return _render(request, "portal/plain.html", None, context, status=status)


def portal_view(bucket: str) -> Callable[[PortalView], Callable[..., HttpResponse]]:
    """Rate limit, resolve the portal (plain page when it is gone or closed), the visitor."""

    def decorate(view: PortalView) -> Callable[..., HttpResponse]:
        def wrapper(request: HttpRequest, portal_token: str) -> HttpResponse:
            try:
                rate_limit(request, bucket=bucket, rate=getattr(settings, f"INTAKE_PORTAL_RATE_{bucket.upper()}"))
                portal = portal_for_token(portal_token)
            except RateLimited as exc:
                response = _plain(request, title="Please slow down", message=exc.message, status=429)
                response["Retry-After"] = str(exc.retry_after)
                return response
            except PortalNotFound as exc:
                return _plain(request, title="Link not found", message=exc.message, status=404, ask_for_a_link=True)
            except PortalClosed:
                message = "This upload link no longer accepts files."
                return _plain(
                    request, title="This upload link is closed", message=message, status=410, ask_for_a_link=True
                )
            return view(request, portal, visitor_of(request, portal), portal_token)

        wrapper.__name__ = view.__name__
        wrapper.__doc__ = view.__doc__
        return wrapper

    return decorate


def _identity_form(
    request: HttpRequest, portal: Portal, *, values: dict[str, str], errors: dict[str, str], status: int
) -> HttpResponse:
    return _render(request, "portal/identify.html", portal, {"values": values, "errors": errors}, status=status)


@require_GET
@ensure_csrf_cookie
@portal_view("page")
def portal_page(request: HttpRequest, portal: Portal, visitor: Visitor, token: str) -> HttpResponse:
    """Password first when there is one, then who the visitor is, then the uploader."""
    if not visitor.unlocked:
        return _render(request, "portal/password.html", portal, {"error": ""})
    if not visitor.identified:
        return _identity_form(request, portal, values={}, errors={}, status=200)
    limits = portal_upload_limits(portal)
    allowance = portal_allowance(portal)
    upload_config = {
        "endpoint": request.build_absolute_uri(
            reverse("portal:api:s3-params", kwargs={"portal_token": token})
        ).removesuffix("/s3/params"),
        "uppyId": f"intake-portal-{portal.pk}",
        "maxFileSize": limits.max_bytes,
        # What is left of the portal's count and total: the page refuses a file that
        # cannot fit before sending it (the server checks again when it registers).
        "maxNumberOfFiles": allowance.files_left,
        "bytesLeft": allowance.bytes_left,
        "allowedTypes": list(portal.allowed_extensions) or list(limits.allowed_content_types) or None,
        "multipartThreshold": settings.INTAKE_MULTIPART_THRESHOLD_BYTES,
        "partSize": settings.INTAKE_PART_SIZE_BYTES,
    }
    return _render(
        request,
        "portal/upload.html",
        portal,
        {"visitor": visitor, "upload_config": upload_config, "token": token, "allowance": allowance},
    )


@require_POST
@portal_view("password")
def portal_unlock(request: HttpRequest, portal: Portal, visitor: Visitor, token: str) -> HttpResponse:
    """The password form; every attempt counts against the address's password rate,
    and wrong ones against the link's own."""
    try:
        if visitor.unlocked or visitor_unlock(request, portal, request.POST.get("password", "")):
            return redirect("portal:page", portal_token=token)
    except RateLimited as exc:
        message = f"This link has had too many wrong passwords; please wait {exc.retry_after} seconds and try again."
        response = _render(request, "portal/password.html", portal, {"error": message}, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    return _render(request, "portal/password.html", portal, {"error": "That password is not right."}, status=400)


@require_POST
@portal_view("page")
def portal_identify(request: HttpRequest, portal: Portal, visitor: Visitor, token: str) -> HttpResponse:
    """Name and e-mail as the visitor states them; shown to staff as text, never trusted."""
    if not visitor.unlocked:
        return redirect("portal:page", portal_token=token)
    values = {"name": request.POST.get("name", "").strip(), "email": request.POST.get("email", "").strip()}
    errors: dict[str, str] = {}
    if portal.require_name and not values["name"]:
        errors["name"] = "Please enter your name."
    elif len(values["name"]) > MAX_NAME_LENGTH:
        errors["name"] = f"Names can be at most {MAX_NAME_LENGTH} characters."
    elif any(unicodedata.category(char) == "Cc" for char in values["name"]):
        errors["name"] = "Names cannot contain control characters (such as line breaks)."
    if portal.require_email and not values["email"]:
        errors["email"] = "Please enter your e-mail address."
    elif len(values["email"]) > MAX_EMAIL_LENGTH:
        errors["email"] = f"E-mail addresses can be at most {MAX_EMAIL_LENGTH} characters."
    elif values["email"]:
        try:
            validate_email(values["email"])
        except ValidationError:
            errors["email"] = "That does not look like an e-mail address."
    if errors:
        return _identity_form(request, portal, values=values, errors=errors, status=400)
    visitor_identify(request, portal, name=values["name"], email=values["email"])
    return redirect("portal:page", portal_token=token)


@require_GET
@portal_view("page")
def portal_done(request: HttpRequest, portal: Portal, visitor: Visitor, token: str) -> HttpResponse:
    """The confirmation: what arrived from this browser, and what was refused and why."""
    if not visitor.identified:
        return redirect("portal:page", portal_token=token)
    uploads = list(portal_selectors.portal_visitor_uploads(portal=portal, visitor=visitor.visitor_id))
    return _render(
        request,
        "portal/done.html",
        portal,
        {
            "visitor": visitor,
            "token": token,
            "arrived": [u for u in uploads if u.state == UploadState.STORED and u.scan_state != ScanState.INFECTED],
            "refused": [u for u in uploads if u.state == UploadState.REJECTED or u.scan_state == ScanState.INFECTED],
            "unfinished": [u for u in uploads if u.state in {UploadState.REGISTERED, UploadState.UPLOADING}],
            "receipt_sent": request.GET.get("receipt") == "sent",
        },
    )


@require_POST
@portal_view("receipt")
def portal_receipt(request: HttpRequest, portal: Portal, visitor: Visitor, token: str) -> HttpResponse:
    """E-mail the visitor the list of what arrived (to the address they gave)."""
    if not visitor.identified or not visitor.email:
        return redirect("portal:done", portal_token=token)
    portal_id, visitor_id = portal.pk, visitor.visitor_id
    transaction.on_commit(lambda: send_portal_receipt.delay(portal_id, visitor_id))
    return redirect(f"{reverse('portal:done', kwargs={'portal_token': token})}?receipt=sent")
