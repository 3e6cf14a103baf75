"""The dead-letter queue on the emulator's SQS (real HTTP): set-up, a message that keeps
failing, the events page for each role, replay, discard, and stuck ledger rows."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from dataclasses import dataclass
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone
from kombu.exceptions import OperationalError

from tests.integration.test_sqs_consumer import _consume, _queue_depth, _upload_without_complete
from tests.support.people import signed_in as _client
from uploader import s3
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.ingest import sqs_consumer as sqs
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.ops.bucket_setup import bucket_configure, event_queue_configure
from uploader.uploads.models import UploadState

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class Queues:
    url: str
    dlq_url: str


@pytest.fixture
def queues(s3_bucket: str, settings, transactional_db) -> Queues:  # type: ignore[no-untyped-def]
    """The bucket's events go to a fresh queue whose dead-letter queue takes a message
    after two failed receives; the app is configured with the event queue only (the
    dead-letter queue is found through its RedrivePolicy)."""
    settings.INTAKE_SQS_VISIBILITY_SECONDS = 1
    name = f"events-{uuid.uuid4().hex[:10]}"
    arn, _ = event_queue_configure(name=name, max_receives=2)
    bucket_configure(create=False, origins=["http://127.0.0.1:8000"], queue_arn=arn, abort_after_days=2)
    url = sqs.queue_url_for(name)
    s3.sqs_client().purge_queue(QueueUrl=url)  # the configuration's s3:TestEvent
    settings.INTAKE_S3_EVENTS_QUEUE_URL = url
    settings.INTAKE_S3_EVENTS_DLQ_URL = ""
    return Queues(url=url, dlq_url=sqs.queue_url_for(f"{name}-dlq"))



def _fail_until_dead_lettered(queues: Queues) -> None:
    """Run the consumer with ingestion failing until SQS has moved the message away."""
    with mock.patch("uploader.ingest.sqs_consumer.events_receive_many", side_effect=RuntimeError("database down")):
        for _ in range(8):
            _consume(queues.url)
            if _queue_depth(queues.dlq_url) == 1:
                break
            time.sleep(1.2)  # the 1 s visibility timeout passes
    assert _queue_depth(queues.dlq_url) == 1
    assert _queue_depth(queues.url) == 0


def _audit(action: str) -> list[dict[str, object]]:
    return [entry.detail for entry in AuditEntry.objects.filter(action=action).order_by("pk")]


def test_a_message_that_keeps_failing_is_shown_and_its_replay_is_applied(queues: Queues) -> None:
    admin = _client(Role.ADMIN)
    upload = _upload_without_complete(admin)
    _fail_until_dead_lettered(queues)

    page = admin.get("/events/")
    assert page.status_code == 200
    html = page.content.decode()
    assert upload.key in html
    assert "ObjectCreated:Put" in html
    [letter] = page.context["listing"].messages
    assert letter.receive_count >= 2
    assert letter.summary.keys == [upload.key]
    assert _queue_depth(queues.dlq_url) == 1, "listing leaves the message in the queue"
    assert admin.get("/events/").context["listing"].messages[0].message_id == letter.message_id, "and visible"

    answer = admin.post("/events/", {"action": "replay", "message_id": letter.message_id})
    assert answer.status_code == 302
    assert _queue_depth(queues.dlq_url) == 0
    assert _queue_depth(queues.url) == 1
    [replayed] = _audit("events.dlq_replayed")
    assert (replayed["message_id"], replayed["key"], replayed["removed_from_dlq"]) == (letter.message_id, upload.key, True)

    assert "1 new event(s)" in _consume(queues.url)
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert UploadEvent.objects.get(key=upload.key).outcome == EventOutcome.APPLIED
    assert _queue_depth(queues.url) == 0
    assert "The dead-letter queue is empty." in admin.get("/events/").content.decode()


def test_replay_all_and_a_vanished_message(queues: Queues) -> None:
    admin = _client(Role.ADMIN)
    for n in range(3):
        s3.sqs_client().send_message(QueueUrl=queues.dlq_url, MessageBody=json.dumps({"n": n}))
    admin.post("/events/", {"action": "replay_all"})
    assert _queue_depth(queues.dlq_url) == 0
    assert _queue_depth(queues.url) == 3
    assert len(_audit("events.dlq_replayed")) == 3

    answer = admin.post("/events/", {"action": "replay", "message_id": "no-such-message"}, follow=True)
    assert "Not in the dead-letter queue any more: no-such-message" in answer.content.decode()
    assert len(_audit("events.dlq_replayed")) == 3


def test_a_hostile_message_is_shown_escaped_and_discarded_only_when_confirmed(queues: Queues) -> None:
    admin = _client(Role.ADMIN)
    body = '<script>alert(1)</script>\x1b[2J' + "z" * 5000
    message_id = s3.sqs_client().send_message(QueueUrl=queues.dlq_url, MessageBody=body)["MessageId"]

    html = admin.get("/events/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J" in html
    assert "message is not valid JSON" in html
    assert "z" * 5000 not in html

    unconfirmed = admin.post("/events/", {"action": "discard", "message_id": message_id}, follow=True)
    assert "Tick the confirmation" in unconfirmed.content.decode()
    assert _queue_depth(queues.dlq_url) == 1
    assert _audit("events.dlq_discarded") == []

    admin.post("/events/", {"action": "discard", "message_id": message_id, "confirm": "yes"})
    assert _queue_depth(queues.dlq_url) == 0
    [discarded] = _audit("events.dlq_discarded")
    assert (discarded["message_id"], discarded["key"]) == (message_id, "")
    assert _queue_depth(queues.url) == 0, "nothing was sent anywhere"


@pytest.mark.parametrize("role", [Role.STAFF, Role.VIEWER])
def test_staff_and_viewers_may_not_open_or_use_the_page(queues: Queues, role: Role) -> None:
    client = _client(role)
    message_id = s3.sqs_client().send_message(QueueUrl=queues.dlq_url, MessageBody="{}")["MessageId"]
    assert client.get("/events/").status_code == 403
    assert client.post("/events/", {"action": "discard", "message_id": message_id, "confirm": "yes"}).status_code == 403
    assert client.post("/events/", {"action": "replay_all"}).status_code == 403
    assert _queue_depth(queues.dlq_url) == 1
    assert 'href="/events/"' not in client.get("/").content.decode()
    assert 'href="/events/"' in _client(Role.ADMIN).get("/").content.decode()


@pytest.mark.django_db
def test_the_page_says_so_when_no_queue_is_configured(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_EVENTS_QUEUE_URL = ""
    settings.INTAKE_S3_EVENTS_DLQ_URL = ""
    page = _client(Role.ADMIN).get("/events/")
    assert page.status_code == 200
    assert "No SQS event queue is configured" in page.content.decode()
    answer = _client(Role.ADMIN).post("/events/", {"action": "replay_all"}, follow=True)
    assert "No SQS event queue is configured" in answer.content.decode()


@pytest.mark.django_db
def test_the_page_says_so_when_sqs_cannot_be_reached(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_SQS_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.INTAKE_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    settings.INTAKE_S3_EVENTS_QUEUE_URL = "http://127.0.0.1:9/123456789012/events"
    s3.reset_clients()
    try:
        page = _client(Role.ADMIN).get("/events/")
    finally:
        s3.reset_clients()
    assert page.status_code == 200
    assert "SQS cannot be reached" in page.content.decode()


def test_a_queue_without_a_dead_letter_queue_is_explained(s3_bucket: str, settings, transactional_db) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_EVENTS_QUEUE_URL = s3.queue_create(f"plain-{uuid.uuid4().hex[:8]}")
    html = _client(Role.ADMIN).get("/events/").content.decode()
    assert "no dead-letter queue (no RedrivePolicy)" in html


def test_the_dead_letter_url_setting_wins_over_the_redrive_policy(queues: Queues, settings) -> None:  # type: ignore[no-untyped-def]
    other = s3.queue_create(f"other-{uuid.uuid4().hex[:8]}")
    s3.sqs_client().send_message(QueueUrl=other, MessageBody="{}")
    settings.INTAKE_S3_EVENTS_DLQ_URL = other
    listing = _client(Role.ADMIN).get("/events/").context["listing"]
    assert listing.dead_letter_url == other
    assert len(listing.messages) == 1


def test_a_stuck_ledger_row_is_shown_and_retried(queues: Queues) -> None:
    admin = _client(Role.ADMIN)
    upload = _upload_without_complete(admin)
    with mock.patch("uploader.ingest.tasks.apply_object_events.delay", side_effect=OperationalError("broker down")):
        _consume(queues.url)
    event = UploadEvent.objects.get(key=upload.key)
    assert event.outcome == EventOutcome.PENDING
    assert f'data-event-id="{event.pk}"' not in admin.get("/events/").content.decode(), "not stuck yet"

    UploadEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - dt.timedelta(hours=1))
    assert f'data-event-id="{event.pk}"' in admin.get("/events/").content.decode()
    assert _client(Role.STAFF).post("/events/", {"action": "retry", "event_id": event.pk}).status_code == 403
    event.refresh_from_db()
    assert event.outcome == EventOutcome.PENDING

    admin.post("/events/", {"action": "retry", "event_id": event.pk})
    event.refresh_from_db()
    upload.refresh_from_db()
    assert (event.outcome, upload.state) == (EventOutcome.APPLIED, UploadState.STORED)
    [retried] = _audit("events.ledger_retried")
    assert retried["event_ids"] == [event.pk]
    assert "No stuck events." in admin.get("/events/").content.decode()


def _setup(*args: str) -> str:
    out = io.StringIO()
    call_command("setup_bucket", *args, stdout=out)
    return out.getvalue()


def test_setup_creates_the_dead_letter_queue_idempotently(s3_bucket: str, settings) -> None:  # type: ignore[no-untyped-def]
    name = f"events-{uuid.uuid4().hex[:8]}"
    first = _setup("--origin", "http://127.0.0.1:8000", "--create-queue", name)
    assert f"changed  queue: created {name}" in first
    assert f"changed  dead-letter queue: created {name}-dlq" in first
    assert "changed  redrive: messages received 5 times" in first
    url, dlq_url = sqs.queue_url_for(name), sqs.queue_url_for(f"{name}-dlq")
    assert s3.queue_redrive_policy(url) == {"deadLetterTargetArn": s3.queue_arn(dlq_url), "maxReceiveCount": 5}

    second = _setup("--origin", "http://127.0.0.1:8000", "--create-queue", name)
    assert "changed  " not in second
    assert "nothing changed" in second

    settings.INTAKE_SQS_MAX_RECEIVES = 3
    third = _setup("--origin", "http://127.0.0.1:8000", "--create-queue", name)
    assert [line.strip() for line in third.splitlines() if "changed  " in line] == [
        f"changed  redrive: messages received 3 times without success move to {name}-dlq"
    ]
    assert s3.queue_redrive_policy(url) == {"deadLetterTargetArn": s3.queue_arn(dlq_url), "maxReceiveCount": 3}
