"""The audit trail: who did what to which upload, from where, in which request.

The request context (request id, client IP, the user) is set once per request by
`config.middleware.RequestContextMiddleware`, and per task by the tasks
(`config.request_context.acting_as_system`), so services record entries without
threading it through every call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config.request_context import ActorContext, current
from uploader.audit.models import AuditEntry
from uploader.uploads.models import Upload

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditLine:
    """One entry of `audit_record_many`: which upload, and what to say about it."""

    upload_id: uuid.UUID | None
    detail: dict[str, Any]


def _actor(context: ActorContext, user: Any) -> tuple[Any, str]:
    """The entry's user and label: the signed-in user, else the caller's principal (a
    portal visitor), else the system actor the task runs as."""
    if user is None and context.request is not None:
        user = getattr(context.request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user, user.get_username()
    principal = getattr(context.request, "intake_principal", None) if context.request is not None else None
    return None, getattr(principal, "audit_label", "") or context.system_actor


def audit_record(*, action: str, upload: Upload | None = None, detail: dict[str, Any] | None = None, user: Any = None) -> AuditEntry:
    """Append one entry. Call it inside the transaction of the change it records,
    so the entry exists exactly when the change does."""
    context = current() or ActorContext(request_id="")
    actor, label = _actor(context, user)
    entry = AuditEntry(
        action=action,
        actor=actor,
        actor_label=label,
        upload=upload,
        request_id=context.request_id,
        ip_address=context.ip_address,
        detail=detail or {},
    )
    entry.save()
    return entry


def audit_record_many(*, action: str, lines: Sequence[AuditLine], user: Any = None) -> None:
    """Append one entry per line in one INSERT (the event ledger's batches), with the
    same actor, request id and address `audit_record` would give each."""
    if not lines:
        return
    context = current() or ActorContext(request_id="")
    actor, label = _actor(context, user)
    AuditEntry.objects.bulk_create(
        AuditEntry(
            action=action,
            actor=actor,
            actor_label=label,
            upload_id=line.upload_id,
            request_id=context.request_id,
            ip_address=context.ip_address,
            detail=line.detail,
        )
        for line in lines
    )
