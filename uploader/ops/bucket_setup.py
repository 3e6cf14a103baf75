"""Bring the bucket to the configuration browser uploads need, changing only what differs.

Idempotent: each step compares what the bucket has with what it should have and
writes only on a difference, so running it twice reports nothing the second time.
Rules that Intake does not own (other CORS or lifecycle rules, other notification
targets) are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from uploader import s3

CORS_RULE_ID = "intake-browser-uploads"
LIFECYCLE_RULE_ID = "intake-abort-incomplete-multipart"
NOTIFICATION_ID = "intake-object-events"
# What browsers send to pre-signed URLs: Content-Type on single PUTs and POSTs;
# checksum and MD5 headers for clients that add them.
CORS_ALLOWED_HEADERS = ["content-type", "content-md5", "x-amz-checksum-sha256", "x-amz-date", "authorization"]
# ETag is how the browser learns each part's identity for CompleteMultipartUpload.
CORS_EXPOSE_HEADERS = ["ETag", "Location", "x-amz-version-id"]
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# Ceph RGW (Pacific) refuses every PutObject, even the owner's private ones, while
# BlockPublicAcls is on. Where the write probe shows that, this is applied instead:
# public ACLs are still ignored, so nothing can be made public through one.
PUBLIC_ACCESS_BLOCK_WITHOUT_ACL_BLOCK = {**PUBLIC_ACCESS_BLOCK, "BlockPublicAcls": False}


@dataclass(frozen=True)
class BucketChange:
    step: str
    detail: str


def desired_cors_rule(origins: list[str]) -> dict[str, Any]:
    return {
        "ID": CORS_RULE_ID,
        "AllowedOrigins": sorted(origins),
        "AllowedMethods": ["GET", "HEAD", "POST", "PUT"],
        "AllowedHeaders": CORS_ALLOWED_HEADERS,
        "ExposeHeaders": CORS_EXPOSE_HEADERS,
        "MaxAgeSeconds": 3000,
    }


def desired_lifecycle_rule(days: int) -> dict[str, Any]:
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Filter": {"Prefix": f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/"},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
    }


def desired_queue_notification(queue_arn: str) -> dict[str, Any]:
    return {
        "Id": NOTIFICATION_ID,
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/"}]}},
    }


def desired_topic_notification(topic_arn: str) -> dict[str, Any]:
    return {
        "Id": NOTIFICATION_ID,
        "TopicArn": topic_arn,
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
    }


def _normalise(value: Any) -> Any:
    """Compare configurations ignoring list order and case of filter-rule names."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if k not in {"ResponseMetadata"}}
    if isinstance(value, list):
        return sorted((_normalise(v) for v in value), key=repr)
    if isinstance(value, str):
        return value.lower() if value in {"Prefix", "Suffix"} else value
    return value


def _merge_owned(current: list[dict[str, Any]], desired: dict[str, Any], id_field: str) -> list[dict[str, Any]]:
    return [rule for rule in current if rule.get(id_field) != desired[id_field]] + [desired]


def _owned(rules: list[dict[str, Any]], rule_id: str, id_field: str) -> dict[str, Any] | None:
    return next((rule for rule in rules if rule.get(id_field) == rule_id), None)


def _equivalent_rule(rules: list[dict[str, Any]], wanted: dict[str, Any], id_field: str) -> dict[str, Any] | None:
    """Another rule (by id) that does exactly what `wanted` does, if there is one."""
    same = _normalise({k: v for k, v in wanted.items() if k != id_field})
    return next(
        (
            rule
            for rule in rules
            if rule.get(id_field) != wanted[id_field] and _normalise({k: v for k, v in rule.items() if k != id_field}) == same
        ),
        None,
    )


def _ensure_owned_rule(
    current: list[dict[str, Any]], wanted: dict[str, Any], id_field: str, put: Callable[[list[dict[str, Any]]], None]
) -> bool:
    """Write our rule (keeping everyone else's) unless the bucket already has it; True if written."""
    if _normalise(_owned(current, wanted[id_field], id_field)) == _normalise(wanted):
        return False
    put(_merge_owned(current, wanted, id_field))
    return True


def _app_can_write() -> bool:
    """Write and delete a probe object: proves the credentials and bucket settings
    let uploads through, before any browser finds out the hard way."""
    key = f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/.intake-setup-probe"
    try:
        s3.put_object_bytes(key=key, body=b"probe", content_type="text/plain")
    except s3.StorageRefused as exc:
        if exc.code == "AccessDenied":
            return False
        raise
    s3.delete_object(key=key)
    return True


def bucket_configure(
    *,
    create: bool,
    origins: list[str],
    queue_arn: str | None,
    abort_after_days: int,
    topic_arn: str | None = None,
    report: Callable[[str], None] = lambda line: None,
) -> list[BucketChange]:
    """Apply every step; `report` hears about each one as it starts (progress)."""
    changes: list[BucketChange] = []

    def changed(step: str, detail: str) -> None:
        changes.append(BucketChange(step, detail))
        report(f"changed  {step}: {detail}")

    report(f"checking bucket {settings.INTAKE_S3_BUCKET}")
    if not s3.bucket_exists():
        if not create:
            raise s3.BucketNotFound(
                f"bucket {settings.INTAKE_S3_BUCKET} does not exist and creating it is not allowed "
                "(set INTAKE_S3_CREATE_BUCKET=true or create it with the deployment template)"
            )
        s3.create_bucket()
        changed("bucket", f"created {settings.INTAKE_S3_BUCKET}")

    report("checking public access block and that the app can still write")
    current = s3.get_public_access_block()
    if current != PUBLIC_ACCESS_BLOCK:
        s3.put_public_access_block(PUBLIC_ACCESS_BLOCK)
    if _app_can_write():
        if current != PUBLIC_ACCESS_BLOCK:
            changed("public access", "all public access blocked")
    else:
        s3.put_public_access_block(PUBLIC_ACCESS_BLOCK_WITHOUT_ACL_BLOCK)
        if not _app_can_write():
            raise s3.StorageRefused("AccessDenied", "the app's credentials cannot write to the bucket")
        if current != PUBLIC_ACCESS_BLOCK_WITHOUT_ACL_BLOCK:
            changed(
                "public access",
                "public access blocked except BlockPublicAcls, which made this S3 server refuse the app's own "
                "uploads (public ACLs are still ignored)",
            )

    report("checking default encryption")
    if not s3.get_encryption_rules():
        try:
            s3.put_encryption_rules([{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}])
            changed("encryption", "SSE-S3 (AES256) by default")
        except s3.StorageRefused as exc:
            # S3-compatible servers without an SSE-S3 backend (Ceph RGW without a
            # key store) refuse it; AWS encrypts every new object by default anyway.
            report(f"skipped  encryption: this S3 server refused default encryption ({exc.code})")

    report("checking CORS")
    if not origins:
        report("skipped  cors: no INTAKE_CORS_ALLOWED_ORIGINS configured")
    elif _ensure_owned_rule(s3.get_cors_rules(), desired_cors_rule(origins), "ID", s3.put_cors_rules):
        changed("cors", f"browser uploads allowed from {', '.join(sorted(origins))}")

    report("checking lifecycle")
    if _ensure_owned_rule(s3.get_lifecycle_rules(), desired_lifecycle_rule(abort_after_days), "ID", s3.put_lifecycle_rules):
        changed("lifecycle", f"incomplete multipart uploads aborted after {abort_after_days} days")

    report("checking event notifications")
    if queue_arn or topic_arn:
        kind, wanted, target = (
            ("QueueConfigurations", desired_queue_notification(queue_arn), f"to {queue_arn}")
            if queue_arn
            else ("TopicConfigurations", desired_topic_notification(str(topic_arn)), f"pushed through {topic_arn}")
        )
        configured = s3.get_notifications(kind)
        twin = _equivalent_rule(configured, wanted, "Id")
        if twin is not None:
            # Made by someone else (the deployment template: CloudFormation names its
            # rules itself). S3 refuses two overlapping rules, so it is kept as ours.
            report(f"kept     notifications: rule {twin.get('Id', '?')!r} already sends these events {target}")
        elif _ensure_owned_rule(configured, wanted, "Id", lambda configs: s3.put_notifications(kind, configs)):
            changed("notifications", f"object created/removed events {target}")
    else:
        report("skipped  notifications: no queue or push endpoint configured")
    return changes


DEAD_LETTER_SUFFIX = "-dlq"


def dead_letter_queue_name(queue_name: str) -> str:
    return f"{queue_name}{DEAD_LETTER_SUFFIX}"


def event_queue_configure(
    *, name: str, max_receives: int, report: Callable[[str], None] = lambda line: None
) -> tuple[str, list[BucketChange]]:
    """The event queue `name`, its dead-letter queue `name-dlq`, and the main queue's
    RedrivePolicy sending a message there after `max_receives` failed receives.
    Idempotent like the bucket's steps; returns the main queue's ARN and the changes."""
    changes: list[BucketChange] = []

    def changed(step: str, detail: str) -> None:
        changes.append(BucketChange(step, detail))
        report(f"changed  {step}: {detail}")

    report(f"checking queue {name} and its dead-letter queue")
    url = s3.queue_url_or_none(name)
    if url is None:
        url = s3.queue_create(name)
        changed("queue", f"created {name}")
    dlq_name = dead_letter_queue_name(name)
    dlq_url = s3.queue_url_or_none(dlq_name)
    if dlq_url is None:
        dlq_url = s3.queue_create(dlq_name, retention_seconds=s3.queues.DLQ_RETENTION_SECONDS)
        changed("dead-letter queue", f"created {dlq_name}")
    dlq_arn = s3.queue_arn(dlq_url)
    if s3.queue_redrive_policy(url) != {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}:
        s3.queue_set_redrive_policy(url, dead_letter_arn=dlq_arn, max_receives=max_receives)
        changed("redrive", f"messages received {max_receives} times without success move to {dlq_name}")
    return s3.queue_arn(url), changes
