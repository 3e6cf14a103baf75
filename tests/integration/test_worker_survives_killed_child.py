"""A Celery pool process killed with SIGKILL (the OOM killer, an operator) must not
stop the worker: tasks enqueued afterwards still run, within seconds.

The worker is started the way `make run` starts it (scripts/run.py: `--concurrency 2`;
beat runs as a process of its own) with the project's settings (config.settings.local),
on the filesystem broker of `make run` and on Redis, the production broker (REDIS_URL:
CI sets it). The process killed is the pool process that waits for the next task.
With billiard's blocking pool (what a prefork worker gets on a transport without an
event loop, such as the filesystem one) that process holds the lock of the task pipe
all pool processes share while it waits; killed, it leaves the lock taken, and every
other pool process and its replacement wait on it for good (docs/operations.md,
"A killed worker process").
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.support.processes import VENV_BIN, ManagedProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROBE = "tests.worker_probe.record_pid"
# How long the tasks sent after the kill may take: they take about a second.
RUN_WITHIN = 30.0


def _worker_env(tmp_path: Path, redis_url: str | None) -> dict[str, str]:
    """`make run`'s environment: local settings, state in a private folder (so the
    filesystem broker's folders are this test's), Redis only when given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "INTAKE_", "CELERY_", "REDIS_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="false",
        INTAKE_VAR_DIR=str(tmp_path),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def _broker_settings(env: dict[str, str]) -> tuple[str, dict[str, object]]:
    """The broker URL and transport options the worker gets from the settings."""
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    url, options = json.loads(out.stdout.strip().splitlines()[-1])
    return url, options


def _all_children(pid: int) -> list[int]:
    """Child processes of `pid`, whichever of its threads started them (billiard's
    supervisor thread starts the replacements)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _waits_on_a_pipe(pid: int) -> bool:
    try:
        return "pipe" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


class Probe:
    """Sends probe tasks to the worker's queue and waits for what they record."""

    def __init__(self, broker_url: str, options: dict[str, object], queue: str, out: Path) -> None:
        self.app = Celery("worker-probe", broker=broker_url, set_as_current=False)
        self.app.conf.broker_transport_options = options
        self.queue, self.out = queue, out

    def send(self, label: str, count: int, seconds: float = 0.0) -> list[Path]:
        paths = [self.out / f"{label}-{i}" for i in range(count)]
        for path in paths:
            self.app.send_task(PROBE, args=[str(path), seconds], queue=self.queue)
        return paths

    @staticmethod
    def wait(paths: list[Path], seconds: float) -> set[int] | None:
        """The ids of the processes that ran them, or None if some did not run in time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if all(path.exists() for path in paths):
                return {int(path.read_text()) for path in paths}
            time.sleep(0.2)
        return None


def _idle_pool_child(worker_pid: int, ran_in: set[int]) -> int | None:
    """The pool process waiting for the next task, or None when the pool runs tasks in
    the worker process itself (no pool process to lose)."""
    if ran_in == {worker_pid}:
        return None
    assert worker_pid not in ran_in, f"tasks ran both in the worker process and in pool processes: {ran_in}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = [pid for pid in _all_children(worker_pid) if _waits_on_a_pipe(pid)]
        if waiting:
            return waiting[0]
        time.sleep(0.2)
    states = {pid: Path(f"/proc/{pid}/wchan").read_text() for pid in _all_children(worker_pid)}
    pytest.fail(f"no pool process waits for a task (kernel wait channels of the worker's children: {states})")


def _stop(worker: ManagedProcess) -> None:
    """Warm shutdown, then SIGKILL to the whole process group (pool processes, beat)
    while the worker's own id still holds the group (it is reaped only after)."""
    process = worker.process
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline
            and os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        ):
            time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    worker.process = None


@pytest.fixture(params=["filesystem", "redis"])
def redis_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the filesystem broker; REDIS_URL for Redis (its keys for the test's
    queue and worker are removed after)."""
    if request.param == "filesystem":
        yield None
        return
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis case runs in CI's first pass (.ci/run sets REDIS_URL)")
    yield url


def test_tasks_run_after_a_pool_process_is_killed(redis_url: str | None, tmp_path: Path) -> None:
    env = _worker_env(tmp_path, redis_url)
    for folder in ("queue", "processed"):  # as scripts/run.py makes them
        (tmp_path / "broker" / folder).mkdir(parents=True)
    out = tmp_path / "done"
    out.mkdir()
    broker_url, options = _broker_settings(env)
    assert broker_url == (redis_url or "filesystem://")
    queue = f"worker-probe-{uuid.uuid4().hex[:10]}"
    probe = Probe(broker_url, options, queue, out)
    # scripts/run.py's worker command line, plus the probe task, a queue and a node name of its own.
    run_py = ["-A", "config", "worker", "-l", "info", "--concurrency", "2"]
    own = ["-I", "tests.support.worker_probe", "-Q", queue, "-n", f"{queue}@%h"]
    worker = ManagedProcess([str(VENV_BIN / "celery"), *run_py, *own], env, tmp_path / "worker.log")
    try:
        worker.start()
        assert worker.process is not None
        # Two tasks of a second each: the pool is up and its processes have taken work.
        ran_in = Probe.wait(probe.send("warm-up", 2, seconds=1.0), 60)
        assert ran_in is not None, f"the worker ran nothing within 60 s of starting\n{worker.tail()}"
        victim = _idle_pool_child(worker.process.pid, ran_in)
        if victim is not None:
            os.kill(victim, signal.SIGKILL)
        killed = (
            f"pool process {victim} was SIGKILLed before"
            if victim
            else "no pool process to kill (tasks run in the worker)"
        )

        after = probe.send("after-kill", 4)
        ran_after = Probe.wait(after, RUN_WITHIN)
        done = sum(path.exists() for path in after)
        assert ran_after is not None, (
            f"{done} of {len(after)} tasks ran within {RUN_WITHIN:.0f} s; {killed}\n{worker.tail()}"
        )
        assert victim not in ran_after
        assert worker.process.poll() is None, worker.tail()
    finally:
        _stop(worker)
        probe.app.close()
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
            for key in client.scan_iter(match="_kombu.binding.*pidbox"):
                for member in client.smembers(key):
                    if queue.encode() in member:
                        client.srem(key, member)
            client.close()
