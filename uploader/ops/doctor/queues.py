"""The SQS queue the consumer reads, and its dead-letter queue."""

from __future__ import annotations

from django.conf import settings

from uploader import s3
from uploader.ops.cors_check.results import CheckResult, failed, passed, skipped

PART = "queue"
CREATE_QUEUE = "create it (manage.py setup_bucket --create-queue NAME, or the deployment template)"


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def queue_checks() -> list[CheckResult]:
    url = settings.INTAKE_S3_EVENTS_QUEUE_URL
    if not url:
        return [skipped(PART, "events queue", "no SQS consumer configured (INTAKE_S3_EVENTS_QUEUE_URL is empty)")]
    name = f"events queue {_queue_name(url)}"
    try:
        waiting = s3.queue_depth(url)
    except s3.StorageRefused as exc:
        if exc.code in s3.queues.MISSING_QUEUE_CODES:
            fix = f"{CREATE_QUEUE}, or fix INTAKE_S3_EVENTS_QUEUE_URL"
            return [failed(PART, name, "the queue does not exist", fix)]
        return [failed(PART, name, f"SQS refused ({exc.code})", "allow the app's role to use the queue")]
    except s3.StorageError as exc:
        return [failed(PART, name, f"SQS does not answer ({exc})", "check INTAKE_SQS_ENDPOINT_URL and the network")]
    return [passed(PART, name, f"{waiting} message(s) waiting"), _dead_letter_check(url)]


def _dead_letter_check(url: str) -> CheckResult:
    name = "dead-letter queue"
    dlq_url = settings.INTAKE_S3_EVENTS_DLQ_URL
    try:
        if not dlq_url:
            policy = s3.queue_redrive_policy(url)
            if policy is None:
                detail = (
                    "the events queue has no RedrivePolicy: a message that always fails comes back until it "
                    "expires, and never reaches the Events page"
                )
                return failed(PART, name, detail, f"run manage.py setup_bucket --create-queue {_queue_name(url)}")
            dlq_url = s3.queue_url_from_arn(policy["deadLetterTargetArn"])
        dead = s3.queue_depth(dlq_url)
    except s3.StorageRefused as exc:
        if exc.code in s3.queues.MISSING_QUEUE_CODES:
            return failed(PART, name, "the dead-letter queue does not exist", CREATE_QUEUE)
        return failed(PART, name, f"SQS refused ({exc.code})", "allow the app's role to read the dead-letter queue")
    except s3.StorageError as exc:
        return failed(PART, name, f"SQS does not answer ({exc})", "check INTAKE_SQS_ENDPOINT_URL and the network")
    if dead:
        fix = "fix the cause (logs: 'SQS batch of N kept'), then replay or discard them on the Events page (/events/)"
        return failed(PART, f"{name} {_queue_name(dlq_url)}", f"{dead} message(s) the consumer could not apply", fix)
    return passed(PART, f"{name} {_queue_name(dlq_url)}", "exists and is empty")
