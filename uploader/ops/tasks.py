"""The worker's heartbeat (uploader.ops.heartbeats) and the published Celery backlog
(uploader.ops.backlog). Names stay in the `uploader.tasks.` family like every task's."""

from celery import shared_task
from django.conf import settings

from uploader.ops import backlog
from uploader.ops.heartbeats import WORKER, heartbeat_record


@shared_task(name="uploader.tasks.worker_heartbeat", ignore_result=True, expires=60)
def worker_heartbeat() -> None:
    """Celery beat runs this every INTAKE_HEARTBEAT_SECONDS; a heartbeat that arrives
    late is worth nothing, so a queued one expires instead of piling up."""
    heartbeat_record(name=WORKER)


@shared_task(name="uploader.tasks.publish_celery_backlog", ignore_result=True, expires=60)
def publish_celery_backlog() -> int | None:
    """Beat runs this every INTAKE_BACKLOG_METRIC_SECONDS when INTAKE_STACK_NAME is set:
    the template scales workers on the metric. A late run's figure is stale, so it expires."""
    if not settings.INTAKE_STACK_NAME:
        return None
    return backlog.publish_celery_backlog(stack=settings.INTAKE_STACK_NAME)
