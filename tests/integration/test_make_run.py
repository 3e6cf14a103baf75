"""`make run` itself (scripts/run.py) as a user runs it: it comes up ready, a killed
worker or beat comes back, and stopping it leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _children(parent: int) -> dict[int, str]:
    """pid -> command line of the processes whose parent is `parent`."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and "State:\tZ" not in (entry / "status").read_text():
            found[int(entry.name)] = cmdline
    return found


def _with_var_dir(var_dir: Path) -> list[int]:
    """Every live process started with this INTAKE_VAR_DIR (ours and its children)."""
    marker = f"INTAKE_VAR_DIR={var_dir}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    status = (entry / "status").read_text()
                    if "State:\tZ" not in status:
                        pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _one(children: dict[int, str], *needles: str) -> int:
    matches = [pid for pid, cmd in children.items() if all(needle in cmd for needle in needles)]
    assert len(matches) == 1, (needles, children)
    return matches[0]


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_", "CELERY_"))}
    env.update(PORT=str(port), INTAKE_EMULATOR_PORT=str(free_port()), INTAKE_VAR_DIR=str(tmp_path))
    log = open(tmp_path / "make-run.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "scripts/run.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process, port, tmp_path
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for pid in _with_var_dir(tmp_path):
            os.kill(pid, signal.SIGKILL)
        log.close()


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 120) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/ready", timeout=5) as answer:
                return json.loads(answer.read())
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"make run was not ready after {seconds} s:\n{log.read_text()[-3000:]}")


def _wait_for(condition, seconds: float, what: str, log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"{what} within {seconds} s:\n{log.read_text()[-3000:]}")


def test_make_run_restarts_what_dies_and_leaves_nothing_behind(make_run) -> None:  # type: ignore[no-untyped-def]
    process, port, var_dir = make_run
    log = var_dir / "make-run.log"
    answer = _wait_ready(port, process, log)
    assert answer["checks"] == {"database": "ok", "cache": "ok", "storage": "ok"}

    children = _children(process.pid)
    worker = _one(children, "celery", "worker")
    beat = _one(children, "celery", "beat")
    _one(children, "consume_s3_events")
    web = _one(children, "gunicorn", "--config")
    # Django knows the queue the consumer reads, so the events page does not say that no
    # queue is configured while one is consumed.
    environ = dict(
        item.split("=", 1) for item in Path(f"/proc/{web}/environ").read_text().split("\0") if "=" in item
    )
    assert environ.get("INTAKE_S3_EVENTS_QUEUE_URL", "").endswith("/intake-events"), environ.get("INTAKE_S3_EVENTS_QUEUE_URL")

    os.kill(worker, signal.SIGKILL)
    new_worker = _wait_for(
        lambda: [pid for pid, cmd in _children(process.pid).items() if "worker" in cmd and pid != worker],
        30, "a new worker", log,
    )
    assert len(new_worker) == 1
    os.kill(beat, signal.SIGKILL)
    _wait_for(
        lambda: [pid for pid, cmd in _children(process.pid).items() if " beat " in cmd and pid != beat],
        30, "a new beat", log,
    )
    text = log.read_text()
    assert "the Celery worker exited with code -9; restarting in 1 s" in text
    assert "Celery beat exited with code -9; restarting in 1 s" in text

    # The restarted worker runs tasks: the beat-scheduled heartbeat arrives.
    _wait_for(
        lambda: _wait_ready(port, process, log)["background"].get("worker") == "ok", 90, "the worker's heartbeat", log
    )

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=40) == 0
    _wait_for(lambda: not _with_var_dir(var_dir), 10, "every process gone", log)
