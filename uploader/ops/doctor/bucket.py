"""The bucket as uploads need it: reachable with the app's credentials, public access
blocked, encrypted by default, incomplete multipart uploads cleaned up, and object
events going to the queue the consumer reads."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from uploader import s3
from uploader.ops.bucket_setup import PUBLIC_ACCESS_BLOCK, PUBLIC_ACCESS_BLOCK_WITHOUT_ACL_BLOCK
from uploader.ops.cors_check.results import SETUP_BUCKET, CheckResult, failed, passed, skipped

PART = "s3"


def _reach() -> CheckResult:
    bucket = settings.INTAKE_S3_BUCKET
    name = f"credentials and bucket {bucket}"
    try:
        s3.ping()
    except (s3.BucketNotFound, s3.ObjectNotFound):
        fix = "create it with the deployment template (or manage.py setup_bucket --create), or fix INTAKE_S3_BUCKET"
        return failed(PART, name, "the bucket does not exist", fix)
    except s3.StorageRefused as exc:
        fix = "check the app's credentials (role or INTAKE_S3_ACCESS_KEY_ID) and that its policy allows the bucket"
        return failed(PART, name, f"S3 refused ({exc.code or 'access denied'})", fix)
    except s3.StorageError as exc:
        if "credentials" in str(exc):
            fix = "give the app credentials: a task or instance role, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or INTAKE_S3_ACCESS_KEY_ID"
            return failed(PART, name, str(exc), fix)
        fix = "check INTAKE_S3_ENDPOINT_URL, the region and the network"
        return failed(PART, name, f"S3 does not answer ({exc})", fix)
    return passed(PART, name, "the bucket answers the app's credentials")


def _public_access() -> CheckResult:
    name = "public access blocked"
    block = s3.get_public_access_block()
    if block in (PUBLIC_ACCESS_BLOCK, PUBLIC_ACCESS_BLOCK_WITHOUT_ACL_BLOCK):
        return passed(PART, name, "public ACLs ignored, public policies blocked")
    off = sorted(key for key, value in PUBLIC_ACCESS_BLOCK.items() if value and not block.get(key))
    return failed(PART, name, f"not blocked: {', '.join(off)}", SETUP_BUCKET)


def _encryption() -> CheckResult:
    name = "default encryption"
    rules = s3.get_encryption_rules()
    if not rules:
        return failed(PART, name, "no default encryption configured", SETUP_BUCKET)
    algorithms = sorted(
        {str(rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "?")) for rule in rules}
    )
    return passed(PART, name, ", ".join(algorithms))


def _covers_uploads(rule: dict[str, Any]) -> bool:
    prefix = rule.get("Prefix")
    if prefix is None:
        prefix = (rule.get("Filter") or {}).get("Prefix", "")
    uploads = f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/"
    return uploads.startswith(str(prefix or ""))


def _lifecycle() -> CheckResult:
    name = "incomplete multipart uploads expire"
    rules = [
        rule
        for rule in s3.get_lifecycle_rules()
        if rule.get("Status") == "Enabled" and rule.get("AbortIncompleteMultipartUpload") and _covers_uploads(rule)
    ]
    if not rules:
        detail = "no enabled lifecycle rule aborts them: abandoned parts stay in the bucket, billed, for ever"
        return failed(PART, name, detail, SETUP_BUCKET)
    days = min(int(rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation", 0)) for rule in rules)
    return passed(PART, name, f"aborted after {days} day(s)")


def _sends(config: dict[str, Any], family: str) -> bool:
    return any(str(event).startswith(f"s3:{family}:") for event in config.get("Events", []))


def _notifications() -> CheckResult:
    name = "object events go to the consumer's queue"
    url = settings.INTAKE_S3_EVENTS_QUEUE_URL
    if not url:
        return skipped(PART, name, "no SQS consumer configured (INTAKE_S3_EVENTS_QUEUE_URL is empty)")
    try:
        wanted = s3.queue_arn(url)
    except s3.StorageError:
        return skipped(PART, name, "the consumer's queue cannot be read (see the queue lines)")
    configs = s3.get_notifications("QueueConfigurations")
    ours = [config for config in configs if config.get("QueueArn") == wanted]
    if ours:
        missing = [family for family in ("ObjectCreated", "ObjectRemoved") if not any(_sends(c, family) for c in ours)]
        if missing:
            return failed(PART, name, f"{' and '.join(missing)} events are not sent to {wanted}", SETUP_BUCKET)
        return passed(PART, name, f"created and removed objects are sent to {wanted}")
    elsewhere = sorted({str(config.get("QueueArn")) for config in configs})
    fix = (
        f"set INTAKE_S3_EVENTS_QUEUE_ARN={wanted} and run manage.py setup_bucket "
        "(or point INTAKE_S3_EVENTS_QUEUE_URL at the queue the bucket feeds)"
    )
    if s3.sends_to_eventbridge():
        detail = "the bucket sends its events to EventBridge; the rule from there to the queue is not checked here"
        return skipped(PART, name, detail)
    if elsewhere:
        detail = (
            f"the bucket sends its events to {', '.join(elsewhere)}, not to the queue the consumer reads ({wanted})"
        )
        return failed(PART, name, detail, fix)
    return failed(PART, name, f"the bucket sends no object events to any queue; the consumer reads {wanted}", fix)


def bucket_checks() -> list[CheckResult]:
    reached = _reach()
    if reached.status != "passed":
        return [reached, skipped(PART, "bucket configuration", "not checked: the bucket cannot be read")]
    results = [reached]
    for check in (_public_access, _encryption, _lifecycle, _notifications):
        try:
            results.append(check())
        except s3.StorageError as exc:
            name = check.__name__.strip("_").replace("_", " ")
            results.append(
                failed(
                    PART, name, f"could not be read ({exc})", "allow the app's role to read the bucket's configuration"
                )
            )
    return results
