"""A Celery app for worker-crash tests: the real Intake app, plus a hook that lets a
test hold a task while it runs (so it can SIGKILL the process running it).

While the file named by INTAKE_TEST_PAUSE_FILE exists, each task, once started in
its pool process, appends that process's id to INTAKE_TEST_STARTED_FILE and waits.
Production never loads this module.
"""

import os
import time
from pathlib import Path
from typing import Any

from celery.signals import task_prerun

from config.celery_app import app

__all__ = ["app"]


@task_prerun.connect
def _hold_while_paused(**kwargs: Any) -> None:
    pause = Path(os.environ["INTAKE_TEST_PAUSE_FILE"])
    started = Path(os.environ["INTAKE_TEST_STARTED_FILE"])
    with started.open("a") as out:
        out.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 60
    while pause.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
