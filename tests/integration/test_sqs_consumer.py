"""The SQS consumer against the emulator's own S3 → SQS notifications."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from collections.abc import Iterator
from unittest import mock

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from kombu.exceptions import OperationalError

from uploader import s3
from uploader.ingest import sqs_consumer as sqs
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.uploads.models import Upload, UploadState

pytestmark = pytest.mark.integration


def _consume(queue_url: str) -> str:
    out = io.StringIO()
    call_command("consume_s3_events", "--queue-url", queue_url, "--until-empty", "--wait", "1", stdout=out)
    return out.getvalue()


def _upload_without_complete(api: Client, body: bytes = b"queued!") -> Upload:
    signed = api.get("/api/s3/params", {"filename": "queued.txt", "type": "text/plain", "size": len(body)}).json()
    requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).raise_for_status()
    return Upload.objects.get(pk=signed["id"])


def _queue_depth(queue_url: str) -> int:
    attributes = s3.sqs_client().get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_upload_event_from_sqs_marks_the_upload_stored(staff_client: Client, queue: str) -> None:
    upload = _upload_without_complete(staff_client)
    out = _consume(queue)
    assert "1 new event(s)" in out
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    event = UploadEvent.objects.get(upload=upload)
    assert (event.source, event.outcome) == ("sqs", EventOutcome.APPLIED)
    assert _queue_depth(queue) == 0, "deleted once its effect was committed"


def test_the_same_message_delivered_again_has_no_second_effect(staff_client: Client, queue: str) -> None:
    upload = _upload_without_complete(staff_client)
    # Peek at S3's message (visible again at once) and deliver three more copies.
    body = s3.sqs_client().receive_message(QueueUrl=queue, WaitTimeSeconds=2, VisibilityTimeout=0)["Messages"][0]["Body"]
    for _ in range(3):
        s3.sqs_client().send_message(QueueUrl=queue, MessageBody=body)
    out = _consume(queue)
    assert "4 received, 1 new event(s), 3 duplicate(s), 4 deleted" in out
    assert UploadEvent.objects.filter(key=upload.key).count() == 1
    assert _queue_depth(queue) == 0


def test_unusable_messages_are_dropped_with_a_reason(queue: str, caplog) -> None:  # type: ignore[no-untyped-def]
    for body in ("{not json", json.dumps({"Records": "nope"}), "x" * 300_000):
        s3.sqs_client().send_message(QueueUrl=queue, MessageBody=body[:262_000])
    _consume(queue)
    assert _queue_depth(queue) == 0
    assert UploadEvent.objects.count() == 0
    assert "dropped" in caplog.text


def test_a_failing_message_is_kept_for_retry_and_the_dead_letter_queue(staff_client: Client, queue: str) -> None:
    _upload_without_complete(staff_client)
    with mock.patch("uploader.ingest.sqs_consumer.events_receive_many", side_effect=RuntimeError("database down")):
        out = _consume(queue)
    assert "0 deleted, 1 kept for retry" in out
    time.sleep(1.5)  # the visibility timeout passes
    assert _queue_depth(queue) == 1


def test_a_poison_message_is_kept_alone_and_its_batch_is_stored(staff_client: Client, queue: str) -> None:
    """Five good events and one message whose storing fails (a bug we do not know of
    yet, stood in for by the ledger refusing that one body): the five are stored,
    applied and deleted on the first receive; only the poison waits for the
    dead-letter queue."""
    uploads = [_upload_without_complete(staff_client, body=f"file {n}".encode()) for n in range(5)]
    poison = json.dumps({"Records": [{"poison": True}]})
    s3.sqs_client().send_message(QueueUrl=queue, MessageBody=poison)
    real = sqs.events_receive_many

    def refuse_the_poison(*, bodies: list[str | bytes], source: str):  # type: ignore[no-untyped-def]
        if poison in bodies:
            raise RuntimeError("cannot store this message")
        return real(bodies=bodies, source=source)

    deadline = time.monotonic() + 20
    while _queue_depth(queue) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)  # the emulator's notifications arrive
    with mock.patch("uploader.ingest.sqs_consumer.events_receive_many", side_effect=refuse_the_poison):
        out = io.StringIO()
        call_command(
            "consume_s3_events", "--queue-url", queue, "--until-empty", "--wait", "1", "--gather", "50", stdout=out
        )
    assert "6 received, 5 new event(s), 0 duplicate(s), 5 deleted, 1 kept for retry" in out.getvalue()
    for upload in uploads:
        upload.refresh_from_db()
        assert upload.state == UploadState.STORED
    time.sleep(1.5)  # the visibility timeout passes
    assert _queue_depth(queue) == 1, "only the poison is left"


def test_broker_down_keeps_the_message_and_the_retry_applies_it(staff_client: Client, queue: str) -> None:
    upload = _upload_without_complete(staff_client)
    with mock.patch("uploader.ingest.tasks.apply_object_events.delay", side_effect=OperationalError("broker down")):
        out = _consume(queue)
    assert "1 kept for retry" in out
    event = UploadEvent.objects.get(key=upload.key)
    assert event.outcome == EventOutcome.PENDING, "recorded, but not applied: nothing was enqueued"
    upload.refresh_from_db()
    assert upload.state == UploadState.REGISTERED

    time.sleep(1.5)  # the message becomes visible again
    out = _consume(queue)
    assert "1 duplicate(s)" in out
    event.refresh_from_db()
    upload.refresh_from_db()
    assert (event.outcome, upload.state) == (EventOutcome.APPLIED, UploadState.STORED)
    assert _queue_depth(queue) == 0


def test_a_slow_batch_keeps_its_messages_hidden(staff_client: Client, queue: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_SQS_VISIBILITY_SECONDS = 30
    _upload_without_complete(staff_client)
    messages = sqs.receive(queue, wait_seconds=2)
    assert len(messages) == 1
    client = s3.sqs_client()
    ticks = iter([0.0, 20.0])  # the batch took 20 s of its 30 s
    with mock.patch.object(client, "change_message_visibility_batch", wraps=client.change_message_visibility_batch) as extend:
        result = sqs.process_batch(queue, messages, clock=lambda: next(ticks))
    assert result.deleted == 1
    (call,) = extend.call_args_list
    assert call.kwargs["Entries"][0]["VisibilityTimeout"] == 30


def test_sigterm_stops_the_consumer_after_its_batch(queue: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.conf import settings as django_settings

    from tests.support.processes import VENV_BIN, ManagedProcess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        INTAKE_VAR_DIR=str(tmp_path),
        INTAKE_S3_ENDPOINT_URL=django_settings.INTAKE_S3_ENDPOINT_URL,
        INTAKE_S3_BUCKET=django_settings.INTAKE_S3_BUCKET,
    )
    consumer = ManagedProcess(
        [str(VENV_BIN / "python"), "manage.py", "consume_s3_events", "--queue-url", queue, "--wait", "1"], env, tmp_path / "c.log"
    ).start()
    deadline = time.monotonic() + 30
    while "consuming S3 events" not in consumer.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert consumer.process is not None
    consumer.process.send_signal(signal.SIGTERM)
    assert consumer.process.wait(timeout=15) == 0
    assert "stopped: 0 received" in consumer.log()


def test_a_full_queue_is_ingested_in_gathered_batches_and_every_message_deleted(staff_client: Client, queue: str) -> None:
    """While receives come back full, several are ingested together (one transaction,
    one task); deletes still go to SQS in batches of at most 10."""
    upload = _upload_without_complete(staff_client)
    body = s3.sqs_client().receive_message(QueueUrl=queue, WaitTimeSeconds=2, VisibilityTimeout=0)["Messages"][0]["Body"]
    for start in range(0, 24, 8):
        s3.sqs_client().send_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": body} for i in range(start, start + 8)]
        )
    client = s3.sqs_client()
    with (
        mock.patch("uploader.ingest.sqs_consumer.events_receive_many", wraps=sqs.events_receive_many) as ingest,
        mock.patch.object(client, "delete_message_batch", wraps=client.delete_message_batch) as delete,
    ):
        out = _consume(queue)
    assert "25 received, 1 new event(s), 24 duplicate(s), 25 deleted" in out
    assert max(len(call.kwargs["bodies"]) for call in ingest.call_args_list) > sqs.MAX_BATCH
    assert all(len(call.kwargs["Entries"]) <= sqs.MAX_BATCH for call in delete.call_args_list)
    assert _queue_depth(queue) == 0
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert UploadEvent.objects.filter(key=upload.key).count() == 1


def test_after_a_partial_receive_the_consumer_lingers_once_then_takes_what_arrived() -> None:
    def batch(n: int) -> list[sqs.QueueMessage]:
        return [sqs.QueueMessage(message_id=str(i), receipt_handle=str(i), body="{}", receive_count=1) for i in range(n)]

    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    answers = iter([batch(3), batch(10), batch(4), batch(10)])
    with mock.patch("uploader.ingest.sqs_consumer.receive", side_effect=lambda *a, **k: next(answers)) as receive:
        messages = sqs.receive_gathered("q", wait_seconds=20, up_to=50, linger_seconds=0.05, clock=lambda: now[0], sleep=sleep)
    assert len(messages) == 17, "3, then (after lingering) a full 10, then a partial 4 past the deadline ends it"
    assert pauses == [0.05]
    assert [call.kwargs["wait_seconds"] for call in receive.call_args_list] == [20, 0, 0]

    quiet = iter([batch(1), []])
    with mock.patch("uploader.ingest.sqs_consumer.receive", side_effect=lambda *a, **k: next(quiet)):
        assert len(sqs.receive_gathered("q", wait_seconds=20, linger_seconds=0.05, clock=lambda: now[0], sleep=sleep)) == 1
    empty: Iterator[list[sqs.QueueMessage]] = iter([[]])
    with mock.patch("uploader.ingest.sqs_consumer.receive", side_effect=lambda *a, **k: next(empty)) as receive:
        assert sqs.receive_gathered("q", wait_seconds=20, clock=lambda: now[0], sleep=sleep) == []
    assert receive.call_count == 1, "an empty long poll is not followed by another receive"


def test_an_eventbridge_rule_feeding_the_queue_works_like_a_notification(staff_client: Client, queue: str) -> None:
    """EventBridge → SQS delivers its own envelope; the same object's S3 notification
    in the same queue is a duplicate of it, not a second event."""
    upload = _upload_without_complete(staff_client)
    notification = s3.sqs_client().receive_message(QueueUrl=queue, WaitTimeSeconds=2, VisibilityTimeout=0)["Messages"][0]
    record = json.loads(notification["Body"])["Records"][0]
    eventbridge = {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": record["eventTime"],
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{record['s3']['bucket']['name']}"],
        "detail": {
            "version": "0",
            "bucket": {"name": record["s3"]["bucket"]["name"]},
            # As the notification says it (the emulator sends no sequencer; AWS does).
            "object": {
                "key": upload.key,
                "size": record["s3"]["object"]["size"],
                "etag": record["s3"]["object"]["eTag"],
                **({"sequencer": record["s3"]["object"]["sequencer"]} if "sequencer" in record["s3"]["object"] else {}),
            },
            "reason": "PutObject",
        },
    }
    s3.sqs_client().send_message(QueueUrl=queue, MessageBody=json.dumps(eventbridge))
    out = _consume(queue)
    assert "2 received, 1 new event(s), 1 duplicate(s), 2 deleted" in out
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert UploadEvent.objects.filter(key=upload.key).count() == 1
