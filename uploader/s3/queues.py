"""SQS, the one wrapper: the consumer's receive/delete/visibility calls
(uploader.ingest.sqs_consumer), the dead-letter queue's set-up (`manage.py
setup_bucket --create-queue`) and the calls the dashboard uses to look at it and
move messages out of it (uploader.ingest.dead_letters).

Every call goes through `translate_errors`, like the rest of the package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from uploader.s3.client import _sqs_client
from uploader.s3.errors import StorageRefused, translate_errors

# What SQS (and the emulator) answer for a queue that does not exist.
MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
# The longest SQS keeps a message: dead letters should wait for a person that long.
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# SQS's limit per receive, batch delete and batch visibility change.
BATCH_LIMIT = 10


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at_ms: int | None = None
    first_received_at_ms: int | None = None


def queue_url(name: str) -> str:
    """The queue's URL; StorageRefused when there is no queue of that name."""
    with translate_errors("GetQueueUrl"):
        return str(_sqs_client().get_queue_url(QueueName=name)["QueueUrl"])


def queue_url_or_none(name: str) -> str | None:
    """The queue's URL, or None when there is no queue of that name."""
    try:
        return queue_url(name)
    except StorageRefused as exc:
        if exc.code in MISSING_QUEUE_CODES:
            return None
        raise


def queue_create(name: str, *, retention_seconds: int | None = None) -> str:
    """Create the queue (SQS answers with the existing one's URL if the attributes match)."""
    attributes = {"MessageRetentionPeriod": str(retention_seconds)} if retention_seconds else {}
    with translate_errors("CreateQueue"):
        return str(_sqs_client().create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def queue_attributes(url: str, names: list[str]) -> dict[str, str]:
    with translate_errors("GetQueueAttributes"):
        answer = _sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return {str(k): str(v) for k, v in answer.get("Attributes", {}).items()}


def queue_arn(url: str) -> str:
    return queue_attributes(url, ["QueueArn"])["QueueArn"]


def queue_redrive_policy(url: str) -> dict[str, Any] | None:
    """The queue's RedrivePolicy as {"deadLetterTargetArn": str, "maxReceiveCount": int}, or None."""
    raw = queue_attributes(url, ["RedrivePolicy"]).get("RedrivePolicy", "")
    if not raw:
        return None
    try:
        policy = json.loads(raw)
        return {
            "deadLetterTargetArn": str(policy["deadLetterTargetArn"]),
            "maxReceiveCount": int(policy["maxReceiveCount"]),
        }
    except (ValueError, KeyError, TypeError):
        return None


def queue_set_redrive_policy(url: str, *, dead_letter_arn: str, max_receives: int) -> None:
    policy = json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receives})
    with translate_errors("SetQueueAttributes"):
        _sqs_client().set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})


def queue_url_from_arn(arn: str) -> str:
    """arn:aws:sqs:REGION:ACCOUNT:NAME → the queue's URL (asked of SQS, so it fits the endpoint)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise StorageRefused("InvalidArn", f"not an SQS queue ARN: {arn!r}")
    with translate_errors("GetQueueUrl"):
        return str(_sqs_client().get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"])


def queue_receive(
    url: str, *, visibility_seconds: int, max_messages: int = BATCH_LIMIT, wait_seconds: int = 0
) -> list[ReceivedMessage]:
    """One receive, with SQS's own counters (count, first receive, sent). A short poll
    (wait 0) asks only some of SQS's servers and may come back empty; a wait of 1+
    seconds asks all of them."""
    with translate_errors("ReceiveMessage"):
        answer = _sqs_client().receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, min(max_messages, BATCH_LIMIT)),
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_seconds,
            MessageSystemAttributeNames=["All"],
        )
    received = []
    for message in answer.get("Messages", []):
        attributes = message.get("Attributes", {})
        received.append(
            ReceivedMessage(
                message_id=str(message["MessageId"]),
                receipt_handle=str(message["ReceiptHandle"]),
                body=str(message.get("Body", "")),
                receive_count=_int(attributes.get("ApproximateReceiveCount")) or 1,
                sent_at_ms=_int(attributes.get("SentTimestamp")),
                first_received_at_ms=_int(attributes.get("ApproximateFirstReceiveTimestamp")),
            )
        )
    return received


def queue_release(url: str, receipt_handles: list[str]) -> None:
    """Make received messages visible again at once (visibility timeout 0)."""
    queue_change_visibility(url, receipt_handles, seconds=0)


def queue_change_visibility(url: str, receipt_handles: list[str], *, seconds: int) -> None:
    """Hide received messages for `seconds` from now (0: visible again at once). An
    entry SQS refuses (its receipt expired) is left alone: the message keeps its own timeout."""
    for chunk in _chunks(receipt_handles):
        with translate_errors("ChangeMessageVisibilityBatch"):
            _sqs_client().change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds} for i, handle in enumerate(chunk)
                ],
            )


def queue_delete_many(url: str, receipt_handles: list[str]) -> dict[str, str]:
    """Delete received messages, `BATCH_LIMIT` a request; returns the ones SQS kept
    (receipt handle → error code), which come back after their visibility timeout."""
    kept: dict[str, str] = {}
    for chunk in _chunks(receipt_handles):
        with translate_errors("DeleteMessageBatch"):
            answer = _sqs_client().delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)]
            )
        for failure in answer.get("Failed", []):
            kept[chunk[int(failure["Id"])]] = str(failure.get("Code", ""))
    return kept


def queue_send(url: str, body: str) -> str:
    """Send one message; its new message id."""
    with translate_errors("SendMessage"):
        return str(_sqs_client().send_message(QueueUrl=url, MessageBody=body)["MessageId"])


def queue_delete(url: str, receipt_handle: str) -> None:
    with translate_errors("DeleteMessage"):
        _sqs_client().delete_message(QueueUrl=url, ReceiptHandle=receipt_handle)


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[start : start + BATCH_LIMIT] for start in range(0, len(items), BATCH_LIMIT)]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
