"""Objects and multipart uploads in the configured bucket."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from uploader.s3.client import _client
from uploader.s3.errors import ObjectNotFound, translate_errors


@dataclass(frozen=True)
class ObjectHead:
    size: int
    etag: str
    content_type: str
    # S3's ServerSideEncryption answer ("AES256", "aws:kms", "" for none): with KMS the
    # ETag is not the MD5 of the bytes (uploader.uploads.checksums). None: not known (an event
    # or a listing, which do not say), so the ETag cannot be compared.
    encryption: str | None = None


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int


@dataclass(frozen=True)
class ObjectSummary:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class OpenMultipartUpload:
    key: str
    upload_id: str
    initiated: dt.datetime


def head_object(*, key: str) -> ObjectHead:
    with translate_errors("HeadObject"):
        answer = _client().head_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key)
    return ObjectHead(
        size=int(answer["ContentLength"]),
        etag=str(answer.get("ETag", "")).strip('"'),
        content_type=str(answer.get("ContentType", "")),
        encryption=str(answer.get("ServerSideEncryption", "")),
    )


def head_object_or_none(*, key: str) -> ObjectHead | None:
    try:
        return head_object(key=key)
    except ObjectNotFound:
        return None


def delete_object(*, key: str) -> None:
    with translate_errors("DeleteObject"):
        _client().delete_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key)


def put_object_bytes(*, key: str, body: bytes, content_type: str = "application/octet-stream") -> ObjectHead:
    """Write a small object with the app's own credentials (set-up probes, derived files)."""
    with translate_errors("PutObject"):
        answer = _client().put_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key, Body=body, ContentType=content_type)
    return ObjectHead(size=len(body), etag=str(answer.get("ETag", "")).strip('"'), content_type=content_type)


def get_object_bytes(*, key: str) -> bytes:
    with translate_errors("GetObject"):
        return bytes(_client().get_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key)["Body"].read())


class ObjectTooLarge(Exception):
    """The object holds more than the caller is willing to read."""


def get_object_head_bytes(*, key: str, max_bytes: int) -> bytes:
    """The whole object if it is at most `max_bytes`, else ObjectTooLarge: an object
    that grew since it was recorded costs a bounded read, not its full size."""
    data, more = get_object_prefix_bytes(key=key, max_bytes=max_bytes)
    if more:
        raise ObjectTooLarge(f"{key} is larger than {max_bytes} bytes")
    return data


def get_object_prefix_bytes(*, key: str, max_bytes: int) -> tuple[bytes, bool]:
    """The first `max_bytes` of an object and whether there is more (a ranged GET of
    one byte more): a preview's excerpt costs a few KiB whatever the object's size."""
    with translate_errors("GetObject"):
        answer = _client().get_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key, Range=f"bytes=0-{max_bytes}")
        body = answer["Body"]
        try:
            data = bytes(body.read(max_bytes + 1))
        finally:
            body.close()
    return data[:max_bytes], len(data) > max_bytes


def create_multipart_upload(*, key: str, content_type: str) -> str:
    with translate_errors("CreateMultipartUpload"):
        answer = _client().create_multipart_upload(Bucket=settings.INTAKE_S3_BUCKET, Key=key, ContentType=content_type)
    return str(answer["UploadId"])


def list_parts(*, key: str, upload_id: str) -> list[UploadedPart]:
    parts: list[UploadedPart] = []
    marker = 0
    with translate_errors("ListParts"):
        while True:
            answer = _client().list_parts(
                Bucket=settings.INTAKE_S3_BUCKET, Key=key, UploadId=upload_id, PartNumberMarker=marker
            )
            parts.extend(
                UploadedPart(int(p["PartNumber"]), str(p["ETag"]), int(p["Size"])) for p in answer.get("Parts", [])
            )
            if not answer.get("IsTruncated"):
                return parts
            marker = int(answer["NextPartNumberMarker"])


def complete_multipart_upload(*, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
    with translate_errors("CompleteMultipartUpload"):
        _client().complete_multipart_upload(
            Bucket=settings.INTAKE_S3_BUCKET,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
        )


def abort_multipart_upload(*, key: str, upload_id: str) -> None:
    with translate_errors("AbortMultipartUpload"):
        _client().abort_multipart_upload(Bucket=settings.INTAKE_S3_BUCKET, Key=key, UploadId=upload_id)


def list_objects(*, prefix: str) -> Iterator[ObjectSummary]:
    """Every object under the prefix, page by page (1,000 a request)."""
    paginator = _client().get_paginator("list_objects_v2")
    with translate_errors("ListObjectsV2"):
        for page in paginator.paginate(Bucket=settings.INTAKE_S3_BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectSummary(str(item["Key"]), int(item["Size"]), str(item.get("ETag", "")).strip('"'))


def list_open_multipart_uploads(*, prefix: str) -> Iterator[OpenMultipartUpload]:
    paginator = _client().get_paginator("list_multipart_uploads")
    with translate_errors("ListMultipartUploads"):
        for page in paginator.paginate(Bucket=settings.INTAKE_S3_BUCKET, Prefix=prefix):
            for item in page.get("Uploads", []):
                yield OpenMultipartUpload(str(item["Key"]), str(item["UploadId"]), item["Initiated"])
