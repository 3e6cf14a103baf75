"""The requests API's answers: a request in the list, a request with its items and
files, what a review did. Names and reasons are data: JSON strings, never markup."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from uploader.requests import selectors, services
from uploader.requests.models import DocumentRequest, ItemState, RequestState
from uploader.requests.services import ReviewResult


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _is_overdue(request: DocumentRequest) -> bool:
    return (
        request.state == RequestState.OPEN and request.due_date is not None and request.due_date < timezone.localdate()
    )


def _common(http: HttpRequest, request: DocumentRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "clientName": request.client_name,
        "clientEmails": list(request.client_emails),
        "company": request.company,
        "state": request.state,
        "dueDate": _time(request.due_date),
        "overdue": _is_overdue(request),
        "template": request.template_id,
        "createdAt": _time(request.created_at),
        "closedAt": _time(request.closed_at),
        "location": http.build_absolute_uri(reverse("requests-api:request", args=[request.pk])),
    }


def request_summary(http: HttpRequest, request: DocumentRequest) -> dict[str, Any]:
    """A row of the list (selectors.request_list's counts)."""
    counts = {
        "total": request.item_count,  # type: ignore[attr-defined]
        "accepted": request.accepted_count,  # type: ignore[attr-defined]
        "waitingForReview": request.waiting_count,  # type: ignore[attr-defined]
    }
    return {**_common(http, request), "items": counts}


def request_detail(http: HttpRequest, request: DocumentRequest) -> dict[str, Any]:
    """The request with each item, its state and its stored files (with the SHA-256
    once the worker has computed it)."""
    items = selectors.request_items_with_files(request=request)
    digests = selectors.request_digests(request=request)
    return {
        **_common(http, request),
        "link": services.request_link(request),
        "staffPage": services.request_staff_url(request),
        "requireCode": request.require_code,
        "waitsForStaff": request.waits_for_staff,
        "retentionDays": request.retention_days,
        "createdBy": request.created_by.get_username() if request.created_by is not None else None,
        "remindersPausedUntil": _time(request.reminders_paused_until),
        "complete": all(entry.item.state == ItemState.ACCEPTED for entry in items if entry.item.required),
        "items": [
            {
                "id": entry.item.pk,
                "title": entry.item.title,
                "instructions": entry.item.instructions,
                "required": entry.item.required,
                "allowedExtensions": list(entry.item.allowed_extensions),
                "allowedContentTypes": list(entry.item.allowed_content_types),
                "maxFiles": entry.item.max_files,
                "dueDate": _time(entry.item.due_date),
                "state": entry.item.state,
                "changesReason": entry.item.changes_reason or None,
                "stateChangedAt": _time(entry.item.state_changed_at),
                "files": [
                    {
                        "id": str(upload.pk),
                        "filename": upload.original_filename,
                        "size": upload.stored_size,
                        "contentType": upload.declared_content_type,
                        "storedAt": _time(upload.stored_at),
                        "scanState": upload.scan_state,
                        "sha256": digests.get(str(upload.pk)),
                        "download": http.build_absolute_uri(reverse("uploader:upload-download", args=[upload.pk])),
                    }
                    for upload in entry.files
                ],
            }
            for entry in items
        ],
    }


def review_answer(http: HttpRequest, request: DocumentRequest, result: ReviewResult) -> dict[str, Any]:
    return {
        "moved": result.moved,
        "closed": result.closed,
        "waitingForStaff": result.waiting,
        "emailed": result.emailed,
        "request": request_detail(http, request),
    }
