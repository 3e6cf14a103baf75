"""The scan state machine's one writer.

Every change of `Upload.scan_state` goes through `scan_move`, whoever asks: the clamd
task, GuardDuty's result events, an admin's release, scanning turned off. Like the
upload state writer, it moves a file only from a scan state that may become the new
one (`SCAN_TRANSITIONS`), decided by the database in the UPDATE itself, and only a
stored file; it records one audit entry for a move, in the same transaction, so a
repeated or late verdict changes nothing and leaves no entry. Other modules may not
import this one (an import-linter contract): they call uploader.scanning.services.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from uploader.audit.services import audit_record
from uploader.uploads.models import SCAN_TRANSITIONS, Upload, UploadState

# Columns a scan move may write beside the scan state.
_COLUMNS = frozenset({"scan_detail", "quarantine_key"})


def scan_sources_of(to: str) -> list[str]:
    return sorted(source for source, targets in SCAN_TRANSITIONS.items() if to in targets)


def scan_move(
    *,
    upload_id: uuid.UUID,
    to: str,
    detail: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    user: Any = None,
    action: str | None = None,
    audited: bool = True,
) -> Upload | None:
    """Move a stored upload's scan state to `to` where SCAN_TRANSITIONS allows it;
    returns the upload as it now is when it moved, None when it did not (already
    settled, not stored, gone). Audited `upload.scan_<to>` (or `action`), unless
    `audited` is False: only "not scanned", which follows from the setting
    INTAKE_SCANNER=none for every file rather than from a verdict or a person."""
    values = dict(values or {})
    if unknown := set(values) - _COLUMNS:
        raise ValueError(f"scan_move writes only the scan state and {sorted(_COLUMNS)}, not {sorted(unknown)}")
    now = timezone.now()
    with transaction.atomic():
        moved = Upload.objects.filter(
            pk=upload_id, state=UploadState.STORED, scan_state__in=scan_sources_of(to)
        ).update(scan_state=to, scanned_at=now, updated_at=now, **values)
        if not moved:
            return None
        upload = Upload.objects.get(pk=upload_id)
        if audited:
            audit_record(action=action or f"upload.scan_{to}", upload=upload, detail=detail or {}, user=user)
    return upload


def scan_set_quarantine_key(*, upload_id: uuid.UUID, key: str) -> None:
    """Where an infected file now lies (after its move), or "" once it is deleted."""
    Upload.objects.filter(pk=upload_id, scan_state="infected").update(quarantine_key=key, updated_at=timezone.now())
