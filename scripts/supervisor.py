"""Keep `make run`'s processes running: restart a process that exits, with backoff,
restart one that is alive but stuck (its heartbeat in the readiness answer went
stale), and leave nothing behind when stopping.

Each process runs in a process group of its own, and it is the group that is signalled
and killed: a Celery worker's pool children or a runserver's reloader must go with
their parent, never linger as orphans.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
# A process that ran this long since its last start counts as healthy again: its next
# crash restarts it after the first backoff step, not the longest.
HEALTHY_AFTER_SECONDS = 30.0
STOP_GRACE_SECONDS = 15.0


@dataclass
class Service:
    name: str
    command: list[str]
    log_path: Path | None = None
    # The readiness answer's "background" entry that shows this process works
    # (uploader.ops.heartbeats): "worker", "consumer:<queue>"; empty: none.
    heartbeat: str = ""
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    failures: int = 0
    restarts: int = 0


class Supervisor:
    def __init__(
        self,
        *,
        cwd: Path,
        env: dict[str, str],
        say: Callable[[str], None],
        readiness_url: str = "",
        stale_grace_seconds: float = 180.0,
        preexec_fn: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cwd, self.env, self.say = cwd, env, say
        self.readiness_url = readiness_url
        self.stale_grace_seconds = stale_grace_seconds
        self.preexec_fn = preexec_fn
        self.clock = clock
        self.services: list[Service] = []
        self._next_health_check = 0.0

    # --- starting and stopping ------------------------------------------------------

    def add(self, service: Service) -> Service:
        self.services.append(service)
        self._start(service)
        return service

    def _start(self, service: Service) -> None:
        log = open(service.log_path, "ab") if service.log_path else None  # noqa: SIM115 - kept open while it runs
        service.process = subprocess.Popen(
            service.command,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,  # its own process group: signalled and killed whole
            preexec_fn=self.preexec_fn,
        )
        if log is not None:
            log.close()  # the child has its own copy
        service.started_at = self.clock()
        service.restart_at = None

    def stop_all(self) -> None:
        """SIGTERM every group, wait, then SIGKILL what is left, and reap."""
        for service in reversed(self.services):
            _signal_group(service.process, signal.SIGTERM)
        deadline = self.clock() + STOP_GRACE_SECONDS
        for service in reversed(self.services):
            process = service.process
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.1, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                self.say(f"{service.name} did not stop in {STOP_GRACE_SECONDS:.0f} s; killing it")
            _signal_group(process, signal.SIGKILL)  # whatever of its group is still there
            process.wait()

    # --- watching ----------------------------------------------------------------------

    def watch_once(self) -> None:
        """One round: restart what exited (when its backoff is over), and now and then
        ask readiness whether a live process is stuck."""
        now = self.clock()
        for service in self.services:
            process = service.process
            if service.restart_at is not None:
                if now >= service.restart_at:
                    service.restarts += 1
                    self.say(f"restarting {service.name} (restart {service.restarts})")
                    self._start(service)
                continue
            if process is not None and process.poll() is not None:
                self._schedule_restart(service, f"exited with code {process.returncode}")
        if self.readiness_url and now >= self._next_health_check:
            self._next_health_check = now + 15.0
            self._restart_stuck()

    def _schedule_restart(self, service: Service, why: str) -> None:
        _signal_group(service.process, signal.SIGKILL)  # orphans of the dead process, if any
        if service.process is not None:
            service.process.wait()
        ran = self.clock() - service.started_at
        service.failures = 1 if ran >= HEALTHY_AFTER_SECONDS else service.failures + 1
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (service.failures - 1))
        service.restart_at = self.clock() + delay
        log = f" (log: {service.log_path})" if service.log_path else ""
        self.say(f"{service.name} {why}; restarting in {delay:.0f} s{log}")

    def _restart_stuck(self) -> None:
        background = _background(self.readiness_url)
        for service in self.services:
            state = background.get(service.heartbeat, "") if service.heartbeat else ""
            alive = service.process is not None and service.process.poll() is None and service.restart_at is None
            settled = self.clock() - service.started_at > self.stale_grace_seconds
            if alive and settled and state.startswith("stale"):
                self._schedule_restart(service, f"is running but its heartbeat is {state}")


def _signal_group(process: subprocess.Popen[bytes] | None, signum: int) -> None:
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(process.pid, signum)


def _background(url: str) -> dict[str, str]:
    """The readiness answer's heartbeats; nothing when the web process is not up."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own 127.0.0.1 URL
            document = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        document = json.loads(error.read() or b"{}")
    except (OSError, ValueError):
        return {}
    background = document.get("background") if isinstance(document, dict) else None
    return background if isinstance(background, dict) else {}
