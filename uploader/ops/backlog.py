"""How much work is waiting: tasks in the Celery broker's queues and messages in the
S3 events queue. Read by the metrics, by `manage.py doctor` and by the beat task that
publishes the Celery backlog to CloudWatch (workers scale on it)."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from kombu import Connection
from kombu.exceptions import ChannelError

from uploader import s3

BACKLOG_NAMESPACE = "Intake"
BACKLOG_METRIC = "CeleryBacklog"


def celery_queue_names() -> list[str]:
    """The queues workers read: the default one, and any declared in settings."""
    declared = [queue.name for queue in (current_app.conf.task_queues or [])]
    return sorted({current_app.conf.task_default_queue, *declared})


def celery_backlog(*, broker_url: str | None = None, connect_timeout: float = 3.0) -> int:
    """Tasks waiting in the broker (not those a worker has taken). A queue nobody has
    written to yet does not exist in the broker: zero waiting."""
    connection: Connection = (
        Connection(broker_url, connect_timeout=connect_timeout) if broker_url else current_app.connection_for_read()
    )
    with connection:
        connection.ensure_connection(max_retries=1, timeout=connect_timeout)
        channel = connection.default_channel
        waiting = 0
        for name in celery_queue_names():
            try:
                waiting += int(channel.queue_declare(queue=name, passive=True).message_count)
            except ChannelError:
                continue
        return waiting


def events_backlog() -> int | None:
    """Messages waiting in the S3 events queue; None when no queue is configured."""
    url = settings.INTAKE_S3_EVENTS_QUEUE_URL
    return s3.queue_depth(url) if url else None


def publish_celery_backlog(*, stack: str, broker_url: str | None = None) -> int:
    """Put the backlog into CloudWatch as Intake/CeleryBacklog (Stack=<stack>); returns it."""
    waiting = celery_backlog(broker_url=broker_url)
    s3.put_metric_value(namespace=BACKLOG_NAMESPACE, name=BACKLOG_METRIC, value=waiting, dimensions={"Stack": stack})
    return waiting
