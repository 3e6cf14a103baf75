"""Browser checksums over HTTP against the S3 emulator: the contract binds a declared
Content-MD5 into the URL, and a single upload whose stored ETag is not that MD5 is
rejected and removed (the emulator does not check Content-MD5 itself; the strict
gateway's tests prove S3 refuses such bytes on the way in)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import uuid
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from uploader import s3
from uploader.audit.models import AuditEntry
from uploader.ingest import reconcile
from uploader.ingest.ledger.apply import events_apply
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.uploads import checksums
from uploader.uploads.models import Upload, UploadState

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - S3's Content-MD5


def _signed_headers(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")


def test_single_upload_with_its_md5_is_bound_sent_and_stored(api: Client) -> None:
    body = os.urandom(100 * 1024)
    signed = api.get(
        "/api/s3/params",
        {
            "filename": "a.bin",
            "type": "application/octet-stream",
            "metadata[size]": len(body),
            "metadata[md5]": _md5(body),
        },
    ).json()
    assert signed["headers"] == {"content-type": "application/octet-stream", "content-md5": _md5(body)}
    assert _signed_headers(signed["url"]) == ["content-length", "content-md5", "content-type", "host"]
    upload = Upload.objects.get(pk=signed["id"])
    assert upload.content_md5 == hashlib.md5(body).hexdigest()  # noqa: S324
    registered = AuditEntry.objects.get(upload=upload, action="upload.registered")
    assert registered.detail["content_md5"] == upload.content_md5

    assert requests.put(signed["url"], data=body, headers=signed["headers"], timeout=30).status_code == 200
    done = api.post(f"/api/s3/complete?key={signed['key']}")
    assert done.status_code == 200, done.content
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED


def test_stored_bytes_that_are_not_the_checksummed_ones_are_rejected_and_removed(api: Client) -> None:
    declared = os.urandom(64 * 1024)
    other = os.urandom(len(declared))  # same length: only the digest tells them apart
    signed = api.get(
        "/api/s3/params",
        {"filename": "a.bin", "type": "application/octet-stream", "size": len(declared), "md5": _md5(declared)},
    ).json()
    # The emulator does not check Content-MD5, so it stores the other bytes.
    assert requests.put(signed["url"], data=other, headers=signed["headers"], timeout=30).status_code == 200

    done = api.post(f"/api/s3/complete?key={signed['key']}")
    assert done.status_code == 400
    assert done.json()["code"] == "checksum_mismatch"
    assert done.json()["field"] == "md5"
    assert "MD5" in done.json()["message"]
    upload = Upload.objects.get(pk=signed["id"])
    assert upload.state == UploadState.REJECTED
    assert "MD5" in upload.rejection_reason
    assert s3.head_object_or_none(key=upload.key) is None
    rejected = AuditEntry.objects.get(upload=upload, action="upload.rejected")
    assert "MD5" in rejected.detail["reason"]


def test_without_a_digest_nothing_is_bound_or_compared(api: Client) -> None:
    body = os.urandom(10 * 1024)
    signed = api.get("/api/s3/params", {"filename": "a.bin", "type": "text/plain", "size": len(body)}).json()
    assert "content-md5" not in signed["headers"]
    assert "content-md5" not in _signed_headers(signed["url"])
    assert Upload.objects.get(pk=signed["id"]).content_md5 == ""


@pytest.mark.parametrize("where", ["md5", "metadata[md5]"])
@pytest.mark.parametrize("value", ["abc", hashlib.md5(b"x").hexdigest(), base64.b64encode(b"x" * 32).decode()])  # noqa: S324
def test_a_malformed_digest_is_a_400_naming_md5_and_registers_nothing(api: Client, where: str, value: str) -> None:
    response = api.get("/api/s3/params", {"filename": "a.bin", "type": "text/plain", "size": 10, where: value})
    assert response.status_code == 400
    assert response.json()["field"] == "md5"
    assert not Upload.objects.exists()


def test_a_part_signed_with_its_md5_binds_it_and_says_which_header_to_send(api: Client) -> None:
    created = json.loads(
        api.post(
            "/api/s3/multipart",
            data=json.dumps(
                {
                    "filename": "big.bin",
                    "type": "application/octet-stream",
                    "metadata": {"size": 12 * MiB, "partSize": 6 * MiB},
                }
            ),
            content_type="application/json",
        ).content
    )
    parts = [os.urandom(6 * MiB), os.urandom(6 * MiB)]
    etags = []
    for number, part in enumerate(parts, start=1):
        answer = api.get(
            f"/api/s3/multipart/{created['uploadId']}/{number}", {"key": created["key"], "md5": _md5(part)}
        ).json()
        assert answer["headers"] == {"content-md5": _md5(part)}
        assert _signed_headers(answer["url"]) == ["content-length", "content-md5", "host"]
        put = requests.put(answer["url"], data=part, headers=answer["headers"], timeout=60)
        assert put.status_code == 200
        etags.append({"PartNumber": number, "ETag": put.headers["ETag"]})

    done = api.post(
        f"/api/s3/multipart/{created['uploadId']}/complete?key={created['key']}",
        data=json.dumps({"parts": etags}),
        content_type="application/json",
    )
    assert done.status_code == 200, done.content
    upload = Upload.objects.get(pk=created["id"])
    assert upload.state == UploadState.STORED
    assert s3.get_object_bytes(key=upload.key) == b"".join(parts)


def test_a_malformed_part_digest_is_a_400(api: Client) -> None:
    created = json.loads(
        api.post(
            "/api/s3/multipart",
            data=json.dumps({"filename": "big.bin", "type": "application/octet-stream", "metadata": {"size": 6 * MiB}}),
            content_type="application/json",
        ).content
    )
    response = api.get(f"/api/s3/multipart/{created['uploadId']}/1", {"key": created["key"], "md5": "nope"})
    assert response.status_code == 400
    assert response.json()["field"] == "md5"


# --- the event and reconcile paths (no complete call) ---------------------------------------


def _created_event(upload: Upload, *, etag: str, size: int, sequencer: str) -> UploadEvent:
    return UploadEvent.objects.create(
        source="sqs",
        dedupe_key=uuid.uuid4().hex,
        bucket="intake",
        key=upload.key,
        kind="created",
        event_name="ObjectCreated:Put",
        sequencer=sequencer,
        etag=etag,
        size=size,
    )


def _sign_and_put(api: Client, declared: bytes, sent: bytes) -> Upload:
    signed = api.get(
        "/api/s3/params", {"filename": "a.bin", "type": "application/octet-stream", "size": len(declared), "md5": _md5(declared)}
    ).json()
    assert requests.put(signed["url"], data=sent, headers=signed["headers"], timeout=30).status_code == 200
    return Upload.objects.get(pk=signed["id"])


def test_an_event_for_other_bytes_is_rejected_not_stored_by_the_batch_path(api: Client) -> None:
    declared = os.urandom(4096)
    upload = _sign_and_put(api, declared, os.urandom(len(declared)))
    head = s3.head_object(key=upload.key)
    event = _created_event(upload, etag=head.etag, size=head.size, sequencer="0055AED6DCD90281E5")
    events_apply(event_ids=[event.pk])
    upload.refresh_from_db()
    assert upload.state == UploadState.REJECTED
    assert upload.rejection_reason == checksums.MISMATCH_REASON
    assert s3.head_object_or_none(key=upload.key) is None


def test_an_event_for_the_checksummed_bytes_is_stored_by_the_batch_path(api: Client) -> None:
    body = os.urandom(4096)
    upload = _sign_and_put(api, body, body)
    head = s3.head_object(key=upload.key)
    event = _created_event(upload, etag=head.etag, size=head.size, sequencer="0055AED6DCD90281E5")
    assert events_apply(event_ids=[event.pk]) == {EventOutcome.APPLIED: 1}
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED


def test_an_event_whose_etag_kms_made_keeps_the_good_file(api: Client) -> None:
    """Under SSE-KMS the ETag is not the MD5 and an event does not say so: the ledger
    asks S3 (HEAD) instead of taking the ETag for a mismatch."""
    body = os.urandom(4096)
    upload = _sign_and_put(api, body, body)
    kms_like_etag = hashlib.md5(b"an ETag KMS made").hexdigest()  # noqa: S324
    real_head = s3.head_object(key=upload.key)
    kms_head = s3.ObjectHead(size=real_head.size, etag=kms_like_etag, content_type=real_head.content_type, encryption="aws:kms")
    event = _created_event(upload, etag=kms_like_etag, size=len(body), sequencer="0055AED6DCD90281E6")
    with mock.patch.object(s3, "head_object_or_none", return_value=kms_head) as head:
        events_apply(event_ids=[event.pk])
    head.assert_called_once_with(key=upload.key)
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert s3.head_object_or_none(key=upload.key) is not None


def test_reconcile_rejects_other_bytes_and_keeps_kms_etags(api: Client) -> None:
    good = os.urandom(2048)
    kept = _sign_and_put(api, good, good)
    declared = os.urandom(2048)
    replaced = _sign_and_put(api, declared, os.urandom(len(declared)))
    reconcile.reconcile(older_than=dt.timedelta(hours=1))
    kept.refresh_from_db()
    replaced.refresh_from_db()
    assert kept.state == UploadState.STORED
    assert replaced.state == UploadState.REJECTED
    assert replaced.rejection_reason == checksums.MISMATCH_REASON


def test_a_digest_without_a_size_is_refused_not_dropped(api: Client) -> None:
    response = api.get("/api/s3/params", {"filename": "a.bin", "type": "text/plain", "md5": _md5(b"x")})
    assert response.status_code == 400
    assert response.json()["field"] == "md5"
    assert not Upload.objects.exists()
