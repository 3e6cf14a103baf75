"""Place or lift a legal hold on one file or on all of a portal's files (admins,
`Permission.LEGAL_HOLD`). Each asks first (dashboard.confirm, with a reason for the
audit trail); the confirmed POST calls one service (uploader.retention.holds). A
refusal (the file is not stored, S3 down or refusing) is said on the page it came
from; nothing changed."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from dashboard.access import page_requires
from dashboard.browse import file_page
from dashboard.confirm import Confirmation, confirmed, render_confirm
from uploader.access.roles import Permission
from uploader.portals import selectors as portal_selectors
from uploader.portals.models import Portal
from uploader.retention import holds
from uploader.uploads.errors import UploadError, UploadNotFound


def _method_allowed(request: HttpRequest) -> bool:
    return request.method in ("GET", "POST")


@page_requires(Permission.LEGAL_HOLD)
def upload_hold(request: HttpRequest, upload_id: uuid.UUID, *, hold: bool) -> HttpResponse:
    """`/uploads/<id>/hold` (place) and `/uploads/<id>/lift-hold` (lift)."""
    if not _method_allowed(request):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    try:
        upload = file_page.upload_for_browsing(user=request.user, upload_id=upload_id)
    except UploadNotFound:
        raise Http404("No such file.") from None
    back = reverse("dashboard:upload-detail", kwargs={"upload_id": upload.pk})
    if not confirmed(request):
        return render_confirm(
            request,
            Confirmation(
                title=f"Place a legal hold on {upload.original_filename}?"
                if hold
                else f"Lift the legal hold on {upload.original_filename}?",
                message="While the hold is on, nobody can delete the file, and retention keeps it."
                if hold
                else "The file can be deleted again, by an admin or by its portal's retention.",
                button="Place the hold" if hold else "Lift the hold",
                cancel_url=back,
                reason_label="Why",
                destructive=not hold,
            ),
        )
    try:
        _, changed = holds.upload_set_hold(
            actor=request.user, upload_id=upload.pk, hold=hold, reason=request.POST.get("reason", "")
        )
    except UploadError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if hold:
        messages.success(request, "The file is on legal hold." if changed else "The file was on legal hold already.")
    else:
        messages.success(request, "The legal hold is lifted." if changed else "The file was not on legal hold.")
    return redirect(back)


@page_requires(Permission.LEGAL_HOLD)
def portal_hold(request: HttpRequest, portal_id: int, *, hold: bool) -> HttpResponse:
    """`/portals/<id>/hold` and `/portals/<id>/lift-hold`: all of the portal's files,
    by a task in batches; the portal page counts the files on hold."""
    if not _method_allowed(request):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    try:
        portal = portal_selectors.portal_get(portal_id=portal_id)
    except Portal.DoesNotExist:
        raise Http404("No such portal.") from None
    back = reverse("dashboard:portal-detail", kwargs={"portal_id": portal.pk})
    if not confirmed(request):
        return render_confirm(
            request,
            Confirmation(
                title=f"Place a legal hold on every file of {portal.name}?"
                if hold
                else f"Lift the legal hold on every file of {portal.name}?",
                message="Every file the portal holds now is kept: nobody can delete it, and retention skips it. "
                "Files that arrive later are not held."
                if hold
                else "Every file of the portal can be deleted again, by an admin or by the portal's retention.",
                button="Hold every file" if hold else "Lift every hold",
                cancel_url=back,
                reason_label="Why",
                destructive=not hold,
            ),
        )
    files = holds.portal_set_hold(actor=request.user, portal=portal, hold=hold, reason=request.POST.get("reason", ""))
    verb = "Placing a legal hold on" if hold else "Lifting the legal hold on"
    messages.success(request, f"{verb} {files} file{'s' if files != 1 else ''}; the count below shows the progress.")
    return redirect(back)
