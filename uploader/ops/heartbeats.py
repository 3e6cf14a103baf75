"""Heartbeats of the background processes: recorded by the processes themselves,
read by the readiness probe and by `make run`'s supervisor.

A web process cannot see a worker that is alive but stuck (a killed pool child can
leave the others waiting on a lock), nor a consumer that stopped polling; what it can
see is when each last did its work. The worker's heartbeat is a beat-scheduled task,
so it proves beat, the broker and a worker together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from uploader.ops.models import Heartbeat

WORKER = "worker"
CONSUMER_PREFIX = "consumer:"


def consumer_heartbeat_name(queue: str) -> str:
    return f"{CONSUMER_PREFIX}{queue[:80]}"


def heartbeat_record(*, name: str, now: dt.datetime | None = None) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": now or timezone.now()})


@dataclass(frozen=True)
class BackgroundHealth:
    """`checks`: one line per process, "ok" or why not; `healthy`: all are ok."""

    checks: dict[str, str]

    @property
    def healthy(self) -> bool:
        return all(value == "ok" for value in self.checks.values())


def background_health(*, now: dt.datetime | None = None) -> BackgroundHealth:
    """Every process that ever beat, and the worker even if it never did: stale after
    INTAKE_HEARTBEAT_STALE_SECONDS."""
    now = now or timezone.now()
    limit = dt.timedelta(seconds=settings.INTAKE_HEARTBEAT_STALE_SECONDS)
    seen = dict(Heartbeat.objects.values_list("name", "seen_at"))
    checks: dict[str, str] = {}
    for name in sorted({WORKER, *seen}):
        when = seen.get(name)
        if when is None:
            checks[name] = "never seen"
        elif now - when > limit:
            checks[name] = f"stale: last seen {int((now - when).total_seconds())} s ago"
        else:
            checks[name] = "ok"
    return BackgroundHealth(checks=checks)
