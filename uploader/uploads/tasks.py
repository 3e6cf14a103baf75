"""Celery tasks of the uploads package. Names stay in the `uploader.tasks.` family."""

from __future__ import annotations

from celery import shared_task

from uploader.uploads import search_table


@shared_task(name="uploader.tasks.ensure_search_partitions", ignore_result=True, acks_late=True)
def ensure_search_partitions() -> list[str]:
    """Celery beat, daily: the search table's partitions for this quarter and the next
    QUARTERS_AHEAD (uploader.uploads.search_table), so its rows never wait in the
    default partition. Idempotent; returns the partitions made."""
    return search_table.ensure_partitions()
