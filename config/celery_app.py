"""The Celery application. Settings come from Django settings prefixed CELERY_."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("intake")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**kwargs: object) -> None:
    """What Django does around each request: drop connections that are broken or
    older than CONN_MAX_AGE, keep the rest for the next task."""
    from django.db import close_old_connections

    close_old_connections()
