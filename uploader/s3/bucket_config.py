"""The bucket's own configuration, used by `manage.py setup_bucket` (uploader/bucket.py),
and the readiness probe: existence, CORS, lifecycle, public access block, encryption,
event notifications and the queue or topic they go to."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from uploader.s3.client import _client, sns_client
from uploader.s3.errors import BucketNotFound, ObjectNotFound, StorageRefused, translate_errors
from uploader.s3.queues import queue_arn, queue_create


def ping() -> None:
    """Raise StorageError unless the bucket answers (used by the readiness check)."""
    with translate_errors("HeadBucket"):
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
    if settings.INTAKE_S3_OBJECT_LOCK:
        params["ObjectLockEnabledForBucket"] = True  # which turns versioning on too
    region = _client().meta.region_name
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    with translate_errors("CreateBucket"):
        _client().create_bucket(**params)


def _get_or_empty(operation: str, call: Any, empty_codes: set[str], pick: str) -> Any:
    try:
        with translate_errors(operation):
            return call(Bucket=settings.INTAKE_S3_BUCKET).get(pick)
    except StorageRefused as exc:
        if exc.code in empty_codes:
            return None
        raise


def get_cors_rules() -> list[dict[str, Any]]:
    return _get_or_empty("GetBucketCors", _client().get_bucket_cors, {"NoSuchCORSConfiguration"}, "CORSRules") or []


def put_cors_rules(rules: list[dict[str, Any]]) -> None:
    with translate_errors("PutBucketCors"):
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
    with translate_errors("PutBucketLifecycleConfiguration"):
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
    with translate_errors("PutPublicAccessBlock"):
        _client().put_public_access_block(Bucket=settings.INTAKE_S3_BUCKET, PublicAccessBlockConfiguration=config)


def get_encryption_rules() -> list[dict[str, Any]]:
    config = _get_or_empty(
        "GetBucketEncryption",
        _client().get_bucket_encryption,
        {"ServerSideEncryptionConfigurationNotFoundError"},
        "ServerSideEncryptionConfiguration",
    )
    return list((config or {}).get("Rules", []))


def put_encryption_rules(rules: list[dict[str, Any]]) -> None:
    with translate_errors("PutBucketEncryption"):
        _client().put_bucket_encryption(
            Bucket=settings.INTAKE_S3_BUCKET, ServerSideEncryptionConfiguration={"Rules": rules}
        )


def _notification_configuration() -> dict[str, Any]:
    with translate_errors("GetBucketNotificationConfiguration"):
        current = dict(_client().get_bucket_notification_configuration(Bucket=settings.INTAKE_S3_BUCKET))
    current.pop("ResponseMetadata", None)
    return current


def get_notifications(kind: str) -> list[dict[str, Any]]:
    """`kind` is "QueueConfigurations" (SQS) or "TopicConfigurations" (SNS, Ceph push topics)."""
    return list(_notification_configuration().get(kind, []))


def sends_to_eventbridge() -> bool:
    """Whether the bucket hands its events to Amazon EventBridge (a rule there may feed the queue)."""
    return "EventBridgeConfiguration" in _notification_configuration()


def put_notifications(kind: str, configs: list[dict[str, Any]]) -> None:
    """Replace one kind of notification, keeping the others as they are."""
    current = _notification_configuration()
    current[kind] = configs
    with translate_errors("PutBucketNotificationConfiguration"):
        _client().put_bucket_notification_configuration(
            Bucket=settings.INTAKE_S3_BUCKET, NotificationConfiguration=current
        )


def ensure_queue(name: str) -> str:
    """Create an SQS queue if missing and return its ARN (local emulator set-up)."""
    return queue_arn(queue_create(name))


def ensure_push_topic(name: str, push_endpoint: str) -> str:
    """Create (or update) a topic that pushes events over HTTP and return its ARN.

    This is Ceph RGW's way of delivering bucket notifications to a webhook: an
    SNS-style CreateTopic with a `push-endpoint` attribute, answered by RGW itself.
    """
    with translate_errors("CreateTopic"):
        answer = sns_client().create_topic(Name=name, Attributes={"push-endpoint": push_endpoint})
    return str(answer["TopicArn"])
