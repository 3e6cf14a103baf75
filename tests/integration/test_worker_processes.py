"""The event pipeline as separate real processes: the emulator's S3 → SQS events,
the consumer command, Redis as the broker and a Celery worker. Redis is private
to each test so a test can stop it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.support.processes import ManagedProcess, RedisServer, celery_worker, event_consumer
from uploader import s3
from uploader.audit.models import AuditEntry
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def redis_broker() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def process_env(queue: str, redis_broker: RedisServer, tmp_path: Path) -> dict[str, str]:
    """What the worker and the consumer processes are configured with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_", "CELERY_", "REDIS_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="false",
        DATABASE_URL=_database_url(),
        CELERY_BROKER_URL=redis_broker.url,
        INTAKE_VAR_DIR=str(tmp_path),
        INTAKE_S3_ENDPOINT_URL=settings.INTAKE_S3_ENDPOINT_URL,
        INTAKE_S3_BUCKET=settings.INTAKE_S3_BUCKET,
        INTAKE_S3_ADDRESSING_STYLE="path",
        INTAKE_SQS_VISIBILITY_SECONDS="10",
        INTAKE_TEST_PAUSE_FILE=str(tmp_path / "pause"),
        INTAKE_TEST_STARTED_FILE=str(tmp_path / "started"),
    )
    return env


@pytest.fixture
def processes() -> Iterator[list[ManagedProcess]]:
    started: list[ManagedProcess] = []
    yield started
    for process in reversed(started):
        process.stop()


def _upload_without_complete(client: Client, body: bytes) -> Upload:
    signed = client.get("/api/s3/params", {"filename": "pipeline.bin", "type": "application/octet-stream", "size": len(body)}).json()
    requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).raise_for_status()
    return Upload.objects.get(pk=signed["id"])


def _wait_for_state(upload: Upload, state: str, processes: list[ManagedProcess], seconds: float = 45) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        upload.refresh_from_db()
        if upload.state == state:
            return
        time.sleep(0.25)
    logs = "\n".join(f"--- {p.args[-1]} ---\n{p.tail()}" for p in processes)
    pytest.fail(f"upload is {upload.state}, not {state}, after {seconds} s\n{logs}")


def test_upload_to_stored_row_through_consumer_redis_and_a_worker(
    staff_client: Client, queue: str, process_env: dict[str, str], processes: list[ManagedProcess], tmp_path: Path
) -> None:
    processes.append(celery_worker(process_env, tmp_path / "worker.log").start())
    processes.append(event_consumer(process_env, tmp_path / "consumer.log", queue).start())
    upload = _upload_without_complete(staff_client, os.urandom(2048))
    _wait_for_state(upload, UploadState.STORED, processes)
    assert UploadEvent.objects.get(upload=upload).outcome == EventOutcome.APPLIED
    assert AuditEntry.objects.filter(upload=upload, action="upload.stored", actor_label="s3-event").count() == 1


def test_the_worker_and_the_consumer_beat_and_readiness_sees_them(
    queue: str, process_env: dict[str, str], processes: list[ManagedProcess], tmp_path: Path
) -> None:
    """The worker's heartbeat is a beat task (so it proves beat, the broker and a
    worker); the consumer's is its polling. Both reach readiness."""
    from tests.support.processes import VENV_BIN
    from uploader.ops.models import Heartbeat

    env = {**process_env, "INTAKE_HEARTBEAT_SECONDS": "5"}
    processes.append(
        ManagedProcess(
            [str(VENV_BIN / "celery"), "-A", "config", "worker", "-B", "-l", "info", "--concurrency", "1",
             "--without-gossip", "--without-mingle", "--schedule", str(tmp_path / "beat-schedule")],
            env, tmp_path / "worker.log",
        ).start()
    )
    processes.append(event_consumer(env, tmp_path / "consumer.log", queue).start())
    consumer_name = f"consumer:{queue.rsplit('/', 1)[-1]}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if set(Heartbeat.objects.values_list("name", flat=True)) >= {"worker", consumer_name}:
            break
        time.sleep(0.5)
    logs = "\n".join(p.tail() for p in processes)
    assert set(Heartbeat.objects.values_list("name", flat=True)) >= {"worker", consumer_name}, logs
    background = Client().get("/healthz/ready").json()["background"]
    assert background == {"worker": "ok", consumer_name: "ok"}


def test_a_worker_killed_mid_task_loses_nothing(
    staff_client: Client, queue: str, process_env: dict[str, str], processes: list[ManagedProcess], tmp_path: Path
) -> None:
    pause, started = tmp_path / "pause", tmp_path / "started"
    pause.touch()
    worker = celery_worker(process_env, tmp_path / "worker.log", app="tests.support.paused_worker").start()
    processes.extend([worker, event_consumer(process_env, tmp_path / "consumer.log", queue).start()])
    upload = _upload_without_complete(staff_client, os.urandom(2048))

    deadline = time.monotonic() + 45
    while not (started.exists() and started.read_text().split()) and time.monotonic() < deadline:
        time.sleep(0.1)
    first_pid = int(started.read_text().split()[0])
    assert first_pid in worker.children(), "the task is running in a pool process"
    os.kill(first_pid, signal.SIGKILL)

    while len(started.read_text().split()) < 2 and time.monotonic() < deadline + 30:
        time.sleep(0.1)
    attempts = [int(pid) for pid in started.read_text().split()]
    assert len(attempts) == 2, worker.tail()
    assert attempts[1] != first_pid, "redelivered to a new pool process"
    pause.unlink()
    _wait_for_state(upload, UploadState.STORED, processes)
    assert AuditEntry.objects.filter(upload=upload, action="upload.stored").count() == 1
    assert "WorkerLostError" in worker.log() or "exited with 'signal 9" in worker.log()


def test_broker_down_while_consuming_loses_nothing(
    staff_client: Client, queue: str, process_env: dict[str, str], processes: list[ManagedProcess],
    redis_broker: RedisServer, tmp_path: Path,
) -> None:
    processes.append(celery_worker(process_env, tmp_path / "worker.log").start())
    consumer = event_consumer(process_env, tmp_path / "consumer.log", queue).start()
    processes.append(consumer)
    redis_broker.stop()
    upload = _upload_without_complete(staff_client, os.urandom(2048))

    deadline = time.monotonic() + 60
    while "kept (attempts 1)" not in consumer.log() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert "kept (attempts 1)" in consumer.log(), consumer.tail()
    upload.refresh_from_db()
    assert upload.state == UploadState.REGISTERED
    depth = s3.sqs_client().get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert int(depth["Attributes"]["ApproximateNumberOfMessagesNotVisible"]) == 1, "not deleted unprocessed"

    redis_broker.start_on_same_port()
    _wait_for_state(upload, UploadState.STORED, processes, seconds=60)
    assert UploadEvent.objects.filter(key=upload.key).count() == 1
