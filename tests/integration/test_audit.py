"""The audit trail: every state change and staff action, append-only."""

from __future__ import annotations

import json

import pytest
import requests
from django.db import DatabaseError, connection, transaction
from django.test import Client

from tests.conftest import TEST_PASSWORD
from uploader.audit.models import AuditEntry
from uploader.uploads.models import Upload

pytestmark = pytest.mark.integration


def _actions(upload: Upload) -> list[str]:
    return list(AuditEntry.objects.filter(upload=upload).order_by("id").values_list("action", flat=True))


def test_an_upload_leaves_a_trail_with_actor_request_id_and_address(api: Client, staff_user) -> None:  # type: ignore[no-untyped-def]
    created = api.post(
        "/api/s3/multipart",
        data=json.dumps({"filename": "trail.bin", "size": 3}),
        content_type="application/json",
        headers={"X-Request-ID": "req-0123456789abcdef"},
    )
    assert created["X-Request-ID"] == "req-0123456789abcdef"
    body = created.json()
    url = api.get(f"/api/s3/multipart/{body['uploadId']}/1", {"key": body["key"]}).json()["url"]
    etag = requests.put(url, data=b"abc", timeout=10).headers["ETag"]
    api.post(
        f"/api/s3/multipart/{body['uploadId']}/complete?key={body['key']}",
        data=json.dumps({"parts": [{"PartNumber": 1, "ETag": etag}]}),
        content_type="application/json",
    )
    upload = Upload.objects.get(key=body["key"])
    assert _actions(upload) == ["upload.registered", "upload.uploading", "upload.stored"]
    registered = AuditEntry.objects.get(upload=upload, action="upload.registered")
    assert (registered.actor_id, registered.actor_label) == (staff_user.pk, "alice")
    assert registered.request_id == "req-0123456789abcdef"
    assert registered.ip_address == "127.0.0.1"
    assert registered.detail["filename"] == "trail.bin"
    stored = AuditEntry.objects.get(upload=upload, action="upload.stored")
    assert stored.detail["stored_size"] == 3
    assert stored.request_id != registered.request_id, "each request gets its own id"


def test_a_malformed_request_id_is_replaced(client: Client, db: None) -> None:
    response = client.get("/healthz/live", headers={"X-Request-ID": "evil\nheader"})
    assert response["X-Request-ID"] != "evil\nheader"
    assert len(response["X-Request-ID"]) == 32


def test_sign_in_sign_out_and_refusals_are_recorded(client: Client, staff_user) -> None:  # type: ignore[no-untyped-def]
    client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    client.post("/accounts/login/", {"username": "alice", "password": TEST_PASSWORD})
    client.post("/accounts/logout/")
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "actor_label", "detail"))
    assert entries == [
        ("auth.sign_in_refused", "system", {"username": "alice"}),
        ("auth.sign_in", "alice", {}),
        ("auth.sign_out", "alice", {}),
    ]
    assert TEST_PASSWORD not in json.dumps([e[2] for e in entries])


def test_entries_cannot_be_changed_or_deleted(db: None) -> None:
    entry = AuditEntry.objects.create(action="test.thing", actor_label="system")
    entry.action = "rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL (CI runs this there)")
def test_postgresql_refuses_updates_and_deletes_of_entries(db: None) -> None:
    AuditEntry.objects.create(action="test.thing", actor_label="system")
    for statement in ("UPDATE uploader_auditentry SET action = 'x'", "DELETE FROM uploader_auditentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEntry.objects.get().action == "test.thing"
