"""The upload state machine's one writer.

Every change of `Upload.state` goes through `uploads_move`, whoever asks: the upload
services, the event ledger's batch path, reconciliation. It moves only the uploads
whose current state may become the new one (`ALLOWED_TRANSITIONS`), decided by the
database in the UPDATE itself (`WHERE state IN (...)`), so a late or repeated call
cannot move an upload backwards even without a row lock; and it records one audit
entry for each upload that moved, in the same transaction, so the trail has an entry
exactly when the change happened. In that transaction too, it moves each upload's
count in the daily rollup (uploader.uploads.rollup) from its old state to its new one,
having read and locked the rows it moves first.

Other modules may not import this one (an import-linter contract in `make test`):
they call the uploads services, which call it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from uploader.audit.services import AuditLine, audit_record_many
from uploader.uploads import rollup
from uploader.uploads.errors import WrongState
from uploader.uploads.models import ALLOWED_TRANSITIONS, Upload, UploadState

# Columns a move may write beside the state; anything else is refused, so the writer
# cannot become a general-purpose update.
MOVE_COLUMNS = frozenset({"stored_size", "etag", "stored_at", "rejection_reason", "last_sequencer"})


@dataclass(frozen=True)
class Move:
    """One upload to move, the other columns written with its new state, and the
    detail of its audit entry."""

    upload_id: uuid.UUID
    values: Mapping[str, Any] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)


def sources_of(state: str) -> list[str]:
    """The states an upload may be in to become `state`."""
    return sorted(source for source, targets in ALLOWED_TRANSITIONS.items() if state in targets)


def uploads_move(
    *, moves: Sequence[Move], to: str, action: str | None = None, user: Any = None
) -> list[uuid.UUID]:
    """Move each upload to `to` where the state machine allows it from the state the
    database holds; returns the ids that moved (an upload already past `to`, or one
    that may never become it, is left as it is). One audit entry per moved upload,
    `action` or `upload.<to>`, through the audit module; `user` names the person who
    asked when it is not the request's (a service called outside a request)."""
    if not moves:
        return []
    columns = sorted({name for move in moves for name in move.values})
    if unknown := set(columns) - MOVE_COLUMNS:
        raise ValueError(f"uploads_move writes only the state and {sorted(MOVE_COLUMNS)}, not {sorted(unknown)}")
    sources = sources_of(to)
    now = timezone.now()
    with transaction.atomic():
        # A repeated upload in one batch moves once, as it would one call at a time.
        first_moves: dict[uuid.UUID, Move] = {}
        for move in moves:
            first_moves.setdefault(move.upload_id, move)
        before = rollup.facts_for_update(first_moves, states=sources)
        moves = [move for move in first_moves.values() if move.upload_id in before]
        if connection.vendor == "postgresql" and len(moves) > 1:
            moved = _move_many_postgresql(moves, to=to, sources=sources, columns=columns, now=now)
        else:
            moved = [
                move.upload_id
                for move in moves
                if Upload.objects.filter(pk=move.upload_id, state__in=sources).update(
                    state=to, updated_at=now, **move.values
                )
            ]
        rollup.rollup_apply(
            before=[before[upload_id] for upload_id in moved],
            after=[
                before[upload_id].with_values(state=to, values=dict(first_moves[upload_id].values))
                for upload_id in moved
            ],
        )
        details = {move.upload_id: move.detail for move in moves}
        audit_record_many(
            action=action or f"upload.{to}",
            user=user,
            lines=[AuditLine(upload_id=upload_id, detail=dict(details[upload_id])) for upload_id in moved],
        )
    return moved


def _move_many_postgresql(
    moves: Sequence[Move], *, to: str, sources: list[str], columns: list[str], now: Any
) -> list[uuid.UUID]:
    """One statement for a batch: UPDATE ... FROM jsonb_to_recordset ... WHERE the
    state allows it, RETURNING what moved (Django's bulk_update builds a CASE per row
    and column, and cannot make the update conditional per row)."""
    meta = Upload._meta
    table = connection.ops.quote_name(meta.db_table)
    record_types = ", ".join(
        ["id uuid"]
        + [f"{connection.ops.quote_name(name)} {meta.get_field(name).db_type(connection)}" for name in columns]
    )
    assignments = "".join(
        f", {connection.ops.quote_name(name)} = v.{connection.ops.quote_name(name)}" for name in columns
    )
    rows = [{"id": str(move.upload_id), **move.values} for move in moves]
    placeholders = ", ".join(["%s"] * len(sources))
    with connection.cursor() as cursor:
        cursor.execute(
            # Table and column names come from the model and MOVE_COLUMNS; values are parameters.
            f"UPDATE {table} AS u SET state = %s, updated_at = %s{assignments} "  # noqa: S608
            f"FROM jsonb_to_recordset(%s::jsonb) AS v({record_types}) "
            f"WHERE u.id = v.id AND u.state IN ({placeholders}) RETURNING u.id",
            [to, now, json.dumps(rows, cls=DjangoJSONEncoder), *sources],
        )
        moved = {row[0] for row in cursor.fetchall()}
    # In the order given, so audit entries follow the caller's order.
    return [move.upload_id for move in moves if move.upload_id in moved]


def upload_move(
    upload: Upload,
    to: str,
    *,
    action: str | None = None,
    detail: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    user: Any = None,
) -> bool:
    """Move one upload the caller has loaded (usually under `select_for_update`) and
    update the instance to match. A move the state machine refuses from the state
    the caller sees raises WrongState; returns whether the row moved (False only when
    another writer moved it first, which a row lock rules out)."""
    if to not in ALLOWED_TRANSITIONS[upload.state]:
        raise WrongState(f"This upload is {upload.state}; it cannot become {to}.")
    moved = uploads_move(
        moves=[Move(upload_id=upload.pk, values=values or {}, detail=detail or {})], to=to, action=action, user=user
    )
    if moved:
        upload.state = to
        for name, value in (values or {}).items():
            setattr(upload, name, value)
    return bool(moved)


def upload_mark_uploading(upload: Upload) -> None:
    """The first part signature: registered -> uploading, a conditional update. Of
    concurrent signatures one moves the row and records it; the others find it moved.
    Either way the instance says uploading afterwards."""
    uploads_move(moves=[Move(upload_id=upload.pk)], to=UploadState.UPLOADING)
    upload.state = UploadState.UPLOADING
