"""Who is on a request's pages: whoever holds its link (the link is the key, as for
portals; one-time codes by e-mail come later), and what the upload contract mounted
under one of its items lets them do.

The contract is mounted at `/r/<token>/items/<item id>/api/`; the mount passes the
token and item id to `request_item_principal` as one URL argument (the contract's
`portal_token`, see uploader.requests.urls), so the API needs nothing from requests.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest

from config.request_context import log_about
from uploader.access.principals import UploadPrincipal
from uploader.access.roles import Permission
from uploader.portals.access import rate_limit
from uploader.requests import selectors
from uploader.requests.limits import ItemAdmission, item_upload_limits
from uploader.requests.models import DocumentRequest, RequestItem, RequestState
from uploader.uploads.errors import UploadError

ITEM_SEPARATOR = "/items/"


class RequestNotFound(UploadError):
    """No request has this link, or the item is not one of its items: the same answer."""

    status = 404
    code = "request_not_found"


class RequestClosed(UploadError):
    status = 410
    code = "request_closed"


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


def request_item_principal(request: HttpRequest, key: str) -> UploadPrincipal:
    """The caller of `/r/<token>/items/<id>/api/…`: may upload to this item (within its
    limits) and see only this item's files."""
    rate_limit(request, bucket="api", rate=settings.INTAKE_PORTAL_RATE_API)
    token, _, item_id = key.partition(ITEM_SEPARATOR)
    document_request = request_for_token(token)
    item = item_of(document_request, int(item_id)) if item_id.isdigit() else None
    if item is None:
        raise RequestNotFound("This link does not exist or is no longer valid.")
    return UploadPrincipal(
        owner=None,
        scope=f"request-{document_request.pk}",
        limits=item_upload_limits(item),
        permissions=frozenset({Permission.UPLOAD, Permission.BROWSE}),
        visible=Q(request_item=item),
        registration_fields={
            "request_item": item,
            "uploader_name": document_request.client_name,
            "uploader_email": document_request.client_emails[0] if document_request.client_emails else "",
        },
        audit_label=f"request:{document_request.pk}",
        admission=ItemAdmission(item),
    )
