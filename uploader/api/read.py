"""The read API: what a caller may read (staff roles that browse, machine clients with
the read scope), newest first, and short-lived downloads. Same caller resolution and
error answers as the upload contract (uploader.api.decorators.contract_api)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from uploader.access.roles import Permission
from uploader.api.contract import upload_as_json
from uploader.api.decorators import caller, contract_api
from uploader.uploads import downloads, selectors
from uploader.uploads.errors import InvalidInput
from uploader.uploads.models import UploadState

READ_PAGE_SIZE = 100


@require_GET
@contract_api(Permission.BROWSE)
def upload_list(request: HttpRequest) -> HttpResponse:
    """`GET uploads?state=&before=<ISO time>`: what the caller may read, newest first,
    100 at a time; `next` is the `before` of the following page."""
    state = request.GET.get("state") or None
    if state is not None and state not in UploadState.values:
        raise InvalidInput(f"state must be one of {', '.join(UploadState.values)}.", field="state")
    uploads = selectors.uploads_readable_by(principal=caller(request), state=state)
    before = request.GET.get("before")
    if before:
        try:
            moment = parse_datetime(before)
        except ValueError:  # well-formed but impossible, such as 30 February
            moment = None
        if moment is None:
            raise InvalidInput("before must be an ISO 8601 date and time.", field="before")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, dt.UTC)
        uploads = uploads.filter(created_at__lt=moment)
    page = list(uploads[: READ_PAGE_SIZE + 1])
    more = len(page) > READ_PAGE_SIZE
    page = page[:READ_PAGE_SIZE]
    return JsonResponse(
        {"uploads": [upload_as_json(request, u) for u in page], "next": page[-1].created_at.isoformat() if more else None}
    )


@require_GET
@contract_api(Permission.DOWNLOAD)
def upload_download(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """`GET uploads/<id>/download` → 302 to a short-lived download URL."""
    principal = caller(request)
    upload = selectors.upload_get_readable(principal=principal, upload_id=upload_id)
    return HttpResponseRedirect(downloads.upload_download_url(principal=principal, upload=upload))
