"""Start and stop the local S3 emulator (moto server) bound to 127.0.0.1.

Used by `make run` (scripts/run.py) and by the test fixtures, so both get the same
emulator settings: MOTO_DISABLE_GLOBAL_CORS=1 makes it honour the bucket's CORS
rules instead of answering every origin, which is what real S3 does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the process that started it dies, so a
    killed run or test session leaves no server behind (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_process(process: subprocess.Popen[bytes] | None, *, timeout: float = 10.0) -> None:
    """SIGTERM a child we started, SIGKILL it if it has not gone after `timeout`, and
    reap it. Nothing to do for None or a process that already exited."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class S3Emulator:
    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> S3Emulator:
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} is already in use; set INTAKE_EMULATOR_PORT to a free port")
        env = {**os.environ, "MOTO_DISABLE_GLOBAL_CORS": "1"}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - kept open for the child
        self.process = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the S3 emulator exited at start (code {self.process.returncode})")
            try:
                urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1).close()  # noqa: S310 - our http URL
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the S3 emulator did not answer on {self.endpoint_url} within {timeout:.0f} s")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def __enter__(self) -> S3Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
