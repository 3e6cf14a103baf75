"""The one module that talks to AWS (boto3 is imported nowhere else).

Every call goes through `_translate_errors`, which maps botocore's exceptions to the
few meanings the rest of the app cares about: the object or upload is not there,
S3 refused the request, or S3 cannot be reached right now. Callers never see a
botocore exception.

The client is made once per process (making one costs milliseconds and a lot of
memory) with SigV4, path- or virtual-hosted addressing from settings, short
timeouts, and request checksums only "when required": since botocore 1.36 the
default adds CRC32 checksums that browsers uploading to pre-signed URLs would then
have to send too.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings

from uploader.signing import QueryStringSigner, SigningCredentials

logger = logging.getLogger(__name__)

_PROBE_KEY = "__intake_probe__"


class StorageError(Exception):
    """Base of everything this module raises."""


class StorageUnavailable(StorageError):
    """S3 cannot be reached or answered with a server error; try again later."""


class StorageRefused(StorageError):
    """S3 answered with a client error that has no more specific meaning here."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class ObjectNotFound(StorageError):
    pass


class MultipartUploadNotFound(StorageError):
    pass


class BucketNotFound(StorageError):
    pass


@dataclass(frozen=True)
class ObjectHead:
    size: int
    etag: str
    content_type: str


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int


@contextmanager
def _translate_errors(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise ObjectNotFound(operation) from exc
        if code == "NoSuchUpload":
            raise MultipartUploadNotFound(operation) from exc
        if code == "NoSuchBucket":
            raise BucketNotFound(settings.INTAKE_S3_BUCKET) from exc
        if status >= 500 or code in {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}:
            logger.warning("S3 %s failed with %s (HTTP %s)", operation, code, status)
            raise StorageUnavailable(f"S3 {operation} failed: {code}") from exc
        raise StorageRefused(code, str(error.get("Message", ""))) from exc
    except NoCredentialsError as exc:
        raise StorageUnavailable("no AWS credentials are configured") from exc
    except BotoCoreError as exc:
        # Connection refused/reset, timeouts, DNS: all mean "not reachable now".
        logger.warning("S3 %s unreachable: %s", operation, type(exc).__name__)
        raise StorageUnavailable(f"S3 {operation} unreachable") from exc


@functools.cache
def _session() -> boto3.session.Session:
    if settings.INTAKE_S3_ACCESS_KEY_ID:
        return boto3.session.Session(
            region_name=settings.INTAKE_S3_REGION,
            aws_access_key_id=settings.INTAKE_S3_ACCESS_KEY_ID,
            aws_secret_access_key=settings.INTAKE_S3_SECRET_ACCESS_KEY,
        )
    return boto3.session.Session(region_name=settings.INTAKE_S3_REGION)


@functools.cache
def _client() -> Any:
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.INTAKE_S3_ADDRESSING_STYLE},
        connect_timeout=settings.INTAKE_S3_CONNECT_TIMEOUT,
        read_timeout=settings.INTAKE_S3_READ_TIMEOUT,
        retries={"max_attempts": 3, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return _session().client("s3", endpoint_url=settings.INTAKE_S3_ENDPOINT_URL, config=config)


@functools.cache
def _sqs_client() -> Any:
    # The read timeout outlasts SQS's 20 s long poll.
    return _session().client(
        "sqs",
        endpoint_url=settings.INTAKE_SQS_ENDPOINT_URL or settings.INTAKE_S3_ENDPOINT_URL,
        config=Config(connect_timeout=settings.INTAKE_S3_CONNECT_TIMEOUT, read_timeout=30, retries={"mode": "standard"}),
    )


def sqs_client() -> Any:
    """The SQS client, for uploader.sqs (which maps its errors through here)."""
    return _sqs_client()


translate_errors = _translate_errors


def reset_clients() -> None:
    """Forget cached clients; tests call it after pointing settings at another endpoint."""
    _session.cache_clear()
    _client.cache_clear()
    _sqs_client.cache_clear()
    _signer.cache_clear()


def boto3_client() -> Any:
    """The configured client, for tests and benchmarks that compare against boto3."""
    return _client()


# --- Pre-signed URLs -------------------------------------------------------------------


@functools.cache
def _signer() -> QueryStringSigner:
    # Let botocore resolve the endpoint and addressing once; every later URL only
    # differs in key, query and signature.
    probe = _client().generate_presigned_url(
        "get_object", Params={"Bucket": settings.INTAKE_S3_BUCKET, "Key": _PROBE_KEY}, ExpiresIn=60
    )
    prefix = probe.split("?", 1)[0].removesuffix(_PROBE_KEY)
    return QueryStringSigner(object_url_prefix=prefix, region=_client().meta.region_name)


def _credentials() -> SigningCredentials:
    credentials = _session().get_credentials()
    if credentials is None:
        raise StorageUnavailable("no AWS credentials are configured")
    # Frozen per call: role credentials refresh behind this object.
    frozen = credentials.get_frozen_credentials()
    return SigningCredentials(frozen.access_key, frozen.secret_key, frozen.token)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _presign_with_botocore(operation: str, params: dict[str, Any], expires_in: int) -> str:
    return str(
        _client().generate_presigned_url(
            operation, Params={"Bucket": settings.INTAKE_S3_BUCKET, **params}, ExpiresIn=expires_in
        )
    )


def presign_put_object(*, key: str, content_type: str, content_length: int, expires_in: int) -> str:
    """A PUT URL whose signature binds the key, the Content-Type and the Content-Length."""
    with _translate_errors("presign PutObject"):
        if not settings.INTAKE_S3_FAST_SIGNING:
            return _presign_with_botocore(
                "put_object", {"Key": key, "ContentType": content_type, "ContentLength": content_length}, expires_in
            )
        return _signer().presign(
            credentials=_credentials(),
            method="PUT",
            key=key,
            expires_in=expires_in,
            now=_utcnow(),
            headers={"content-length": str(content_length), "content-type": content_type},
        )


def presign_upload_part(*, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
    return presign_upload_parts(key=key, upload_id=upload_id, part_numbers=[part_number], expires_in=expires_in)[
        part_number
    ]


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


def presign_post_object(*, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
    """A browser form POST whose policy fixes the key and type and caps the size."""
    with _translate_errors("presign PostObject"):
        answer = _client().generate_presigned_post(
            Bucket=settings.INTAKE_S3_BUCKET,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
    return PresignedPost(url=str(answer["url"]), fields={k: str(v) for k, v in answer["fields"].items()})


def presign_upload_parts(*, key: str, upload_id: str, part_numbers: list[int], expires_in: int) -> dict[int, str]:
    """Part URLs for a batch: one clock reading and one credential lookup for all."""
    with _translate_errors("presign UploadPart"):
        if not settings.INTAKE_S3_FAST_SIGNING:
            return {
                number: _presign_with_botocore(
                    "upload_part", {"Key": key, "UploadId": upload_id, "PartNumber": number}, expires_in
                )
                for number in part_numbers
            }
        return _signer().presign_parts(
            credentials=_credentials(),
            key=key,
            upload_id=upload_id,
            part_numbers=part_numbers,
            expires_in=expires_in,
            now=_utcnow(),
        )


def presign_get_object(*, key: str, expires_in: int, filename: str | None = None) -> str:
    params = {"Bucket": settings.INTAKE_S3_BUCKET, "Key": key}
    if filename:
        params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{_rfc5987(filename)}"
    with _translate_errors("presign GetObject"):
        return str(_client().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in))


def _rfc5987(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


# --- Objects and multipart uploads ---------------------------------------------------------


def head_object(*, key: str) -> ObjectHead:
    with _translate_errors("HeadObject"):
        answer = _client().head_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key)
    return ObjectHead(
        size=int(answer["ContentLength"]),
        etag=str(answer.get("ETag", "")).strip('"'),
        content_type=str(answer.get("ContentType", "")),
    )


def head_object_or_none(*, key: str) -> ObjectHead | None:
    try:
        return head_object(key=key)
    except ObjectNotFound:
        return None


def delete_object(*, key: str) -> None:
    with _translate_errors("DeleteObject"):
        _client().delete_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key)


def put_object_bytes(*, key: str, body: bytes, content_type: str = "application/octet-stream") -> ObjectHead:
    """Write a small object with the app's own credentials (set-up probes, derived files)."""
    with _translate_errors("PutObject"):
        answer = _client().put_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key, Body=body, ContentType=content_type)
    return ObjectHead(size=len(body), etag=str(answer.get("ETag", "")).strip('"'), content_type=content_type)


def get_object_bytes(*, key: str) -> bytes:
    with _translate_errors("GetObject"):
        return bytes(_client().get_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key)["Body"].read())


def create_multipart_upload(*, key: str, content_type: str) -> str:
    with _translate_errors("CreateMultipartUpload"):
        answer = _client().create_multipart_upload(
            Bucket=settings.INTAKE_S3_BUCKET, Key=key, ContentType=content_type
        )
    return str(answer["UploadId"])


def list_parts(*, key: str, upload_id: str) -> list[UploadedPart]:
    parts: list[UploadedPart] = []
    marker = 0
    with _translate_errors("ListParts"):
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
    with _translate_errors("CompleteMultipartUpload"):
        _client().complete_multipart_upload(
            Bucket=settings.INTAKE_S3_BUCKET,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
        )


def abort_multipart_upload(*, key: str, upload_id: str) -> None:
    with _translate_errors("AbortMultipartUpload"):
        _client().abort_multipart_upload(Bucket=settings.INTAKE_S3_BUCKET, Key=key, UploadId=upload_id)


def ping() -> None:
    """Raise StorageError unless the bucket answers (used by the readiness check)."""
    with _translate_errors("HeadBucket"):
        _client().head_bucket(Bucket=settings.INTAKE_S3_BUCKET)


# --- Bucket configuration (used by `manage.py setup_bucket`) -----------------------------


def bucket_exists() -> bool:
    try:
        ping()
    except (BucketNotFound, ObjectNotFound):
        return False
    return True


def create_bucket() -> None:
    params: dict[str, Any] = {"Bucket": settings.INTAKE_S3_BUCKET}
    region = _client().meta.region_name
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with _translate_errors("CreateBucket"):
        _client().create_bucket(**params)


def _get_or_empty(operation: str, call: Any, empty_codes: set[str], pick: str) -> Any:
    try:
        with _translate_errors(operation):
            return call(Bucket=settings.INTAKE_S3_BUCKET).get(pick)
    except StorageRefused as exc:
        if exc.code in empty_codes:
            return None
        raise


def get_cors_rules() -> list[dict[str, Any]]:
    return _get_or_empty("GetBucketCors", _client().get_bucket_cors, {"NoSuchCORSConfiguration"}, "CORSRules") or []


def put_cors_rules(rules: list[dict[str, Any]]) -> None:
    with _translate_errors("PutBucketCors"):
        _client().put_bucket_cors(Bucket=settings.INTAKE_S3_BUCKET, CORSConfiguration={"CORSRules": rules})


def get_lifecycle_rules() -> list[dict[str, Any]]:
    return (
        _get_or_empty(
            "GetBucketLifecycleConfiguration",
            _client().get_bucket_lifecycle_configuration,
            {"NoSuchLifecycleConfiguration"},
            "Rules",
        )
        or []
    )


def put_lifecycle_rules(rules: list[dict[str, Any]]) -> None:
    with _translate_errors("PutBucketLifecycleConfiguration"):
        _client().put_bucket_lifecycle_configuration(
            Bucket=settings.INTAKE_S3_BUCKET, LifecycleConfiguration={"Rules": rules}
        )


def get_public_access_block() -> dict[str, bool]:
    return (
        _get_or_empty(
            "GetPublicAccessBlock",
            _client().get_public_access_block,
            {"NoSuchPublicAccessBlockConfiguration"},
            "PublicAccessBlockConfiguration",
        )
        or {}
    )


def put_public_access_block(config: dict[str, bool]) -> None:
    with _translate_errors("PutPublicAccessBlock"):
        _client().put_public_access_block(
            Bucket=settings.INTAKE_S3_BUCKET, PublicAccessBlockConfiguration=config
        )


def get_encryption_rules() -> list[dict[str, Any]]:
    config = _get_or_empty(
        "GetBucketEncryption",
        _client().get_bucket_encryption,
        {"ServerSideEncryptionConfigurationNotFoundError"},
        "ServerSideEncryptionConfiguration",
    )
    return list((config or {}).get("Rules", []))


def put_encryption_rules(rules: list[dict[str, Any]]) -> None:
    with _translate_errors("PutBucketEncryption"):
        _client().put_bucket_encryption(
            Bucket=settings.INTAKE_S3_BUCKET, ServerSideEncryptionConfiguration={"Rules": rules}
        )


def _notification_configuration() -> dict[str, Any]:
    with _translate_errors("GetBucketNotificationConfiguration"):
        current = dict(_client().get_bucket_notification_configuration(Bucket=settings.INTAKE_S3_BUCKET))
    current.pop("ResponseMetadata", None)
    return current


def get_notifications(kind: str) -> list[dict[str, Any]]:
    """`kind` is "QueueConfigurations" (SQS) or "TopicConfigurations" (SNS, Ceph push topics)."""
    return list(_notification_configuration().get(kind, []))


def put_notifications(kind: str, configs: list[dict[str, Any]]) -> None:
    """Replace one kind of notification, keeping the others as they are."""
    current = _notification_configuration()
    current[kind] = configs
    with _translate_errors("PutBucketNotificationConfiguration"):
        _client().put_bucket_notification_configuration(
            Bucket=settings.INTAKE_S3_BUCKET, NotificationConfiguration=current
        )


def ensure_queue(name: str) -> str:
    """Create an SQS queue if missing and return its ARN (local emulator set-up)."""
    with _translate_errors("CreateQueue"):
        url = _sqs_client().create_queue(QueueName=name)["QueueUrl"]
        attributes = _sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _sns_client() -> Any:
    # Ceph RGW serves its SNS-compatible topic API on the S3 endpoint itself.
    return _session().client(
        "sns",
        endpoint_url=settings.INTAKE_S3_ENDPOINT_URL,
        config=Config(connect_timeout=settings.INTAKE_S3_CONNECT_TIMEOUT, read_timeout=settings.INTAKE_S3_READ_TIMEOUT),
    )


def ensure_push_topic(name: str, push_endpoint: str) -> str:
    """Create (or update) a topic that pushes events over HTTP and return its ARN.

    This is Ceph RGW's way of delivering bucket notifications to a webhook: an
    SNS-style CreateTopic with a `push-endpoint` attribute, answered by RGW itself.
    """
    with _translate_errors("CreateTopic"):
        answer = _sns_client().create_topic(Name=name, Attributes={"push-endpoint": push_endpoint})
    return str(answer["TopicArn"])



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


def list_objects(*, prefix: str) -> Iterator[ObjectSummary]:
    """Every object under the prefix, page by page (1,000 a request)."""
    paginator = _client().get_paginator("list_objects_v2")
    with _translate_errors("ListObjectsV2"):
        for page in paginator.paginate(Bucket=settings.INTAKE_S3_BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectSummary(str(item["Key"]), int(item["Size"]), str(item.get("ETag", "")).strip('"'))


def list_open_multipart_uploads(*, prefix: str) -> Iterator[OpenMultipartUpload]:
    paginator = _client().get_paginator("list_multipart_uploads")
    with _translate_errors("ListMultipartUploads"):
        for page in paginator.paginate(Bucket=settings.INTAKE_S3_BUCKET, Prefix=prefix):
            for item in page.get("Uploads", []):
                yield OpenMultipartUpload(str(item["Key"]), str(item["UploadId"]), item["Initiated"])
