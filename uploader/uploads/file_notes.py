"""Staff's words on a file: one free-text note and short tags, each change audited.

Tags are lower case, a few words joined by hyphens ("invoice", "tax-2025"), so the
file list's tag filter finds a tag however it was typed. Nothing here touches S3 or
the upload's state.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from uploader.access.roles import Permission, require_permission
from uploader.audit.services import audit_record
from uploader.uploads.errors import InvalidInput
from uploader.uploads.models import Upload, UploadTag

NOTE_MAX_CHARS = 2_000
TAG_MAX_CHARS = 40
TAGS_PER_FILE = 20
_TAG_CHARACTERS = re.compile(r"[^\w-]+")


def normalize_tag(text: str) -> str:
    """ "  Tax 2025 " -> "tax-2025"; InvalidInput when nothing usable is left."""
    tag = _TAG_CHARACTERS.sub("-", text.strip().lower()).strip("-")
    tag = re.sub(r"-{2,}", "-", tag)
    if not tag:
        raise InvalidInput("Write a tag: letters, digits or hyphens.", field="tag")
    if len(tag) > TAG_MAX_CHARS:
        raise InvalidInput(f"A tag has at most {TAG_MAX_CHARS} characters.", field="tag")
    return tag


def upload_set_note(*, actor: Any, upload: Upload, note: str) -> bool:
    """Replace the file's note (empty removes it); returns whether it changed. The
    audit entry keeps the old and the new text."""
    require_permission(actor, Permission.ANNOTATE_FILES)
    note = note.replace("\r\n", "\n").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise InvalidInput(f"A note has at most {NOTE_MAX_CHARS:,} characters.", field="note")
    with transaction.atomic():
        current = Upload.objects.select_for_update().values_list("note", flat=True).get(pk=upload.pk)
        if current == note:
            return False
        # update(), not save(): the row's other columns belong to other writers.
        Upload.objects.filter(pk=upload.pk).update(note=note)
        audit_record(action="upload.note_changed", upload=upload, user=actor, detail={"old": current, "new": note})
    upload.note = note
    return True


def upload_add_tag(*, actor: Any, upload: Upload, tag: str) -> tuple[str, bool]:
    """Put a tag on the file; returns the tag as kept and whether it was added (a tag
    the file has already changes nothing)."""
    require_permission(actor, Permission.ANNOTATE_FILES)
    name = normalize_tag(tag)
    with transaction.atomic():
        Upload.objects.select_for_update().filter(pk=upload.pk).exists()  # one writer of this file's tags at a time
        existing = set(UploadTag.objects.filter(upload=upload).values_list("name", flat=True))
        if name in existing:
            return name, False
        if len(existing) >= TAGS_PER_FILE:
            raise InvalidInput(f"A file has at most {TAGS_PER_FILE} tags; remove one first.", field="tag")
        try:
            with transaction.atomic():
                UploadTag.objects.create(upload=upload, name=name)
        except IntegrityError:
            return name, False
        audit_record(action="upload.tag_added", upload=upload, user=actor, detail={"tag": name})
    return name, True


def upload_remove_tag(*, actor: Any, upload: Upload, tag: str) -> bool:
    """Take a tag off the file; returns whether it was there."""
    require_permission(actor, Permission.ANNOTATE_FILES)
    name = normalize_tag(tag)
    with transaction.atomic():
        removed, _ = UploadTag.objects.filter(upload=upload, name=name).delete()
        if removed:
            audit_record(action="upload.tag_removed", upload=upload, user=actor, detail={"tag": name})
    return bool(removed)


def tags_in_use() -> list[str]:
    """Every tag some file has, for the file list's filter."""
    return list(UploadTag.objects.order_by("name").values_list("name", flat=True).distinct())
