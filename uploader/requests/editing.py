"""Staff change a document request after it is made: the client's details, the due
date, whether the code is asked for, its password, its reminder schedule (or no
reminders), and its items (edit, add, remove one still waiting with no file); and
reopen a closed request.

One edit is one transaction: every change is checked first and either all of them are
written, each with its audit entry, or none. A removed or loosened item can leave
nothing required unaccepted: the request then closes, as after a review (once
something has been accepted). Item and
request states move only through uploader.requests.state. A changed schedule is read
by the next reminder run; the slots already sent stay sent (uploader.requests.reminders).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from uploader.audit.services import audit_record
from uploader.requests.completion import after_close, close_if_complete
from uploader.requests.errors import ItemWrongState
from uploader.requests.models import DocumentRequest, ItemState, RequestItem, RequestState
from uploader.requests.reminders import Schedule, schedule_check
from uploader.requests.services import (
    MAX_ITEMS,
    ItemSpec,
    _check_actor,
    _clean_emails,
    _item_rows,
    request_staff_url,
)
from uploader.requests.state import request_move_reopened
from uploader.uploads.models import Upload

ITEM_FIELDS = (
    "title",
    "instructions",
    "required",
    "allowed_extensions",
    "allowed_content_types",
    "max_files",
    "due_date",
)


@dataclass(frozen=True)
class RequestChanges:
    client_name: str
    client_emails: Sequence[str]
    company: str = ""
    due_date: dt.date | None = None
    require_code: bool = True
    password: str = ""  # a new password; empty keeps the current one
    clear_password: bool = False
    # None keeps the request's reminder schedule, or whether it sends reminders at all.
    reminders: Schedule | None = None
    send_reminders: bool | None = None
    # Existing items by id, as they should be now; ids listed in `remove` are removed.
    items: dict[int, ItemSpec] = field(default_factory=dict)
    remove: Sequence[int] = ()
    add: Sequence[ItemSpec] = ()


@dataclass(frozen=True)
class EditResult:
    changed: int = 0
    closed: bool = False


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _differences(row: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [_json(getattr(row, name)), _json(value)] for name, value in values.items() if getattr(row, name) != value
    }


def _item_values(request: DocumentRequest, spec: ItemSpec, position: int) -> dict[str, Any]:
    """The spec checked as the "new request" form checks it; ValidationError by field."""
    try:
        (row,) = _item_rows(request, [spec])
    except ValidationError as exc:
        raise ValidationError({"items": [m.replace("Item 1", f"Item {position + 1}") for m in exc.messages]}) from None
    return {name: getattr(row, name) for name in ITEM_FIELDS}


def request_edit(*, actor: Any, request_id: int, changes: RequestChanges) -> EditResult:
    """Apply one staff edit of an open request; DoesNotExist for an unknown request or
    an item of another one, ItemWrongState for a closed request or an item that cannot
    be removed, ValidationError for unusable input. Nothing is written unless all of it is."""
    _check_actor(actor)
    if not changes.client_name.strip():
        raise ValidationError({"client_name": "Give the client's name."})
    emails = _clean_emails(changes.client_emails)
    schedule = schedule_check(changes.reminders) if changes.reminders is not None else None
    new_password_hash: str | None = None  # None: keep it
    if changes.clear_password:
        new_password_hash = ""
    elif changes.password:
        try:
            validate_password(changes.password)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
        new_password_hash = make_password(changes.password)  # hashed before any row is locked
    changed = 0
    with transaction.atomic():
        request = DocumentRequest.objects.select_for_update().get(pk=request_id)
        if request.state != RequestState.OPEN:
            raise ItemWrongState("This request is closed; reopen it to change it.")
        items = {item.pk: item for item in RequestItem.objects.select_for_update().filter(request=request)}
        unknown = (set(changes.items) | set(changes.remove)) - set(items)
        if unknown:
            raise RequestItem.DoesNotExist(f"No item {min(unknown)} in this request.")
        if len(items) - len(set(changes.remove)) + len(changes.add) > MAX_ITEMS:
            raise ValidationError({"items": f"At most {MAX_ITEMS} items."})
        if len(items) - len(set(changes.remove)) + len(changes.add) < 1:
            raise ValidationError({"items": "A request needs at least one item."})

        request_values: dict[str, Any] = {
            "client_name": changes.client_name.strip()[:200],
            "client_emails": emails,
            "company": changes.company.strip()[:200],
            "due_date": changes.due_date,
            "require_code": changes.require_code,
        }
        if new_password_hash is not None:
            request_values["password_hash"] = new_password_hash
        if schedule is not None:
            request_values.update(
                remind_days_before_due=schedule.days_before_due,
                remind_on_due_date=schedule.on_due_date,
                remind_overdue_every_days=schedule.overdue_every_days,
                remind_nothing_received_days=schedule.nothing_received_days,
            )
        if changes.send_reminders is not None:
            request_values["send_reminders"] = changes.send_reminders
        request_diff = _differences(request, request_values)
        if "password_hash" in request_diff:  # say what happened, never the hash
            request_diff["password_hash"] = [
                "set" if request.password_hash else "none",
                "set" if request_values["password_hash"] else "none",
            ]
        if request_diff:
            for name, value in request_values.items():
                setattr(request, name, value)
            request.save(update_fields=[*request_values, "updated_at"])
            audit_record(action="request.edited", user=actor, detail={"request": request.pk, "changes": request_diff})
            changed += 1

        for item_id in dict.fromkeys(changes.remove):
            item = items[item_id]
            if item.state != ItemState.OUTSTANDING or Upload.objects.filter(request_item=item).exists():
                raise ItemWrongState(
                    f"'{item.title[:80]}' has files or has been reviewed; only an item still waiting "
                    "with no file can be removed."
                )
            item.delete()
            audit_record(
                action="request.item_removed",
                user=actor,
                detail={"request": request.pk, "item": item_id, "title": item.title},
            )
            changed += 1

        for item_id, spec in changes.items.items():
            if item_id in changes.remove:
                continue
            item = items[item_id]
            values = _item_values(request, spec, item.position)
            diff = _differences(item, values)
            if not diff:
                continue
            for name, value in values.items():
                setattr(item, name, value)
            item.save(update_fields=list(values))
            audit_record(
                action="request.item_edited",
                user=actor,
                detail={"request": request.pk, "item": item.pk, "title": item.title, "changes": diff},
            )
            changed += 1

        position = (RequestItem.objects.filter(request=request).aggregate(last=Max("position"))["last"] or 0) + 1
        for offset, spec in enumerate(changes.add):
            values = _item_values(request, spec, position + offset)
            item = RequestItem.objects.create(request=request, position=position + offset, **values)
            audit_record(
                action="request.item_added",
                user=actor,
                detail={"request": request.pk, "item": item.pk, "title": item.title},
            )
            changed += 1

        # Only an edit of the items can complete it, and only once something has been
        # accepted: a request of optional items alone is not closed by a new due date.
        items_changed = changed - (1 if request_diff else 0)
        progressed = RequestItem.objects.filter(request=request, state=ItemState.ACCEPTED).exists()
        # "closed", or "waiting" when the request waits for staff to close it.
        outcome = close_if_complete(request, actor=actor) if items_changed and progressed else ""
    if outcome:
        after_close(request, actor=actor, outcome=outcome, page_url=request_staff_url(request))
    return EditResult(changed=changed, closed=outcome == "closed")


def request_reopen(*, actor: Any, request_id: int) -> bool:
    """Open a closed request again (its link works again); False when it was open."""
    _check_actor(actor)
    with transaction.atomic():
        request = DocumentRequest.objects.select_for_update().get(pk=request_id)
        return request_move_reopened(request, user=actor)
