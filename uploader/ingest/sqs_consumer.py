"""Consume S3 event notifications from SQS into the ledger.

At-least-once, never at-most-once: a message is deleted only after its events are
committed to the ledger and their tasks are enqueued. Whatever fails (database,
broker, a bug) leaves the message in the queue; SQS shows it again after the
visibility timeout and, after the queue's maxReceiveCount, moves it to the
dead-letter queue. Messages that can never be used (not JSON, not S3's shape) are
logged with the reason and deleted, so they cannot stall the queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections

from uploader import s3
from uploader.ingest.ledger import IngestResult
from uploader.ingest.models import EventSource
from uploader.ingest.tasks import events_receive_many

logger = logging.getLogger(__name__)

MAX_BATCH = s3.queues.BATCH_LIMIT  # SQS's limit per receive
# Messages ingested together (one transaction, one task): while the queue is full,
# several receives are gathered, so the database and the worker see batches of this
# size instead of 10 (the per-batch costs are most of the per-event cost).
DEFAULT_GATHER = 50
DEFAULT_LINGER_SECONDS = 0.05

# What a receive gives (uploader.s3.queues): id, receipt handle, body, receive count.
QueueMessage = s3.ReceivedMessage


@dataclass
class BatchResult:
    received: int = 0
    deleted: int = 0
    kept: int = 0
    recorded: int = 0
    duplicates: int = 0


def queue_url_for(name: str) -> str:
    return s3.queue_url(name)


def receive(queue_url: str, *, wait_seconds: int) -> list[QueueMessage]:
    return s3.queue_receive(
        queue_url,
        visibility_seconds=settings.INTAKE_SQS_VISIBILITY_SECONDS,
        max_messages=MAX_BATCH,
        wait_seconds=wait_seconds,
    )


def receive_gathered(
    queue_url: str,
    *,
    wait_seconds: int,
    up_to: int = DEFAULT_GATHER,
    linger_seconds: float = DEFAULT_LINGER_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[QueueMessage]:
    """Long-poll once, then gather more (receives without wait) up to `up_to`.

    While receives come back full, the next follows at once. After a partial one,
    the consumer waits once until `linger_seconds` after the first receive and
    takes what arrived meanwhile: under a steady load a receive returns the few
    messages of the last milliseconds, and each batch costs about the same to
    ingest, enqueue, apply and delete whatever its size. A quiet queue costs one
    more receive per message and at most `linger_seconds` of latency.
    """
    messages = receive(queue_url, wait_seconds=wait_seconds)
    deadline = clock() + linger_seconds
    last = len(messages)
    while 0 < len(messages) < up_to:
        if last < MAX_BATCH:
            pause = deadline - clock()
            if pause <= 0:
                break
            sleep(pause)
        try:
            more = receive(queue_url, wait_seconds=0)
        except s3.StorageUnavailable:
            break  # ingest what is already here; the loop's next receive retries
        if not more:
            break
        messages.extend(more)
        last = len(more)
    return messages


def _delete(queue_url: str, messages: list[QueueMessage]) -> None:
    kept = s3.queue_delete_many(queue_url, [m.receipt_handle for m in messages])
    for message in messages:
        if message.receipt_handle in kept:
            # The message comes back later; the ledger makes the repeat harmless.
            logger.warning("SQS kept message %s: %s", message.message_id, kept[message.receipt_handle])


def _extend_visibility(queue_url: str, messages: list[QueueMessage]) -> None:
    s3.queue_change_visibility(
        queue_url, [m.receipt_handle for m in messages], seconds=settings.INTAKE_SQS_VISIBILITY_SECONDS
    )


def process_batch(queue_url: str, messages: list[QueueMessage], *, clock: Callable[[], float] = time.monotonic) -> BatchResult:
    """Ingest the batch in one go (one transaction, one task, however many receives
    it came from); delete it once its events are committed and enqueued. When the
    batch fails, its messages are tried one by one, so one message that cannot be
    stored (a poison message) never holds back the good ones: those are stored and
    deleted, and it alone is kept, until SQS moves it to the dead-letter queue."""
    result = BatchResult(received=len(messages))
    started = clock()
    try:
        results = events_receive_many(bodies=[m.body for m in messages], source=EventSource.SQS)
    except Exception:
        # Database or broker trouble, or a message we cannot store.
        logger.exception(
            "SQS batch of %s failed (attempts %s)", len(messages), ",".join(str(m.receive_count) for m in messages)
        )
        close_old_connections()
        if len(messages) == 1:
            logger.warning("SQS message %s kept (attempts %s)", messages[0].message_id, messages[0].receive_count)
            result.kept = 1
            return result
        return _process_one_by_one(queue_url, messages, result)
    if clock() - started > settings.INTAKE_SQS_VISIBILITY_SECONDS / 2:
        # A slow batch: keep the messages hidden until they are deleted.
        _extend_visibility(queue_url, messages)
    for message, ingested in zip(messages, results, strict=True):
        _count(result, message, ingested)
    _delete(queue_url, messages)
    result.deleted = len(messages)
    return result


def _process_one_by_one(queue_url: str, messages: list[QueueMessage], result: BatchResult) -> BatchResult:
    """Each message in its own transaction and task. An outage fails them all (all
    kept, as before); a poison message fails alone."""
    stored: list[QueueMessage] = []
    for message in messages:
        try:
            (ingested,) = events_receive_many(bodies=[message.body], source=EventSource.SQS)
        except Exception:
            logger.exception("SQS message %s kept (attempts %s)", message.message_id, message.receive_count)
            close_old_connections()
            result.kept += 1
            continue
        _count(result, message, ingested)
        stored.append(message)
    if stored:
        _delete(queue_url, stored)
        result.deleted = len(stored)
    return result


def _count(result: BatchResult, message: QueueMessage, ingested: IngestResult) -> None:
    result.recorded += len(ingested.recorded)
    result.duplicates += ingested.duplicates
    if not ingested.usable:
        logger.warning("SQS message %s dropped: %s", message.message_id, "; ".join(ingested.skipped))
    else:
        logger.info(
            "SQS message %s: %s new, %s duplicate event(s), ledger ids %s",
            message.message_id, len(ingested.recorded), ingested.duplicates, ingested.pending,
        )
