"""A busy worker still beats: the heartbeat never waits behind a backlog of tasks.

Readiness and `make run`'s supervisor judge the worker by its last heartbeat
(uploader.ops.heartbeats). When the heartbeat shared the default queue, an event
storm of a few minutes' work queued ahead of it; the heartbeat expired unrun, the
worker looked dead while it worked, and the supervisor restarted it and beat (the
soak, docs/benchmarks.md). Here a real worker, started as `make run` starts it (no
-Q: every queue the settings name), gets a backlog on the default queue and then a
heartbeat sent the way beat sends it; the heartbeat must be recorded while most of
the backlog still waits. On make run's filesystem broker and on Redis (a private
server, so no other test's queues are touched).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ROOT, VENV_BIN, ManagedProcess, RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKLOG = 240
TASK_SECONDS = 0.05

SEND = """
import sys
import django
django.setup()
from config.celery_app import app
out, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
for i in range(count):
    app.send_task("tests.worker_probe.record_pid", args=[f"{out}/backlog-{i}", seconds])
app.send_task("uploader.tasks.worker_heartbeat")
"""


@pytest.fixture(params=["filesystem", "redis"])
def broker_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "INTAKE_", "CELERY_", "REDIS_", "DATABASE_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", DJANGO_DEBUG="false", INTAKE_VAR_DIR=str(tmp_path))
    for folder in ("queue", "processed"):  # as scripts/run.py makes them
        (tmp_path / "broker" / folder).mkdir(parents=True)
    if request.param == "filesystem":
        yield env
        return
    redis = RedisServer().start()
    try:
        yield {**env, "REDIS_URL": redis.url}
    finally:
        redis.stop()


def _heartbeat_seen(database: Path) -> bool:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM uploader_heartbeat WHERE name = 'worker'").fetchone()[0] == 1


def test_the_heartbeat_runs_before_a_backlog_on_the_default_queue(broker_env: dict[str, str], tmp_path: Path) -> None:
    python = str(VENV_BIN / "python")
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=broker_env, check=True, timeout=180)
    database = tmp_path / "intake.sqlite3"
    assert database.exists(), f"local settings keep their SQLite database elsewhere: {sorted(tmp_path.iterdir())}"
    out = tmp_path / "done"
    out.mkdir()
    # scripts/run.py's worker command line, plus the probe task.
    worker = ManagedProcess(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "config",
            "worker",
            "-l",
            "info",
            "--concurrency",
            "2",
            "-I",
            "tests.support.worker_probe",
        ],
        broker_env,
        tmp_path / "worker.log",
    )
    # The backlog and then the heartbeat are queued before the worker starts, so the
    # worker meets all of them queued (a sender slower than the worker, on a loaded
    # machine, would otherwise let it work through the backlog as it arrives).
    subprocess.run(
        [python, "-c", SEND, str(out), str(BACKLOG), str(TASK_SECONDS)],
        cwd=ROOT,
        env=broker_env,
        check=True,
        timeout=120,
    )
    try:
        worker.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _heartbeat_seen(database):
            assert worker.process is not None
            assert worker.process.poll() is None, worker.tail()
            time.sleep(0.05)
        done_when_seen = len(list(out.iterdir()))
        assert _heartbeat_seen(database), f"no heartbeat within 120 s\n{worker.tail()}"
        assert done_when_seen < BACKLOG // 2, (
            f"the heartbeat was recorded only after {done_when_seen} of the {BACKLOG} tasks queued before it ran"
        )
    finally:
        worker.stop()
