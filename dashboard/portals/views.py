"""Staff pages for client portals: list, create, see (link, uploads, webhook
deliveries), edit, rotate, disable, send a given-up webhook delivery again. Staff and
admins only; the services check the role again."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.access import page_requires, render_no_access
from dashboard.browse.rows import browse_rows
from dashboard.confirm import Confirmation, confirmed, render_confirm
from dashboard.portals.forms import PortalForm
from uploader.access.principals import signed_in_principal
from uploader.access.roles import Permission, has_permission
from uploader.notify.models import WebhookDelivery, WebhookDeliveryState
from uploader.notify.services import webhook_delivery_may_retry, webhook_delivery_retry
from uploader.portals import selectors as portal_selectors
from uploader.portals.branding import portal_logo_url, portal_remove_logo, portal_set_logo
from uploader.portals.limits import limits_summary
from uploader.portals.models import Portal, ProcessingOption
from uploader.portals.services import (
    portal_create,
    portal_disable,
    portal_is_open,
    portal_link,
    portal_reopen,
    portal_rotate_link,
    portal_update,
)
from uploader.processing import services as processing
from uploader.retention.selectors import portal_keeping
from uploader.uploads import downloads
from uploader.uploads.errors import UploadError
from uploader.uploads.models import SCAN_USABLE, UploadState

# Download-all signs up to this many of the portal's latest stored files.
UPLOADS_SHOWN = 200
# The portal's page lists its latest files; all of them are in the file list filtered
# by the portal (searchable, sorted, paged), which the page links to. 200 rows with
# their previews' signed URLs took longer to make than the rest of the page.
PAGE_UPLOADS_SHOWN = 50


def _portal(portal_id: int) -> Portal:
    try:
        return portal_selectors.portal_get(portal_id=portal_id)
    except Portal.DoesNotExist:
        raise Http404("No such portal.") from None


@page_requires(Permission.MANAGE_PORTALS)
def portal_list(request: HttpRequest) -> HttpResponse:
    """Every portal in one table (a business has tens to a few hundred): the columns
    shown are all that is read, and each row's link and date are made here, with one
    URL reversal for the page, rather than by a template tag per row."""
    now = timezone.now()
    zone = timezone.get_default_timezone()
    placeholder = 987654321
    around_id = reverse("dashboard:portal-detail", kwargs={"portal_id": placeholder}).split(str(placeholder))
    portals = [
        PortalRow(
            portal=portal,
            is_open=portal_is_open(portal, now=now),
            url=str(portal.pk).join(around_id),
            closes=_local_minute(portal.expires_at, zone) if portal.expires_at else "",
        )
        for portal in portal_selectors.portal_list().only("id", "name", "slug", "is_active", "expires_at", "created_at")
    ]
    return render(request, "dashboard/portals/list.html", {"portals": portals})


@dataclass(frozen=True)
class PortalRow:
    portal: Portal
    is_open: bool
    url: str
    closes: str  # "" when it never closes


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _local_minute(moment: dt.datetime, zone: Any) -> str:
    """As the `date` filter's "j M Y H:i" in TIME_ZONE."""
    local = timezone.localtime(moment, zone)
    return f"{local.day} {_MONTHS[local.month - 1]} {local:%Y %H:%M}"


@page_requires(Permission.MANAGE_PORTALS)
def portal_new(request: HttpRequest) -> HttpResponse:
    form = PortalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            portal = portal_create(actor=request.user, **form.service_options())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Portal created. Copy its link below and send it to your client.")
            return redirect("dashboard:portal-detail", portal_id=portal.pk)
    return render(
        request, "dashboard/portals/form.html", {"form": form, "portal": None}, status=400 if form.errors else 200
    )


@page_requires(Permission.MANAGE_PORTALS)
def portal_detail(request: HttpRequest, portal_id: int) -> HttpResponse:
    portal = _portal(portal_id)
    # The portal is each row's portal: no join, and no query per row for its name.
    uploads = list(portal_selectors.portal_uploads(portal=portal)[:PAGE_UPLOADS_SHOWN])
    for upload in uploads:
        upload.portal = portal
    links = processing.derivative_links(uploads, principal=signed_in_principal(request.user))
    none = processing.DerivativeLinks()
    deliveries = portal_selectors.portal_webhook_deliveries(portal=portal)
    keeping = portal_keeping(portal)
    return render(
        request,
        "dashboard/portals/detail.html",
        {
            "portal": portal,
            "link": portal_link(portal),
            "is_open": portal_is_open(portal),
            "limits": limits_summary(portal),
            "usage": portal_selectors.portal_usage(portal=portal),
            "uploads": uploads,
            # (upload, its derivatives' signed URLs) for the table
            "rows": [
                (row, links.get(upload.pk, none))
                for upload, row in zip(uploads, browse_rows(uploads), strict=True)
            ],
            "processing": [label for value, label in ProcessingOption.choices if value in portal.processing],
            "logo_url": portal_logo_url(portal),
            "can_download": has_permission(request.user, Permission.DOWNLOAD),
            # What download-all takes: the latest UPLOADS_SHOWN stored files (less
            # those the scan holds, which it counts and says).
            "stored_count": min(keeping.stored, UPLOADS_SHOWN),
            "more_files": len(uploads) == PAGE_UPLOADS_SHOWN,
            # Retention and legal holds (uploader.retention): due soon, held so far.
            "keeping": keeping,
            # Hidden for a portal that has no webhooks and never had any.
            "show_webhooks": bool(portal.notify_webhooks or deliveries),
            # (delivery, its URL without the query string, which may hold a secret,
            # whether it may be sent again)
            "webhook_rows": [
                (d, portal_selectors.webhook_target_shown(d.url), webhook_delivery_may_retry(d, portal))
                for d in deliveries
            ],
        },
    )


@page_requires(Permission.MANAGE_PORTALS)
def portal_edit(request: HttpRequest, portal_id: int) -> HttpResponse:
    portal = _portal(portal_id)
    form = PortalForm(request.POST or None, portal=portal)
    if request.method == "POST" and form.is_valid():
        try:
            portal_update(actor=request.user, portal=portal, **form.service_options())
        except ValidationError as exc:
            form.add_service_errors(exc)
            portal.refresh_from_db()
        else:
            messages.success(request, "Saved. Visitors see the change on their next page or upload.")
            return redirect("dashboard:portal-detail", portal_id=portal.pk)
    return render(
        request, "dashboard/portals/form.html", {"form": form, "portal": portal}, status=400 if form.errors else 200
    )


def _back(portal_id: int) -> str:
    return reverse("dashboard:portal-detail", kwargs={"portal_id": portal_id})


@require_http_methods(["GET", "POST"])
@page_requires(Permission.MANAGE_PORTALS)
def portal_rotate(request: HttpRequest, portal_id: int) -> HttpResponse:
    """Asks first (dashboard.confirm): the old link stops working at once."""
    portal = _portal(portal_id)
    if not confirmed(request):
        return render_confirm(
            request,
            Confirmation(
                title=f"Make a new link for {portal.name}?",
                message="The link you sent before stops working at once; clients need the new one to send files.",
                button="Make a new link",
                cancel_url=_back(portal_id),
                cancel_label="Cancel, keep the current link",
            ),
        )
    portal_rotate_link(actor=request.user, portal=portal)
    messages.success(request, "New link made. The old link no longer works; send the new one.")
    return redirect("dashboard:portal-detail", portal_id=portal_id)


@require_http_methods(["GET", "POST"])
@page_requires(Permission.MANAGE_PORTALS)
def portal_close(request: HttpRequest, portal_id: int) -> HttpResponse:
    """Asks first (dashboard.confirm); a disabled portal can be re-opened."""
    portal = _portal(portal_id)
    if not confirmed(request):
        return render_confirm(
            request,
            Confirmation(
                title=f"Disable {portal.name}?",
                message="Its link shows a closed notice and accepts no files until you re-open it. "
                "Files already sent stay.",
                button="Disable the portal",
                cancel_url=_back(portal_id),
                cancel_label="Cancel, keep it open",
            ),
        )
    portal_disable(actor=request.user, portal=portal)
    messages.success(request, "Portal disabled. Its link now shows a closed notice and accepts nothing.")
    return redirect("dashboard:portal-detail", portal_id=portal_id)


@require_http_methods(["GET", "POST"])
@page_requires(Permission.MANAGE_PORTALS)
def portal_reopen_view(request: HttpRequest, portal_id: int) -> HttpResponse:
    """Re-open a disabled portal (asks first, like disabling; audited `portal.reopened`)."""
    portal = _portal(portal_id)
    if not confirmed(request):
        return render_confirm(
            request,
            Confirmation(
                title=f"Re-open {portal.name}?",
                message="Its link (the same one as before) accepts files again.",
                button="Re-open the portal",
                cancel_url=_back(portal_id),
                cancel_label="Cancel, keep it closed",
                destructive=False,
            ),
        )
    portal_reopen(actor=request.user, portal=portal)
    if portal_is_open(portal):
        messages.success(request, "Portal re-opened. Its link accepts files again.")
    else:
        messages.success(request, "Portal re-opened, but its closing date has passed: change it under Edit.")
    return redirect("dashboard:portal-detail", portal_id=portal_id)


@require_POST
@page_requires(Permission.DOWNLOAD)
def portal_download_all(request: HttpRequest, portal_id: int) -> HttpResponse:
    """Signed download links of every stored file of the portal (the latest
    UPLOADS_SHOWN), each audited as a download, on a page whose button fetches them one
    after the other in the browser. Bytes go from storage to the browser, never
    through Intake."""
    if not has_permission(request.user, Permission.MANAGE_PORTALS):
        return render_no_access(request, reason="not_permitted", who=request.user.get_username())
    portal = _portal(portal_id)
    principal = signed_in_principal(request.user)
    stored_files = portal_selectors.portal_uploads(portal=portal).filter(state=UploadState.STORED)
    # Files the malware scan has not released are left out (and counted), not signed.
    stored = list(stored_files.filter(scan_state__in=SCAN_USABLE)[:UPLOADS_SHOWN])
    held = stored_files.exclude(scan_state__in=SCAN_USABLE).count()
    links = []
    problem = ""
    for upload in stored:
        try:
            links.append((upload, downloads.upload_download_url(principal=principal, upload=upload)))
        except UploadError as exc:
            problem = exc.message
            break
    return render(
        request,
        "dashboard/portals/download_all.html",
        {
            "portal": portal,
            "links": links,
            "problem": problem,
            "expires_minutes": max(1, settings.INTAKE_DOWNLOAD_EXPIRES_SECONDS // 60),
            "capped": len(stored) == UPLOADS_SHOWN,
            "held": held,
        },
        status=503 if problem and not links else 200,
    )


@require_POST
@page_requires(Permission.MANAGE_PORTALS)
def portal_logo(request: HttpRequest, portal_id: int) -> HttpResponse:
    """Set (file `logo`) or remove (`remove=1`) the portal's logo."""
    portal = _portal(portal_id)
    if request.POST.get("remove"):
        portal_remove_logo(actor=request.user, portal=portal)
        messages.success(request, "Logo removed.")
        return redirect("dashboard:portal-detail", portal_id=portal_id)
    upload = request.FILES.get("logo")
    if upload is None:
        messages.error(request, "Choose an image file for the logo.")
        return redirect("dashboard:portal-detail", portal_id=portal_id)
    try:
        portal_set_logo(actor=request.user, portal=portal, upload=upload, size=upload.size or 0)
    except UploadError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Logo saved. Clients see it on the portal page now.")
    return redirect("dashboard:portal-detail", portal_id=portal_id)


@require_POST
@page_requires(Permission.MANAGE_PORTALS)
def portal_webhook_retry(request: HttpRequest, portal_id: int, delivery_id: uuid.UUID) -> HttpResponse:
    """Send a given-up webhook delivery of this portal again (any other state: a message)."""
    try:
        result = webhook_delivery_retry(actor=request.user, delivery_id=str(delivery_id), portal_id=portal_id)
    except WebhookDelivery.DoesNotExist:
        raise Http404("No such webhook delivery for this portal.") from None
    if result.queued:
        messages.success(
            request, f"Sending the delivery to {result.target} again; reload this page to see how it went."
        )
    elif result.withdrawn:
        messages.error(
            request,
            f"{result.target} is no longer one of this portal's webhooks, or the portal is switched off; nothing was sent.",
        )
    elif result.state == WebhookDeliveryState.DELIVERED:
        messages.info(request, f"That delivery to {result.target} already arrived; nothing was sent again.")
    else:
        messages.info(request, f"That delivery to {result.target} is still being tried; nothing was changed.")
    return redirect("dashboard:portal-detail", portal_id=portal_id)
