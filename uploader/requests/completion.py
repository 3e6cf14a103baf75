"""What follows when a request's last required item is accepted: it closes (or, when
it waits for staff, says so), the staff member who made it is told, the worker sends
the client's receipt; and the SHA-256 of accepted files is started early, so staff
see it on the request's page. Used by uploader.requests.services."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from uploader.audit.models import AuditEntry
from uploader.audit.services import audit_record
from uploader.requests import emails
from uploader.requests.models import DocumentRequest, ItemState
from uploader.requests.state import request_move_closed
from uploader.requests.tasks import compute_upload_digest, send_request_receipt
from uploader.uploads.models import Upload, UploadState


def is_complete(request: DocumentRequest) -> bool:
    return not request.items.filter(required=True).exclude(state=ItemState.ACCEPTED).exists()


def close_if_complete(request: DocumentRequest, *, actor: Any) -> str:
    """Close the request when no required item is left unaccepted, or, when it waits
    for staff, say so once (audited). "closed", "waiting" or ""."""
    if not is_complete(request):
        return ""
    if request.waits_for_staff:
        if AuditEntry.objects.filter(action="request.complete_waiting", detail__request=request.pk).exists():
            return ""  # staff were told already (an optional item accepted later)
        audit_record(action="request.complete_waiting", user=actor, detail={"request": request.pk})
        return "waiting"
    closed = request_move_closed(request, user=actor, detail={"why": "every required item is accepted"})
    return "closed" if closed else ""


def after_close(request: DocumentRequest, *, actor: Any, outcome: str, page_url: str) -> bool:
    """Tell the staff member who made it (after the commit), audited either way; once
    closed, the worker sends the client's receipt."""
    if outcome == "waiting":
        told = emails.request_waits_for_staff_email(request, page_url=page_url)
    else:
        told = emails.request_closed_email(request, page_url=page_url)
    creator = request.created_by
    audit_record(
        action="request.staff_told" if told else "request.staff_not_told",
        user=actor,
        detail={"request": request.pk, "to": creator.email if told and creator is not None else ""},
    )
    if outcome == "closed":
        send_request_receipt.delay(request.pk)
    return told


def start_digests(item_ids: list[int]) -> None:
    """Start the SHA-256 of accepted files early, so staff see it before the receipt."""
    upload_ids = [
        str(pk)
        for pk in Upload.objects.filter(request_item_id__in=item_ids, state=UploadState.STORED).values_list(
            "pk", flat=True
        )
    ]
    for upload_id in upload_ids:
        transaction.on_commit(partial(compute_upload_digest.delay, upload_id), robust=True)
