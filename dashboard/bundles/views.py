"""'Download all as a zip' on a portal's and a request's page: ask for the bundle,
watch it being made (htmx polls its status), download it. Needs DOWNLOAD and the
page's own permission (MANAGE_PORTALS or MANAGE_REQUESTS); the services check again.
The zip is made by the worker; these views never hold its bytes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.access import page_requires, render_no_access
from uploader.access.principals import signed_in_principal
from uploader.access.roles import Permission, has_permission
from uploader.bundles import services
from uploader.bundles.models import Bundle
from uploader.portals.models import Portal
from uploader.requests.models import DocumentRequest
from uploader.uploads.errors import UploadError


def _source_permission(bundle: Bundle) -> Permission:
    return Permission.MANAGE_PORTALS if bundle.portal_id else Permission.MANAGE_REQUESTS


def _bundle(request: HttpRequest, bundle_id: uuid.UUID) -> Bundle | HttpResponse:
    try:
        bundle = services.bundle_get(bundle_id=bundle_id)
    except Bundle.DoesNotExist:
        raise Http404("No such zip (it may have expired).") from None
    if not has_permission(request.user, _source_permission(bundle)):
        return render_no_access(request, reason="not_permitted", who=request.user.get_username())
    return bundle


@require_POST
@page_requires(Permission.DOWNLOAD)
def portal_bundle(request: HttpRequest, portal_id: int) -> HttpResponse:
    if not has_permission(request.user, Permission.MANAGE_PORTALS):
        return render_no_access(request, reason="not_permitted", who=request.user.get_username())
    portal = Portal.objects.filter(pk=portal_id).first()
    if portal is None:
        raise Http404("No such portal.")
    try:
        bundle = services.bundle_for_portal(principal=signed_in_principal(request.user), portal=portal)
    except UploadError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:portal-detail", portal_id=portal_id)
    return redirect("dashboard:bundle", bundle_id=bundle.pk)


@require_POST
@page_requires(Permission.DOWNLOAD)
def request_bundle(request: HttpRequest, request_id: int) -> HttpResponse:
    if not has_permission(request.user, Permission.MANAGE_REQUESTS):
        return render_no_access(request, reason="not_permitted", who=request.user.get_username())
    document_request = DocumentRequest.objects.filter(pk=request_id).first()
    if document_request is None:
        raise Http404("No such request.")
    try:
        bundle = services.bundle_for_request(
            principal=signed_in_principal(request.user), document_request=document_request
        )
    except UploadError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:request-detail", request_id=request_id)
    return redirect("dashboard:bundle", bundle_id=bundle.pk)


def _context(bundle: Bundle) -> dict[str, object]:
    return {"bundle": bundle, "expires_minutes": max(1, settings.INTAKE_DOWNLOAD_EXPIRES_SECONDS // 60)}


@require_GET
@page_requires(Permission.DOWNLOAD)
def bundle_page(request: HttpRequest, bundle_id: uuid.UUID) -> HttpResponse:
    bundle = _bundle(request, bundle_id)
    if isinstance(bundle, HttpResponse):
        return bundle
    return render(request, "dashboard/bundles/page.html", _context(bundle))


@require_GET
@page_requires(Permission.DOWNLOAD)
def bundle_status(request: HttpRequest, bundle_id: uuid.UUID) -> HttpResponse:
    """The progress part of the page, for htmx to swap in while the zip is made."""
    bundle = _bundle(request, bundle_id)
    if isinstance(bundle, HttpResponse):
        return bundle
    return render(request, "dashboard/bundles/_status.html", _context(bundle))


@require_POST
@page_requires(Permission.DOWNLOAD)
def bundle_download(request: HttpRequest, bundle_id: uuid.UUID) -> HttpResponse:
    """Redirect to a short-lived signed URL of the zip (audited with its file ids)."""
    bundle = _bundle(request, bundle_id)
    if isinstance(bundle, HttpResponse):
        return bundle
    try:
        url = services.bundle_download_url(principal=signed_in_principal(request.user), bundle=bundle)
    except UploadError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:bundle", bundle_id=bundle.pk)
    return redirect(url)
