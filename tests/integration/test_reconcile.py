"""Reconciliation against the emulator: each kind of drift fixed once, then nothing."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from uploader import s3
from uploader.audit.models import AuditEntry
from uploader.uploads.models import Upload, UploadState

pytestmark = pytest.mark.integration


def _run(hours: str = "0") -> str:
    out = io.StringIO()
    call_command("reconcile_uploads", "--older-than-hours", hours, stdout=out)
    return out.getvalue()


def _signed(api: Client, size: int) -> dict:
    return api.get("/api/s3/params", {"filename": "r.txt", "type": "text/plain", "size": size}).json()


def test_each_drift_is_fixed_once_and_recorded(api: Client) -> None:
    # 1. an object nobody registered
    stray = "uploads/console/2026/11/stray.txt"
    s3.put_object_bytes(key=stray, body=b"stray", content_type="text/plain")
    # 2. an upload whose object arrived but whose completion was never heard
    missed = _signed(api, 4)
    requests.put(missed["url"], data=b"abcd", headers=missed["headers"], timeout=10).raise_for_status()
    # 3. a stored upload whose object was deleted behind our back
    gone = _signed(api, 2)
    requests.put(gone["url"], data=b"ab", headers=gone["headers"], timeout=10).raise_for_status()
    assert api.post(f"/api/s3/complete?key={gone['key']}").status_code == 200
    s3.delete_object(key=gone["key"])
    # 4. an abandoned multipart upload
    created = api.post("/api/s3/multipart", data=json.dumps({"filename": "m.bin", "size": 6_000_000}), content_type="application/json").json()
    Upload.objects.filter(key=created["key"]).update(created_at=timezone.now() - dt.timedelta(days=3))
    # 5. a registration never used, older than the cut-off
    unused = _signed(api, 9)
    Upload.objects.filter(pk=unused["id"]).update(created_at=timezone.now() - dt.timedelta(days=3))

    out = _run()
    assert "5 fix(es): 2 recorded, 1 marked deleted, 0 rejected object(s) removed, 1 multipart upload(s) aborted, 1 registration(s) expired" in out
    states = {
        "stray": Upload.objects.get(key=stray).state,
        "missed": Upload.objects.get(pk=missed["id"]).state,
        "gone": Upload.objects.get(pk=gone["id"]).state,
        "multipart": Upload.objects.get(key=created["key"]).state,
        "unused": Upload.objects.get(pk=unused["id"]).state,
    }
    assert states == {
        "stray": UploadState.STORED, "missed": UploadState.STORED, "gone": UploadState.DELETED,
        "multipart": UploadState.ABORTED, "unused": UploadState.ABORTED,
    }
    assert created["uploadId"] not in {u.upload_id for u in s3.list_open_multipart_uploads(prefix="uploads/")}
    assert AuditEntry.objects.filter(actor_label="reconcile").count() == 5

    assert "0 fix(es)" in _run(), "a second run finds nothing to fix"


def test_young_registrations_and_multipart_uploads_are_left_alone(api: Client) -> None:
    created = api.post("/api/s3/multipart", data=json.dumps({"filename": "m.bin", "size": 6_000_000}), content_type="application/json").json()
    unused = _signed(api, 9)
    assert "0 fix(es)" in _run(hours="24")
    assert Upload.objects.get(key=created["key"]).state == UploadState.REGISTERED
    assert Upload.objects.get(pk=unused["id"]).state == UploadState.REGISTERED


def test_objects_of_rejected_uploads_are_removed(api: Client) -> None:
    signed = _signed(api, 2)
    requests.put(signed["url"], data=b"too long", headers=signed["headers"], timeout=10).raise_for_status()
    assert api.post(f"/api/s3/complete?key={signed['key']}").status_code == 400  # rejected, object deleted
    s3.put_object_bytes(key=signed["key"], body=b"came back")  # e.g. the delete failed at the time
    assert "1 rejected object(s) removed" in _run()
    with pytest.raises(s3.ObjectNotFound):
        s3.head_object(key=signed["key"])
    assert Upload.objects.get(pk=signed["id"]).state == UploadState.REJECTED
    assert settings.INTAKE_S3_BUCKET
