"""The one writer of a request item's state and of a request's state.

Every move is a conditional UPDATE (`WHERE state = <the state the caller saw>`) of a
move the state machine (models.ITEM_TRANSITIONS) allows, with its audit entry in the
same transaction; anything else is ItemWrongState and nothing is written. Callers
lock the rows they decide on (select_for_update) inside their transaction.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from uploader.audit.services import audit_record
from uploader.requests.errors import ItemWrongState
from uploader.requests.models import ITEM_TRANSITIONS, DocumentRequest, ItemState, RequestItem, RequestState

_VERBS = {
    ItemState.OUTSTANDING: "put back to waiting for files",
    ItemState.SUBMITTED: "sent",
    ItemState.ACCEPTED: "accepted",
    ItemState.CHANGES_REQUESTED: "sent back for changes",
}


def item_move(
    item: RequestItem,
    to: ItemState,
    *,
    action: str,
    detail: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    user: Any = None,
) -> RequestItem:
    """Move `item` from the state it holds now to `to`, with `values` written alongside;
    ItemWrongState when the machine does not allow it or the row changed meanwhile."""
    seen = ItemState(item.state)
    if to not in ITEM_TRANSITIONS[seen]:
        raise ItemWrongState(f"'{item.title[:80]}' is {seen.label.lower()}; it cannot be {_VERBS.get(to, to)} now.")
    fields = {"state": to, "state_changed_at": timezone.now(), **(values or {})}
    if not RequestItem.objects.filter(pk=item.pk, state=seen).update(**fields):
        raise ItemWrongState(f"'{item.title[:80]}' changed meanwhile; reload the page.")
    for name, value in fields.items():
        setattr(item, name, value)
    audit_record(
        action=action,
        user=user,
        detail={"request": item.request_id, "item": item.pk, "from": seen.value, "to": str(to), **(detail or {})},
    )
    return item


def request_move_closed(request: DocumentRequest, *, detail: dict[str, Any] | None = None, user: Any = None) -> bool:
    """Close an open request; False when it was closed already (a repeat changes nothing)."""
    now = timezone.now()
    if not DocumentRequest.objects.filter(pk=request.pk, state=RequestState.OPEN).update(
        state=RequestState.CLOSED, closed_at=now, updated_at=now
    ):
        return False
    request.state, request.closed_at = RequestState.CLOSED, now
    audit_record(action="request.closed", user=user, detail={"request": request.pk, **(detail or {})})
    return True


def request_move_reopened(request: DocumentRequest, *, user: Any = None) -> bool:
    """Open a closed request again (staff); False when it was open already."""
    now = timezone.now()
    if not DocumentRequest.objects.filter(pk=request.pk, state=RequestState.CLOSED).update(
        state=RequestState.OPEN, closed_at=None, updated_at=now
    ):
        return False
    request.state, request.closed_at = RequestState.OPEN, None
    audit_record(action="request.reopened", user=user, detail={"request": request.pk})
    return True
