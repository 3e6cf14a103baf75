"""A task for tests that run a real Celery worker: it records which process ran it.

A test's worker loads it with `-I tests.support.worker_probe`; production never
imports it.
"""

import os
import time
from pathlib import Path

from config.celery_app import app


@app.task(name="tests.worker_probe.record_pid")
def record_pid(path: str, seconds: float = 0.0) -> None:
    """Wait `seconds`, then write the running process's id to `path` (whole: written
    aside, then renamed, so a reader never sees half of it)."""
    time.sleep(seconds)
    partial = Path(f"{path}.partial")
    partial.write_text(str(os.getpid()))
    partial.rename(path)
