"""The audit trail: who did what to which upload, from where, in which request.

The request context (request id, client IP, the user) is set once per request by
`config.middleware.RequestContextMiddleware`, and per task by the tasks
(`config.request_context.acting_as_system`), so services record entries without
threading it through every call.
"""

from __future__ import annotations

import logging
from typing import Any

from config.request_context import ActorContext, current
from uploader.audit.models import AuditEntry
from uploader.uploads.models import Upload

logger = logging.getLogger(__name__)


def audit_record(*, action: str, upload: Upload | None = None, detail: dict[str, Any] | None = None, user: Any = None) -> AuditEntry:
    """Append one entry. Call it inside the transaction of the change it records,
    so the entry exists exactly when the change does."""
    context = current() or ActorContext(request_id="")
    if user is None and context.request is not None:
        user = getattr(context.request, "user", None)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    # A caller with no user (a portal visitor) is named by its principal.
    principal = getattr(context.request, "intake_principal", None) if context.request is not None else None
    anonymous_label = getattr(principal, "audit_label", "") or context.system_actor
    entry = AuditEntry(
        action=action,
        actor=user if authenticated else None,
        actor_label=user.get_username() if authenticated else anonymous_label,
        upload=upload,
        request_id=context.request_id,
        ip_address=context.ip_address,
        detail=detail or {},
    )
    entry.save()
    return entry
