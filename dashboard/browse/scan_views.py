"""A file's malware scan, for admins: release a file the scanner could not scan (with
a reason), and read an infected file kept in quarantine. Thin: each calls one
service, which checks the role again and audits; errors come back as a message on
the file's page."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from dashboard.access import page_requires
from dashboard.browse.views import _upload_or_404
from uploader.access.principals import signed_in_principal
from uploader.access.roles import Permission
from uploader.scanning.services import upload_release
from uploader.uploads import downloads
from uploader.uploads.errors import InvalidInput, StorageUnavailable, WrongState


@require_POST
@page_requires(Permission.RELEASE_FILES)
def upload_release_view(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """POST `reason`: release a "not scannable" file (audited `upload.scan_released`)."""
    upload = _upload_or_404(request, upload_id)
    try:
        upload_release(user=request.user, upload_id=upload.pk, reason=request.POST.get("reason", ""))
    except (InvalidInput, WrongState) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The file was released without a scan.")
    return redirect("dashboard:upload-detail", upload_id=upload.pk)


@require_POST
@page_requires(Permission.READ_QUARANTINE)
def upload_quarantine_download(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """POST: a short-lived URL of the quarantined object (audited)."""
    upload = _upload_or_404(request, upload_id)
    try:
        url = downloads.quarantined_file_url(principal=signed_in_principal(request.user), upload=upload)
    except (WrongState, StorageUnavailable) as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:upload-detail", upload_id=upload.pk)
    return HttpResponseRedirect(url)
