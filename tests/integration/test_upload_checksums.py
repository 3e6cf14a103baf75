"""Browser checksums over HTTP against the S3 emulator: the contract binds a declared
Content-MD5 into the URL, and a single upload whose stored ETag is not that MD5 is
rejected and removed (the emulator does not check Content-MD5 itself; the strict
gateway's tests prove S3 refuses such bytes on the way in)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from uploader import s3
from uploader.models import AuditEntry, Upload, UploadState

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
