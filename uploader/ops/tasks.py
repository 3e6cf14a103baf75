"""The worker's heartbeat (uploader.ops.heartbeats). Its name stays in the
`uploader.tasks.` family like every task's."""

from celery import shared_task

from uploader.ops.heartbeats import WORKER, heartbeat_record


@shared_task(name="uploader.tasks.worker_heartbeat", ignore_result=True, expires=60)
def worker_heartbeat() -> None:
    """Celery beat runs this every INTAKE_HEARTBEAT_SECONDS; a heartbeat that arrives
    late is worth nothing, so a queued one expires instead of piling up."""
    heartbeat_record(name=WORKER)
