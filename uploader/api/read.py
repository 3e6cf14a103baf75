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
from uploader.uploads.keyset import BadCursor, keyset_page
from uploader.uploads.models import UploadState

READ_PAGE_SIZE = 100


@require_GET
@contract_api(Permission.BROWSE)
def upload_list(request: HttpRequest) -> HttpResponse:
    """`GET uploads?state=&before=`: what the caller may read, newest first, 100 at a
    time. `next` is the `before` of the following page: a cursor naming the last row
    shown (keyset paging: exact when uploads share a time, and as fast deep in the list
    as at its start). `before` also takes an ISO 8601 time: uploads begun before it."""
    state = request.GET.get("state") or None
    if state is not None and state not in UploadState.values:
        raise InvalidInput(f"state must be one of {', '.join(UploadState.values)}.", field="state")
    uploads = selectors.uploads_readable_by(principal=caller(request), state=state)
    newest = selectors.UPLOAD_SORTS["newest"]
    before = request.GET.get("before") or None
    cursor = None
    if before is not None:
        moment = _moment(before)
        if moment is not None:
            uploads = uploads.filter(created_at__lt=moment)
        else:
            cursor = before
    try:
        page = keyset_page(uploads, sort=newest, size=READ_PAGE_SIZE, after=cursor)
    except BadCursor:
        raise InvalidInput(
            "before must be an ISO 8601 date and time, or the next value of a page.", field="before"
        ) from None
    return JsonResponse({"uploads": [upload_as_json(request, u) for u in page.object_list], "next": page.next_cursor})


def _moment(text: str) -> dt.datetime | None:
    """`text` as an aware time (UTC when it names no offset), or None if it is not one."""
    try:
        moment = parse_datetime(text)
    except ValueError:  # well-formed but impossible, such as 30 February
        return None
    if moment is None:
        return None
    return timezone.make_aware(moment, dt.UTC) if timezone.is_naive(moment) else moment


@require_GET
@contract_api(Permission.DOWNLOAD)
def upload_download(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """`GET uploads/<id>/download` → 302 to a short-lived download URL."""
    principal = caller(request)
    upload = selectors.upload_get_readable(principal=principal, upload_id=upload_id)
    return HttpResponseRedirect(downloads.upload_download_url(principal=principal, upload=upload))
