"""The Celery application. Settings come from Django settings prefixed CELERY_."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("intake")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each domain keeps its tasks in its own tasks module.
app.autodiscover_tasks(
    [
        "uploader.ingest",
        "uploader.processing",
        "uploader.scanning",
        "uploader.notify",
        "uploader.ops",
        "uploader.retention",
        "uploader.requests",
        "uploader.bundles",
        "uploader.uploads",
    ]
)


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: object = None, **kwargs: object) -> None:
    """What Django does around each request: drop connections that are broken or
    older than CONN_MAX_AGE, keep the rest for the next task. Not for a task run
    eagerly inside a request (its connection belongs to the request, which may be
    inside a transaction)."""
    from django.db import close_old_connections

    if getattr(getattr(task, "request", None), "is_eager", False):
        return

    close_old_connections()
