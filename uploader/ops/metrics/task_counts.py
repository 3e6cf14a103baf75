"""Celery task failures and retries, counted in the shared cache.

They happen in worker processes, which Prometheus does not scrape (and which, on a
container platform, share no PROMETHEUS_MULTIPROC_DIR with the web processes); the
cache is Redis in production, shared by every process, so any web process's
`/metrics` serves the counts of all workers. Connected once at start-up (uploader.apps);
with the local-memory cache (no REDIS_URL) each process counts only its own."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_failure, task_retry
from django.core.cache import cache

logger = logging.getLogger(__name__)

KINDS = ("failures", "retries")
PREFIX = "intake:metrics:tasks"


def _key(kind: str, task_name: str) -> str:
    return f"{PREFIX}:{kind}:{task_name}"


def count_task_event(kind: str, task_name: str) -> None:
    key = _key(kind, task_name)
    try:
        # add() is a no-op when the key exists; incr() is atomic on Redis.
        cache.add(key, 0, timeout=None)
        cache.incr(key)
    except Exception:  # counting must never turn into the task's own failure
        logger.warning("could not count task %s for %s", kind, task_name, exc_info=True)


def task_counts(task_names: list[str]) -> dict[tuple[str, str], int]:
    """(kind, task name) → count, for the given tasks; absent counts are zero."""
    keys = {_key(kind, name): (kind, name) for kind in KINDS for name in task_names}
    found = cache.get_many(list(keys))
    return {pair: int(found.get(key) or 0) for key, pair in keys.items()}


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or sender or "unknown")


@task_failure.connect(dispatch_uid="intake-count-task-failures")
def _on_failure(sender: Any = None, **kwargs: Any) -> None:
    count_task_event("failures", _task_name(sender))


@task_retry.connect(dispatch_uid="intake-count-task-retries")
def _on_retry(sender: Any = None, **kwargs: Any) -> None:
    count_task_event("retries", _task_name(sender))
