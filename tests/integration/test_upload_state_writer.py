"""The upload state machine's one writer (uploader.uploads.state), on the test
database (PostgreSQL in CI's first pass, SQLite in the second): it moves only what
ALLOWED_TRANSITIONS allows from the state the database holds, writes one audit entry
per upload that moved, and nothing for the rest."""

from __future__ import annotations

import uuid

import pytest

from uploader.audit.models import AuditEntry
from uploader.uploads.errors import WrongState
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.state import Move, sources_of, upload_move, uploads_move

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _upload(state: str = UploadState.REGISTERED) -> Upload:
    upload_id = uuid.uuid4()
    return Upload.objects.create(
        id=upload_id,
        key=f"uploads/staff/2026/12/{upload_id}/a.txt",
        original_filename="a.txt",
        declared_size=3,
        declared_content_type="text/plain",
        state=state,
    )


def _actions(upload: Upload) -> list[str]:
    return list(AuditEntry.objects.filter(upload=upload).order_by("id").values_list("action", flat=True))


def test_sources_follow_the_state_machine() -> None:
    assert sources_of(UploadState.UPLOADING) == [UploadState.REGISTERED]
    assert set(sources_of(UploadState.DELETED)) == {UploadState.REGISTERED, UploadState.UPLOADING, UploadState.STORED}


def test_a_batch_moves_only_what_may_move_and_records_each_once() -> None:
    waiting, uploading, rejected = _upload(), _upload(UploadState.UPLOADING), _upload(UploadState.REJECTED)
    moves = [
        Move(upload_id=u.pk, values={"stored_size": 3, "etag": f'"{n}"', "last_sequencer": f"00{n}"}, detail={"n": n})
        for n, u in enumerate([waiting, uploading, rejected])
    ]

    moved = uploads_move(moves=moves, to=UploadState.STORED)

    assert moved == [waiting.pk, uploading.pk]
    for n, upload in enumerate([waiting, uploading]):
        upload.refresh_from_db()
        assert (upload.state, upload.etag, upload.last_sequencer) == (UploadState.STORED, f'"{n}"', f"00{n}")
        assert _actions(upload) == ["upload.stored"]
        assert AuditEntry.objects.get(upload=upload).detail == {"n": n}
    rejected.refresh_from_db()
    assert rejected.state == UploadState.REJECTED
    assert rejected.etag == ""
    assert _actions(rejected) == []

    assert uploads_move(moves=moves, to=UploadState.STORED) == [], "a repeat moves nothing"
    assert AuditEntry.objects.filter(action="upload.stored").count() == 2


def test_one_upload_moves_with_its_own_action_and_the_instance_follows() -> None:
    upload = _upload(UploadState.STORED)
    assert upload_move(upload, UploadState.DELETED, action="upload.deleted", detail={"why": "test"})
    assert upload.state == UploadState.DELETED
    upload.refresh_from_db()
    assert upload.state == UploadState.DELETED
    assert _actions(upload) == ["upload.deleted"]


def test_a_move_the_state_machine_refuses_raises_and_writes_nothing() -> None:
    upload = _upload(UploadState.ABORTED)
    with pytest.raises(WrongState):
        upload_move(upload, UploadState.STORED)
    upload.refresh_from_db()
    assert upload.state == UploadState.ABORTED
    assert _actions(upload) == []


def test_a_stale_instance_cannot_move_a_row_backwards() -> None:
    """The database decides: an instance that still says registered cannot make a
    deleted row stored (the UPDATE's WHERE state IN ... finds nothing)."""
    upload = _upload()
    Upload.objects.filter(pk=upload.pk).update(state=UploadState.DELETED)
    assert upload_move(upload, UploadState.STORED) is False
    upload.refresh_from_db()
    assert upload.state == UploadState.DELETED
    assert _actions(upload) == []


def test_the_writer_writes_only_state_columns() -> None:
    upload = _upload()
    with pytest.raises(ValueError, match="original_filename"):
        uploads_move(moves=[Move(upload_id=upload.pk, values={"original_filename": "x"})], to=UploadState.STORED)
