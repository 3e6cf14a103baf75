"""The Celery backlog published to CloudWatch (moto's), read from a real Redis broker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import redis
from kombu import Connection

from uploader import s3
from uploader.ops import backlog, tasks

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(redis_server: str) -> str:
    """The session's own redis-server as the broker, emptied first."""
    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture
def cloudwatch(s3_emulator, settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings.INTAKE_AWS_ENDPOINT_URL = s3_emulator.endpoint_url
    s3.reset_clients()
    yield
    s3.reset_clients()


def _enqueue(url: str, count: int) -> None:
    with Connection(url) as connection:
        queue = connection.SimpleQueue("celery")
        for number in range(count):
            queue.put({"task": "uploader.tasks.worker_heartbeat", "n": number})
        queue.close()


def _published(stack: str) -> list[float]:
    now = dt.datetime.now(dt.UTC)
    answer = s3.cloudwatch_client().get_metric_statistics(
        Namespace="Intake",
        MetricName="CeleryBacklog",
        Dimensions=[{"Name": "Stack", "Value": stack}],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in answer["Datapoints"]]


def test_the_backlog_counts_waiting_tasks(broker: str) -> None:
    assert backlog.celery_backlog(broker_url=broker) == 0  # no queue yet
    _enqueue(broker, 3)
    assert backlog.celery_backlog(broker_url=broker) == 3


def test_the_backlog_reaches_cloudwatch_under_the_stack_name(broker: str, cloudwatch: None, settings) -> None:  # type: ignore[no-untyped-def]
    _enqueue(broker, 4)
    assert backlog.publish_celery_backlog(stack="intake-test-a", broker_url=broker) == 4
    assert _published("intake-test-a") == [4.0]
    assert _published("intake-test-other") == []


def _intake_metrics() -> list[dict]:
    return s3.cloudwatch_client().list_metrics(Namespace="Intake")["Metrics"]


def test_the_task_publishes_nothing_without_a_stack_name(cloudwatch: None, settings) -> None:  # type: ignore[no-untyped-def]
    before = _intake_metrics()
    settings.INTAKE_STACK_NAME = ""
    assert tasks.publish_celery_backlog() is None
    assert _intake_metrics() == before
