"""Signs of life of the background processes, for readiness and `make run`."""

from django.db import models


class Heartbeat(models.Model):
    """When a background process last showed that it works end to end: the worker
    (a beat-scheduled task ran, so beat, the broker and a worker all work) and each
    event consumer (it polled its queue)."""

    name = models.CharField(max_length=100, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
