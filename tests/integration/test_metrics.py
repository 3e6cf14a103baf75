"""`GET /metrics`: behind its token, and the figures move when things happen (an upload
through the contract and the emulator, a pending ledger row, a failed task)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from celery.signals import task_failure, task_retry
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from uploader.ingest.models import UploadEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TOKEN = "metrics-test-token-" + "t" * 24
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def token(settings) -> str:  # type: ignore[no-untyped-def]
    settings.INTAKE_METRICS_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = ""
    return TOKEN


def scrape(token: str = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_without_the_token_or_with_a_wrong_one_it_is_403(token: str) -> None:
    assert Client().get("/metrics").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    answer = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert TOKEN.encode() not in answer.content


def test_with_no_token_configured_the_endpoint_is_off(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_an_upload_moves_the_counters(token: str, api: Client) -> None:
    stored = ("intake_uploads", (("state", "stored"),))
    signed = ("intake_signing_seconds_count", (("call", "single"), ("outcome", "signed")))
    before = scrape()
    body = os.urandom(4096)
    answer = api.get(
        "/api/s3/params", {"filename": "a.bin", "type": "application/octet-stream", "metadata[size]": len(body)}
    )
    assert answer.status_code == 200
    put = requests.put(answer.json()["url"], data=body, headers=answer.json()["headers"], timeout=30)
    assert put.status_code == 200
    assert api.post(f"/api/s3/complete?key={answer.json()['key']}").status_code == 200
    after = scrape()
    assert after[stored] == before[stored] + 1
    assert after[signed] == before.get(signed, 0) + 1
    assert (
        after[("intake_uploads", (("state", "registered"),))] == before[("intake_uploads", (("state", "registered"),))]
    )
    # A refused signing call is timed under its own outcome.
    assert api.get("/api/s3/params", {"filename": "", "metadata[size]": "1"}).status_code == 400
    refused = ("intake_signing_seconds_count", (("call", "single"), ("outcome", "refused")))
    assert scrape()[refused] == after.get(refused, 0) + 1


def test_pending_ledger_rows_and_their_lag(token: str) -> None:
    assert scrape()[("intake_event_lag_seconds", ())] == 0
    row = UploadEvent.objects.create(
        source="sqs",
        dedupe_key=uuid.uuid4().hex,
        bucket="b",
        key="uploads/x",
        kind="created",
        event_name="ObjectCreated:Put",
    )
    UploadEvent.objects.filter(pk=row.pk).update(received_at=timezone.now() - dt.timedelta(minutes=5))
    found = scrape()
    assert found[("intake_event_ledger_pending", ())] == 1
    assert 300 <= found[("intake_event_lag_seconds", ())] < 400


def test_task_failures_and_retries_are_counted_per_task(token: str) -> None:
    from uploader.ops.tasks import worker_heartbeat as task

    failures = ("intake_task_failures_total", (("task", task.name),))
    retries = ("intake_task_retries_total", (("task", task.name),))
    before = scrape()
    # What Celery's tracer sends when a task raises or calls retry().
    task_failure.send(
        sender=task, task_id="t1", exception=RuntimeError("x"), args=(), kwargs={}, traceback=None, einfo=None
    )
    task_retry.send(sender=task, request=None, reason="later", einfo=None)
    task_retry.send(sender=task, request=None, reason="later", einfo=None)
    after = scrape()
    assert after[failures] == before[failures] + 1
    assert after[retries] == before[retries] + 2


def test_webhook_deliveries_and_backlogs_are_read(token: str) -> None:
    found = scrape()
    assert {("intake_webhook_deliveries", (("state", s),)) for s in ("pending", "delivered", "gave_up")} <= set(found)
    readings = {labels[0][1]: value for (name, labels), value in found.items() if name == "intake_metrics_reading_up"}
    assert readings["uploads"] == readings["ledger"] == readings["webhooks"] == readings["tasks"] == 1
    assert "celery_backlog" in readings


def test_multiprocess_mode_adds_up_every_process(token: str, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "from uploader.ops.metrics.instruments import SIGNING_SECONDS; "
        "SIGNING_SECONDS.labels(call='part', outcome='signed').observe(0.01)"
    )
    for _ in range(2):  # two "gunicorn workers"
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
            check=True,
            timeout=60,
        )
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
    found = scrape()
    assert found[("intake_signing_seconds_count", (("call", "part"), ("outcome", "signed")))] == 2
    assert ("intake_uploads", (("state", "stored"),)) in found  # read at scrape time all the same
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path / "gone")
    answer = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 503
    assert b"PROMETHEUS_MULTIPROC_DIR is not a directory" in answer.content


def test_task_counts_add_up_in_redis_across_processes(settings, redis_server: str) -> None:  # type: ignore[no-untyped-def]
    """Production's cache: counts from another process (a worker) are seen here."""
    import redis

    from uploader.ops.metrics.task_counts import count_task_event, task_counts

    url = redis_server
    redis.Redis.from_url(url).flushdb()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    code = (
        "import django; django.setup(); "
        "from uploader.ops.metrics.task_counts import count_task_event; "
        "count_task_event('failures', 'uploader.tasks.process_upload')"
    )
    env = {**os.environ, "REDIS_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    count_task_event("failures", "uploader.tasks.process_upload")
    counts = task_counts(["uploader.tasks.process_upload"])
    assert counts[("failures", "uploader.tasks.process_upload")] == 2
    assert counts[("retries", "uploader.tasks.process_upload")] == 0
    redis.Redis.from_url(url).flushdb()


def test_a_missing_multiprocess_directory_never_costs_the_answer(tmp_path: Path) -> None:
    code = (
        "import django; django.setup(); from django.http import HttpResponse; "
        "from uploader.ops.metrics.instruments import timed_signing; "
        "print(timed_signing('single')(lambda: HttpResponse('signed'))().content.decode())"
    )
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing"),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "signed"
    assert "could not record the signing time" in done.stderr
