"""A private clamd (Debian's clamav-daemon) for tests, `make run` and the benchmark.

No signature database can be downloaded here, so this clamd loads one signature of
its own: the EICAR test file's MD5 as a custom `.hdb` signature (`md5:size:name`),
which is what the tests upload to prove detection. Everything is private to a
temporary directory: the configuration, the database directory, the log and the unix
socket; TCP, when asked for, is bound to 127.0.0.1 on a free port. Only the standard
library is used, so scripts/run.py can import it before Django is set up.

    with Clamd() as clamd:
        settings.INTAKE_CLAMD_ADDRESS = clamd.address
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# The EICAR anti-virus test file: harmless, detected by every scanner (by our own
# signature here). Kept in two halves so this source file is not itself "infected"
# in the eyes of a scanner that looks at the repository.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE_NAME = "Intake.Test.EICAR"
# clamd reports custom signatures with this suffix.
FOUND_NAME = f"{SIGNATURE_NAME}.UNOFFICIAL"
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
MAX_STREAM = "4000M"  # clamd scans at most 2 GiB - 1 per file whatever this says


def eicar_signature() -> str:
    return f"{hashlib.md5(EICAR, usedforsecurity=False).hexdigest()}:{len(EICAR)}:{SIGNATURE_NAME}\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClamdError(RuntimeError):
    pass


class Clamd:
    """Start one clamd in its own directory; `address` is its unix socket
    (`unix:///…`), `tcp_address` its TCP one when `tcp=True`."""

    def __init__(
        self,
        *,
        tcp: bool = False,
        directory: str | None = None,
        timeout: float = 60,
        extra_config: list[str] | None = None,
    ) -> None:
        self.tcp = tcp
        self.extra_config = list(extra_config or [])
        self.timeout = timeout
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="intake-clamd-"))
        self.socket_path = self.directory / "clamd.sock"
        self.port = _free_port() if tcp else None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def tcp_address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "clamd.conf"

    def _write_config(self) -> None:
        database = self.directory / "db"
        database.mkdir(exist_ok=True)
        (database / "intake-test.hdb").write_text(eicar_signature())
        lines = [
            "Foreground yes",
            f"DatabaseDirectory {database}",
            f"LocalSocket {self.socket_path}",
            f"LogFile {self.directory / 'clamd.log'}",
            f"PidFile {self.directory / 'clamd.pid'}",
            f"StreamMaxLength {MAX_STREAM}",
            f"MaxScanSize {MAX_STREAM}",
            f"MaxFileSize {MAX_STREAM}",
            "AlertEncrypted yes",
            "MaxThreads 4",
        ]
        if self.tcp:
            lines += [f"TCPSocket {self.port}", "TCPAddr 127.0.0.1"]
        lines += self.extra_config
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self) -> Clamd:
        if not Path(CLAMD).exists():
            raise ClamdError("clamd is not installed: run scripts/ensure_system_packages.sh (Debian's clamav-daemon)")
        self._write_config()
        log = (self.directory / "stdout.log").open("wb")
        self.process = subprocess.Popen(
            [CLAMD, "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ClamdError(f"clamd exited: {(self.directory / 'stdout.log').read_text()[-2000:]}")
            if self.ping():
                return self
            time.sleep(0.1)
        self.stop()
        raise ClamdError("clamd did not answer PING in time")

    def ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(str(self.socket_path))
                sock.sendall(b"zPING\0")
                return sock.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop clamd (the directory stays, so `start` can bring it back)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.socket_path.unlink(missing_ok=True)

    def close(self) -> None:
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Clamd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
