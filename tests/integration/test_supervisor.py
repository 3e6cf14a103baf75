"""`make run`'s supervisor (scripts/supervisor.py) with real processes: a process that
exits is restarted with growing backoff, one that is alive but whose heartbeat went
stale is restarted, and stopping leaves no process of a group behind. The clock is
the test's, so nothing waits for a backoff to pass."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from supervisor import BACKOFF_FIRST_SECONDS, Service, Supervisor  # noqa: E402

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def said() -> list[str]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _supervisor(said: list[str], clock: Clock, readiness_url: str = "") -> Supervisor:
    return Supervisor(cwd=ROOT, env=dict(os.environ), say=said.append, readiness_url=readiness_url, clock=clock)


def _wait_exited(service: Service) -> None:
    assert service.process is not None
    service.process.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_a_process_that_exits_is_restarted_with_growing_backoff(said: list[str], clock: Clock) -> None:
    supervisor = _supervisor(said, clock)
    try:
        service = supervisor.add(Service("crasher", [sys.executable, "-c", "raise SystemExit(3)"]))
        delays = []
        for _ in range(3):
            _wait_exited(service)
            supervisor.watch_once()
            assert service.restart_at is not None
            delays.append(service.restart_at - clock.now)
            first_pid = service.process.pid if service.process else 0
            clock.now = service.restart_at
            supervisor.watch_once()
            assert service.process is not None
            assert service.process.pid != first_pid, "started again"
        assert delays == [BACKOFF_FIRST_SECONDS, BACKOFF_FIRST_SECONDS * 2, BACKOFF_FIRST_SECONDS * 4]
        assert service.restarts == 3
        assert "crasher exited with code 3; restarting in 1 s" in said
    finally:
        supervisor.stop_all()


class _Readiness(BaseHTTPRequestHandler):
    background: dict[str, str] = {}

    def do_GET(self) -> None:
        body = json.dumps({"status": "degraded", "checks": {}, "background": self.background}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def readiness() -> Iterator[tuple[str, type[_Readiness]]]:
    handler = type("Handler", (_Readiness,), {"background": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/healthz/ready", handler
    server.shutdown()
    server.server_close()


def test_a_live_process_with_a_stale_heartbeat_is_restarted(said: list[str], clock: Clock, readiness) -> None:  # type: ignore[no-untyped-def]
    url, handler = readiness
    supervisor = _supervisor(said, clock, readiness_url=url)
    try:
        stuck = supervisor.add(Service("the Celery worker", ["sleep", "600"], heartbeat="worker"))
        fine = supervisor.add(Service("the consumer", ["sleep", "600"], heartbeat="consumer:q"))
        stuck_pid = stuck.process.pid if stuck.process else 0
        handler.background = {"worker": "stale: last seen 400 s ago", "consumer:q": "ok"}

        supervisor.watch_once()
        assert stuck.restart_at is None, "just started: the grace period protects it"

        clock.now += supervisor.stale_grace_seconds + 20
        supervisor.watch_once()
        assert stuck.restart_at is not None
        assert not _alive(stuck_pid), "the stuck process was killed"
        assert fine.restart_at is None
        assert fine.process is not None
        assert fine.process.poll() is None
        assert any("heartbeat is stale: last seen 400 s ago" in line for line in said)
    finally:
        supervisor.stop_all()


def test_stopping_leaves_nothing_of_a_group_behind(said: list[str], clock: Clock, tmp_path: Path) -> None:
    """A process that started children of its own (as a Celery worker does) and
    ignores SIGTERM: its whole group is gone after stop_all."""
    pids = tmp_path / "pids"
    script = f"trap '' TERM; sleep 600 & echo $! > {pids}; sleep 600 & echo $! >> {pids}; wait"
    supervisor = _supervisor(said, clock)
    import supervisor as supervisor_module

    supervisor_module.STOP_GRACE_SECONDS, grace = 1.0, supervisor_module.STOP_GRACE_SECONDS
    try:
        service = supervisor.add(Service("stubborn", ["bash", "-c", script]))
        deadline = time.monotonic() + 10
        while (not pids.exists() or len(pids.read_text().split()) < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        children = [int(pid) for pid in pids.read_text().split()]
        assert all(_alive(pid) for pid in children)
        supervisor.stop_all()
        assert service.process is not None
        assert service.process.poll() is not None
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in children), "no orphan left"
    finally:
        supervisor_module.STOP_GRACE_SECONDS = grace
        supervisor.stop_all()
