"""The pages a client sees at /r/<token>/: the checklist, one item's upload page, and,
before them when the request asks for a code, the pages that e-mail and check it.

Thin: resolve the request by its link (uploader.requests.access), check this browser
may see it, read its items, render. A link that opens nothing gets a plain 404 page; a
closed request a plain 410 page that says it is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods

from uploader.portals.access import RateLimited, rate_limit
from uploader.requests import reminders, selectors
from uploader.requests.access import (
    ITEM_SEPARATOR,
    CodeResult,
    RequestClosed,
    RequestNotFound,
    client_verified,
    code_check,
    code_send,
    item_of,
    password_check,
    pending_email,
    request_for_token,
)
from uploader.requests.limits import item_files_left, item_limits_summary, item_upload_limits
from uploader.requests.models import DocumentRequest, ItemState

RequestView = Callable[..., HttpResponse]


def _plain(request: HttpRequest, *, title: str, message: str, status: int) -> HttpResponse:
    return render(request, "portal/plain.html", {"title": title, "message": message}, status=status)


def client_view(view: RequestView) -> Callable[..., HttpResponse]:
    """Rate limit and resolve the request; a plain page when it is gone or closed."""

    def wrapper(request: HttpRequest, request_token: str, **kwargs: Any) -> HttpResponse:
        try:
            rate_limit(request, bucket="page", rate=settings.INTAKE_PORTAL_RATE_PAGE)
            document_request = request_for_token(request_token)
            return view(request, document_request, request_token, **kwargs)
        except RateLimited as exc:
            response = _plain(request, title="Please slow down", message=exc.message, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        except RequestNotFound as exc:
            return _plain(request, title="Link not found", message=exc.message, status=404)
        except RequestClosed as exc:
            return _plain(request, title="This request is complete", message=exc.message, status=410)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


MAX_EMAIL_LENGTH = 254
CODE_ERROR = (
    "That code is not right, or it has expired or been tried too often. Check the e-mail, or ask for a new code."
)


def _email_form(
    request: HttpRequest,
    document_request: DocumentRequest,
    token: str,
    *,
    error: str = "",
    email: str = "",
    status: int = 200,
) -> HttpResponse:
    # Nothing of the request (not even the client's name) is shown before the code.
    context = {"token": token, "error": error, "email": email, "has_password": bool(document_request.password_hash)}
    return render(request, "requests/code_email.html", context, status=status)


@require_http_methods(["GET", "POST"])
@client_view
def request_page(request: HttpRequest, document_request: DocumentRequest, token: str) -> HttpResponse:
    """The checklist once this browser may see it; before that, where the client asks
    for a code (POST: send it, then the page that takes it)."""
    if not client_verified(request, document_request):
        if request.method != "POST":
            return _email_form(request, document_request, token)
        email = request.POST.get("email", "").strip()
        if not email or "@" not in email or len(email) > MAX_EMAIL_LENGTH:
            return _email_form(
                request,
                document_request,
                token,
                error="Enter your e-mail address.",
                email=email[:MAX_EMAIL_LENGTH],
                status=400,
            )
        code_send(request, document_request, email)
        return redirect("requests:code", request_token=token)
    if request.method == "POST":
        return redirect("requests:page", request_token=token)
    return _checklist(request, document_request, token)


@require_http_methods(["GET", "POST"])
@client_view
def code_page(request: HttpRequest, document_request: DocumentRequest, token: str) -> HttpResponse:
    """Where the code is entered. The page says the same whether or not the address
    is one of the request's."""
    if client_verified(request, document_request):
        return redirect("requests:page", request_token=token)
    email = pending_email(request, document_request)
    if not email:
        return redirect("requests:page", request_token=token)
    context = {"token": token, "email": email, "error": ""}
    if request.method == "POST":
        if code_check(request, document_request, request.POST.get("code", "")) == CodeResult.VERIFIED:
            return redirect("requests:page", request_token=token)
        context["error"] = CODE_ERROR
        return render(request, "requests/code_enter.html", context, status=400)
    return render(request, "requests/code_enter.html", context)


@require_http_methods(["GET", "POST"])
@client_view
def password_page(request: HttpRequest, document_request: DocumentRequest, token: str) -> HttpResponse:
    """The request's password, when staff gave the client one, instead of a code."""
    if client_verified(request, document_request) or not document_request.password_hash:
        return redirect("requests:page", request_token=token)
    if request.method == "POST":
        if password_check(request, document_request, request.POST.get("password", "")):
            return redirect("requests:page", request_token=token)
        context = {"token": token, "error": "That password is not right."}
        return render(request, "requests/password.html", context, status=400)
    return render(request, "requests/password.html", {"token": token, "error": ""})


def _checklist(request: HttpRequest, document_request: DocumentRequest, token: str) -> HttpResponse:
    """The checklist: every item, its state, instructions, files sent, and where to send more."""
    items = selectors.request_items_with_files(request=document_request)
    required = [entry for entry in items if entry.item.required]
    return render(
        request,
        "requests/checklist.html",
        {
            "document_request": document_request,
            "items": items,
            "token": token,
            "accepted_required": sum(1 for entry in required if entry.item.state == ItemState.ACCEPTED),
            "required_count": len(required),
        },
    )


@require_GET
@ensure_csrf_cookie
@client_view
def item_page(request: HttpRequest, document_request: DocumentRequest, token: str, *, item_id: int) -> HttpResponse:
    """One item: what is asked, why it was sent back, what arrived, and its upload area."""
    item = item_of(document_request, item_id)
    if not client_verified(request, document_request):
        return redirect("requests:page", request_token=token)
    files = next(e.files for e in selectors.request_items_with_files(request=document_request) if e.item.pk == item.pk)
    limits = item_upload_limits(item)
    files_left = item_files_left(item)
    api_key = f"{token}{ITEM_SEPARATOR}{item.pk}"
    upload_config = {
        "endpoint": request.build_absolute_uri(
            reverse("requests:api:s3-params", kwargs={"portal_token": api_key})
        ).removesuffix("/s3/params"),
        "uppyId": f"intake-request-item-{item.pk}",
        "maxFileSize": limits.max_bytes,
        "maxNumberOfFiles": files_left,
        "allowedTypes": list(item.allowed_extensions) or list(limits.allowed_content_types) or None,
        "multipartThreshold": settings.INTAKE_MULTIPART_THRESHOLD_BYTES,
        "partSize": settings.INTAKE_PART_SIZE_BYTES,
    }
    return render(
        request,
        "requests/item.html",
        {
            "document_request": document_request,
            "item": item,
            "files": files,
            "token": token,
            "limits": item_limits_summary(item),
            "files_left": files_left,
            "takes_files": item.state != ItemState.ACCEPTED and files_left != 0,
            "upload_config": upload_config,
        },
    )


@require_http_methods(["GET", "POST"])
@client_view
def later_page(request: HttpRequest, document_request: DocumentRequest, token: str, *, signed: str) -> HttpResponse:
    """ "I'll send it later" from a reminder: GET asks (a mail scanner that follows links
    must not pause anything), POST pauses the reminders a week and thanks the client.
    A forged or expired link is a 400 page."""
    try:
        reminders.later_check(document_request, signed)
    except reminders.LaterLinkInvalid as exc:
        return _plain(request, title="This link does not work", message=str(exc), status=400)
    paused_until = None
    if request.method == "POST":
        # The audit trail names the client as it names their uploads: request:<id>.
        request.intake_principal = reminders.LinkHolder(audit_label=f"request:{document_request.pk}")  # type: ignore[attr-defined]
        paused_until = reminders.reminders_pause(document_request, signed)
    return render(
        request,
        "requests/later.html",
        {
            "document_request": document_request,
            "token": token,
            "paused_until": paused_until,
            "days": settings.INTAKE_REMINDER_LATER_DAYS,
        },
    )
