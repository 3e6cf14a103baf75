"""Legal holds: admins place and lift them on one file or on all of a portal's files.

A held file is never deleted, by staff or by retention
(`uploads.deletion.deletion_blocked_reason` reads `Upload.legal_hold`). With
INTAKE_S3_OBJECT_LOCK the object in S3 carries the hold too (`PutObjectLegalHold`),
so not even a person with the bucket's keys deletes it. The S3 call comes before the
row changes, under the row's lock: when S3 refuses or is down, the row stays as it
was; when the row's write fails after S3 placed the hold, the object is more protected
than the row says, never less, and a repeat puts them in step.

A portal's files are many: the page records the request (audited) and a task works
through them in batches (`tasks.hold_portal_files`), each file its own change with
its own audit entry; a repeat only touches files not yet changed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from uploader import s3
from uploader.access.roles import Permission, require_permission
from uploader.audit.services import audit_record
from uploader.portals.models import Portal
from uploader.uploads.errors import InvalidInput, WrongState, storage_errors
from uploader.uploads.models import Upload, UploadState, UploadTotal

logger = logging.getLogger(__name__)

PLACED_ACTION = "upload.legal_hold_placed"
LIFTED_ACTION = "upload.legal_hold_lifted"
PORTAL_PLACED_ACTION = "portal.legal_hold_placed"
PORTAL_LIFTED_ACTION = "portal.legal_hold_lifted"
REASON_MAX_LENGTH = 500
PORTAL_BATCH = 200


def _clean_reason(reason: str) -> str:
    return " ".join(reason.split())[:REASON_MAX_LENGTH]


def upload_set_hold(*, actor: Any, upload_id: uuid.UUID | str, hold: bool, reason: str = "") -> tuple[Upload, bool]:
    """Place (`hold`) or lift the legal hold on one file; returns the upload and whether
    this call changed it (a repeat changes nothing and records nothing).

    Admins only (`Permission.LEGAL_HOLD`). Only a stored file can be held (WrongState,
    409); a hold is lifted whatever the file's state."""
    require_permission(actor, Permission.LEGAL_HOLD)
    reason = _clean_reason(reason)
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload_id)
        if upload.legal_hold == hold:
            return upload, False
        if hold and upload.state != UploadState.STORED:
            raise WrongState(f"This file is {upload.state}; only a stored file can be put on hold.")
        if settings.INTAKE_S3_OBJECT_LOCK and upload.state == UploadState.STORED:
            with storage_errors("place the legal hold" if hold else "lift the legal hold"):
                s3.put_object_legal_hold(key=upload.key, on=hold)
        upload.legal_hold = hold
        upload.legal_hold_at = timezone.now() if hold else None
        upload.legal_hold_by = actor if hold and getattr(actor, "pk", None) else None
        upload.legal_hold_reason = reason if hold else ""
        upload.save(update_fields=["legal_hold", "legal_hold_at", "legal_hold_by", "legal_hold_reason", "updated_at"])
        audit_record(
            action=PLACED_ACTION if hold else LIFTED_ACTION,
            upload=upload,
            user=actor,
            detail={"reason": reason, "key": upload.key, "object_lock": bool(settings.INTAKE_S3_OBJECT_LOCK)},
        )
    return upload, True


def _portal_files_to_change(portal_id: int, hold: bool) -> Any:
    """The portal's files a portal-wide place or lift still has to change."""
    files = Upload.objects.filter(portal_id=portal_id, legal_hold=not hold)
    return files.filter(state=UploadState.STORED) if hold else files


@dataclass(frozen=True)
class HoldCounts:
    held: int
    stored: int


def portal_hold_counts(portal: Portal) -> HoldCounts:
    """How many of the portal's files are on hold, of how many stored (a portal-wide
    request's progress)."""
    # Held files are few (a partial index holds them); the stored count comes from the
    # kept totals (uploader.uploads.rollup), not from counting the portal's files.
    held = Upload.objects.filter(portal=portal, legal_hold=True).count()
    stored = UploadTotal.objects.filter(portal_key=portal.pk, state=UploadState.STORED).aggregate(files=Sum("files"))
    return HoldCounts(held=held, stored=stored["files"] or 0)


def portal_set_hold(*, actor: Any, portal: Portal, hold: bool, reason: str = "") -> int:
    """Ask for a hold to be placed on (or lifted from) all of a portal's files: one
    audit entry for the request, then the task does the files. Returns how many files
    it will change."""
    from uploader.retention import tasks

    require_permission(actor, Permission.LEGAL_HOLD)
    reason = _clean_reason(reason)
    files = _portal_files_to_change(portal.pk, hold).count()
    with transaction.atomic():
        audit_record(
            action=PORTAL_PLACED_ACTION if hold else PORTAL_LIFTED_ACTION,
            user=actor,
            detail={"portal": portal.pk, "slug": portal.slug, "reason": reason, "files": files},
        )
        transaction.on_commit(lambda: tasks.hold_portal_files.delay(portal.pk, hold, actor.pk, reason), robust=True)
    return files


def portal_holds_apply(
    *, portal_id: int, hold: bool, actor_id: int, reason: str = "", after: str = "", batch: int = PORTAL_BATCH
) -> tuple[int, str]:
    """Place or lift the hold on up to `batch` of the portal's files not yet changed,
    by id after `after`; returns how many changed and the cursor to go on from ("" when
    this batch was the last). The person who asked must still be an admin."""
    actor = get_user_model().objects.get(pk=actor_id)
    require_permission(actor, Permission.LEGAL_HOLD)
    files = _portal_files_to_change(portal_id, hold).order_by("pk")
    if after:
        files = files.filter(pk__gt=after)
    ids = list(files.values_list("pk", flat=True)[:batch])
    changed = 0
    for upload_id in ids:
        try:
            _, did = upload_set_hold(actor=actor, upload_id=upload_id, hold=hold, reason=reason)
        except WrongState:
            continue  # deleted or replaced since it was listed
        except InvalidInput as exc:  # S3 refused this one object; the others go on
            logger.warning("legal hold on upload %s not changed: %s", upload_id, exc)
            continue
        changed += did
    return changed, str(ids[-1]) if len(ids) == batch else ""
