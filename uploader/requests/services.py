"""Every write of a document request: make one (from a template, edited per client),
review its items (accept, ask for changes, accept all), record a client's file,
close the request when every required item is accepted.

Services check the caller's role themselves (an actor of None is the system: the
command line, or an upload's followup). State moves go through uploader.requests.state.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from uploader.access.roles import Permission, has_permission, require_permission
from uploader.audit.services import audit_record
from uploader.requests import emails, tokens
from uploader.requests.completion import after_close, close_if_complete, is_complete, start_digests
from uploader.requests.errors import ItemWrongState
from uploader.requests.models import (
    DocumentRequest,
    ItemState,
    RequestItem,
    RequestState,
    RequestTemplate,
)
from uploader.requests.reminders import Schedule, default_schedule, schedule_check
from uploader.requests.state import item_move, request_move_closed
from uploader.uploads.limits import normalize_content_type
from uploader.uploads.models import Upload, UploadState

logger = logging.getLogger(__name__)

MAX_ITEMS = 50
MAX_EMAILS = 10
MAX_REASON = 2000


@dataclass(frozen=True)
class ItemSpec:
    """One item of a request being made: a copy of a template item, edited."""

    title: str
    instructions: str = ""
    required: bool = True
    allowed_extensions: tuple[str, ...] = ()
    allowed_content_types: tuple[str, ...] = ()
    max_files: int | None = None
    due_date: dt.date | None = None


@dataclass(frozen=True)
class ReviewResult:
    moved: int = 0
    closed: bool = False
    emailed: bool = False
    waiting: bool = False  # complete, waiting for staff to close it
    notes: list[str] = field(default_factory=list)


def _check_actor(actor: Any) -> None:
    if actor is not None:
        require_permission(actor, Permission.MANAGE_REQUESTS)


# --- making a request ---------------------------------------------------------------------------


def template_item_specs(template: RequestTemplate) -> list[ItemSpec]:
    return [
        ItemSpec(
            title=item.title,
            instructions=item.instructions,
            required=item.required,
            allowed_extensions=tuple(item.allowed_extensions),
            allowed_content_types=tuple(item.allowed_content_types),
            max_files=item.max_files,
        )
        for item in template.items.all()
    ]


def normalize_extensions(values: Sequence[str]) -> list[str]:
    """ ".PDF", "pdf", " .jpg " -> [".pdf", ".jpg"]; a value with anything but letters
    and digits after its dot is refused."""
    found: list[str] = []
    for value in values:
        text = value.strip().lower().lstrip(".")
        if not text:
            continue
        if not text.isascii() or not text.isalnum() or len(text) > 16:
            raise ValidationError(f"'{value[:20]}' is not a file name ending such as .pdf.")
        if f".{text}" not in found:
            found.append(f".{text}")
    return found


def _clean_emails(values: Sequence[str]) -> list[str]:
    emails_ = [value.strip() for value in values if value.strip()]
    if not emails_:
        raise ValidationError({"client_emails": "Give at least one e-mail address."})
    if len(emails_) > MAX_EMAILS:
        raise ValidationError({"client_emails": f"At most {MAX_EMAILS} addresses."})
    for value in emails_:
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"client_emails": f"'{value[:60]}' does not look like an e-mail address."}) from None
    return list(dict.fromkeys(emails_))


def _item_rows(request: DocumentRequest, items: Sequence[ItemSpec]) -> list[RequestItem]:
    if not items:
        raise ValidationError({"items": "A request needs at least one item."})
    if len(items) > MAX_ITEMS:
        raise ValidationError({"items": f"At most {MAX_ITEMS} items."})
    rows = []
    for position, spec in enumerate(items):
        if not spec.title.strip():
            raise ValidationError({"items": f"Item {position + 1} needs a title."})
        if spec.max_files is not None and spec.max_files < 1:
            raise ValidationError({"items": f"Item {position + 1}: at least one file, or no limit."})
        try:
            extensions = normalize_extensions(spec.allowed_extensions)
            types = [normalize_content_type(t) for t in spec.allowed_content_types if t.strip()]
        except (ValidationError, ValueError) as exc:
            raise ValidationError({"items": f"Item {position + 1}: {exc}"}) from None
        rows.append(
            RequestItem(
                request=request,
                position=position,
                title=spec.title.strip()[:200],
                instructions=spec.instructions.strip(),
                required=spec.required,
                allowed_extensions=extensions,
                allowed_content_types=types,
                max_files=spec.max_files,
                due_date=spec.due_date,
            )
        )
    return rows


class _Default(Enum):
    FROM_TEMPLATE = "from the template"


FROM_TEMPLATE = _Default.FROM_TEMPLATE


def _retention_of(
    actor: Any, retention_days: int | Literal[_Default.FROM_TEMPLATE] | None, template: RequestTemplate | None
) -> int | None:
    """The request's retention: the template's (an admin's choice) unless given. It
    deletes files for good, so only admins (Permission.DELETE_FILES) give another; None
    as the actor is the command line."""
    default = template.retention_days if template is not None else None
    if retention_days is FROM_TEMPLATE:
        return default
    if retention_days is not None and retention_days < 1:
        raise ValidationError({"retention_days": "At least one day, or leave it empty to keep files."})
    if actor is not None and retention_days != default and not has_permission(actor, Permission.DELETE_FILES):
        raise ValidationError({"retention_days": "Only an admin can change how long files are kept."})
    return retention_days


def request_create(
    *,
    actor: Any,
    client_name: str,
    client_emails: Sequence[str],
    items: Sequence[ItemSpec],
    company: str = "",
    due_date: dt.date | None = None,
    template: RequestTemplate | None = None,
    reminders: Schedule | None = None,
    waits_for_staff: bool | None = None,
    retention_days: int | Literal[_Default.FROM_TEMPLATE] | None = FROM_TEMPLATE,
    require_code: bool | None = None,
) -> DocumentRequest:
    """Make a request and its items in one transaction; ValidationError (by field) when
    the input is not usable, and nothing is written. The reminder schedule and "waits
    for staff" default to the settings."""
    _check_actor(actor)
    schedule = schedule_check(reminders or default_schedule())
    if not client_name.strip():
        raise ValidationError({"client_name": "Give the client's name."})
    retention = _retention_of(actor, retention_days, template)
    nonce = tokens.new_nonce()
    request = DocumentRequest(
        client_name=client_name.strip()[:200],
        client_emails=_clean_emails(client_emails),
        company=company.strip()[:200],
        due_date=due_date,
        template=template,
        retention_days=retention,
        token_nonce=nonce,
        token_digest=tokens.digest_of(tokens.token_for(nonce)),
        created_by=actor,
        remind_days_before_due=schedule.days_before_due,
        remind_on_due_date=schedule.on_due_date,
        remind_overdue_every_days=schedule.overdue_every_days,
        remind_nothing_received_days=schedule.nothing_received_days,
        waits_for_staff=settings.INTAKE_REQUEST_WAITS_FOR_STAFF if waits_for_staff is None else waits_for_staff,
        require_code=settings.INTAKE_REQUEST_REQUIRE_CODE if require_code is None else require_code,
    )
    with transaction.atomic():
        request.save()
        rows = _item_rows(request, items)
        RequestItem.objects.bulk_create(rows)
        audit_record(
            action="request.created",
            user=actor,
            detail={
                "request": request.pk,
                "client_name": request.client_name,
                "items": len(rows),
                "template": template.name if template else None,
                "retention_days": retention,
            },
        )
    return request


def request_link(request: DocumentRequest) -> str:
    """The request's full link, shown to staff and e-mailed to the client."""
    path = reverse("requests:page", kwargs={"request_token": tokens.token_for(request.token_nonce)})
    return settings.INTAKE_PUBLIC_BASE_URL.rstrip("/") + path


def request_staff_url(request: DocumentRequest) -> str:
    path = reverse("dashboard:request-detail", kwargs={"request_id": request.pk})
    return settings.INTAKE_PUBLIC_BASE_URL.rstrip("/") + path


# --- review -------------------------------------------------------------------------------------


def _locked(request_id: int, item_id: int | None = None) -> tuple[DocumentRequest, RequestItem | None]:
    """The request (and one of its items) locked for a review; DoesNotExist for an item
    of another request (first: what is not there is not there, whatever the state). A
    closed request takes no review."""
    request = DocumentRequest.objects.select_for_update().get(pk=request_id)
    item = RequestItem.objects.select_for_update().get(pk=item_id, request=request) if item_id is not None else None
    if request.state != RequestState.OPEN:
        raise ItemWrongState("This request is closed; nothing more can be reviewed.")
    return request, item


def request_close(*, actor: Any, request_id: int) -> ReviewResult:
    """Staff close a complete request that waits for them; the client gets the receipt."""
    _check_actor(actor)
    with transaction.atomic():
        request, _ = _locked(request_id)
        if not is_complete(request):
            raise ItemWrongState("A required item is not accepted yet; accept it before closing the request.")
        request_move_closed(request, user=actor, detail={"why": "closed by staff"})
    emailed = after_close(request, actor=actor, outcome="closed", page_url=request_staff_url(request))
    return ReviewResult(closed=True, emailed=emailed)


def item_accept(*, actor: Any, request_id: int, item_id: int) -> ReviewResult:
    _check_actor(actor)
    with transaction.atomic():
        request, item = _locked(request_id, item_id)
        assert item is not None
        item_move(item, ItemState.ACCEPTED, action="request.item_accepted", user=actor, detail={"title": item.title})
        start_digests([item.pk])
        outcome = close_if_complete(request, actor=actor)
    emailed = (
        after_close(request, actor=actor, outcome=outcome, page_url=request_staff_url(request)) if outcome else False
    )
    return ReviewResult(moved=1, closed=outcome == "closed", emailed=emailed, waiting=outcome == "waiting")


def request_accept_all(*, actor: Any, request_id: int) -> ReviewResult:
    """Accept every item waiting for review."""
    _check_actor(actor)
    with transaction.atomic():
        request, _ = _locked(request_id)
        waiting = list(RequestItem.objects.select_for_update().filter(request=request, state=ItemState.SUBMITTED))
        for item in waiting:
            item_move(
                item,
                ItemState.ACCEPTED,
                action="request.item_accepted",
                user=actor,
                detail={"title": item.title, "all": True},
            )
        start_digests([item.pk for item in waiting])
        outcome = close_if_complete(request, actor=actor) if waiting else ""
    emailed = (
        after_close(request, actor=actor, outcome=outcome, page_url=request_staff_url(request)) if outcome else False
    )
    return ReviewResult(moved=len(waiting), closed=outcome == "closed", emailed=emailed, waiting=outcome == "waiting")


def item_request_changes(*, actor: Any, request_id: int, item_id: int, reason: str) -> ReviewResult:
    """Send an item back with a reason; the client is e-mailed the reason and the link at once."""
    _check_actor(actor)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say what the client should change."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"At most {MAX_REASON} characters."})
    with transaction.atomic():
        request, item = _locked(request_id, item_id)
        assert item is not None
        item_move(
            item,
            ItemState.CHANGES_REQUESTED,
            action="request.item_changes_requested",
            user=actor,
            values={"changes_reason": reason, "changes_requested_at": timezone.now()},
            detail={"title": item.title, "reason": reason},
        )
    emailed = emails.changes_requested_email(request, item, link=request_link(request))
    audit_record(
        action="request.client_emailed" if emailed else "request.client_not_emailed",
        user=actor,
        detail={"request": request.pk, "item": item.pk, "to": list(request.client_emails), "why": "changes requested"},
    )
    return ReviewResult(moved=1, emailed=emailed)


# --- the client's files -------------------------------------------------------------------------


def item_file_stored(upload: Upload) -> None:
    """An upload of an item became stored (inside the transaction that stored it): the
    item is submitted, unless it already is (or was accepted meanwhile: the file stays
    attached for staff to see)."""
    if upload.request_item_id is None:
        return
    item = RequestItem.objects.select_for_update().select_related("request").get(pk=upload.request_item_id)
    if item.request.state != RequestState.OPEN or item.state not in {
        ItemState.OUTSTANDING,
        ItemState.CHANGES_REQUESTED,
    }:
        return
    item_move(
        item,
        ItemState.SUBMITTED,
        action="request.item_submitted",
        detail={"upload": str(upload.id), "filename": upload.original_filename},
    )


def item_file_gone(upload: Upload) -> None:
    """A stored file of an item was deleted or rejected (inside that transaction): a
    submitted item with no stored file of this round left waits for files again. A reviewed item
    keeps its state (staff decided on what they saw)."""
    if upload.request_item_id is None:
        return
    item = RequestItem.objects.select_for_update().select_related("request").get(pk=upload.request_item_id)
    if item.request.state != RequestState.OPEN or item.state != ItemState.SUBMITTED:
        return
    # Files of this round count: those sent before staff asked for changes were answered.
    left = Upload.objects.filter(request_item=item, state=UploadState.STORED).exclude(pk=upload.pk)
    if item.changes_requested_at is not None:
        left = left.filter(created_at__gte=item.changes_requested_at)
    if left.exists():
        return
    item_move(
        item,
        ItemState.CHANGES_REQUESTED if item.changes_requested_at else ItemState.OUTSTANDING,
        action="request.item_files_gone",
        detail={"upload": str(upload.id), "filename": upload.original_filename, "upload_state": upload.state},
    )


class RequestFollowups:
    """uploader.uploads.followups' answer for document requests (wired in uploader.apps)."""

    def stored(self, upload: Upload) -> None:
        item_file_stored(upload)

    def gone(self, upload: Upload) -> None:
        item_file_gone(upload)
