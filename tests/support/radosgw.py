"""A throwaway Ceph RADOS Gateway (strict S3) for tests.

Why: permissive S3 fakes accept requests real S3 rejects (bad SigV4
signatures, expired or mismatched presigned URLs, POST policy violations,
CORS).  radosgw enforces these, so tests against it catch such bugs.

This is a thin wrapper around ``scripts/radosgw.sh``, which does the real
work (bootstrap a one-mon, one-memstore-OSD cluster plus radosgw bound to
127.0.0.1).  Only the standard library is used so the helper can be imported
before any project dependency is installed.

    with RadosGateway() as rgw:
        s3 = boto3.client("s3", endpoint_url=rgw.endpoint_url,
                          aws_access_key_id=rgw.access_key,
                          aws_secret_access_key=rgw.secret_key,
                          region_name=rgw.region)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "radosgw.sh"


class RadosGatewayError(RuntimeError):
    """The script failed; the message carries its stderr (including log tails)."""


class RadosGateway:
    """Start/stop one private radosgw cluster in its own temporary directory.

    ``region`` is what clients must sign SigV4 requests with.  The gateway's
    ``default`` zonegroup accepts any region string in the credential scope,
    so "us-east-1" (boto3's default) works without extra configuration.
    """

    region = "us-east-1"

    def __init__(self, memstore_bytes: int | None = None, timeout: float = 180):
        # memstore keeps every object in RAM, so size it to the test data.
        self.memstore_bytes = memstore_bytes
        self.timeout = timeout
        self.directory: str | None = None
        self.port: int | None = None
        self.endpoint_url: str | None = None
        self.access_key: str | None = None
        self.secret_key: str | None = None

    def _run(self, *args: str, timeout: float) -> str:
        env = dict(os.environ)
        if self.memstore_bytes:
            env["RGW_MEMSTORE_BYTES"] = str(self.memstore_bytes)
        try:
            proc = subprocess.run(
                ["bash", str(SCRIPT), *args],
                capture_output=True, text=True, timeout=timeout, env=env,
            )
        except subprocess.TimeoutExpired as exc:
            raise RadosGatewayError(f"radosgw.sh {' '.join(args)} timed out after {timeout}s") from exc
        if proc.returncode != 0:
            raise RadosGatewayError(
                f"radosgw.sh {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
            )
        return proc.stdout

    @staticmethod
    def _free_port() -> int:
        # Racy by nature (the port is released before radosgw binds it), but a
        # collision makes start() fail loudly rather than silently misbehave.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def install(self) -> None:
        """Install the Debian packages if missing (needs root; no-op otherwise)."""
        self._run("install", timeout=900)

    def start(self) -> RadosGateway:
        """Bootstrap a fresh cluster (~15-20 s) and fill in the connection details."""
        if self.directory:
            raise RadosGatewayError("already started")
        self.directory = tempfile.mkdtemp(prefix="intake-rgw-")
        self.port = self._free_port()
        try:
            out = self._run("start", self.directory, str(self.port), timeout=self.timeout)
            fields = dict(kv.split("=", 1) for kv in out.strip().splitlines()[-1].split())
            self.endpoint_url = fields["endpoint"]
            self.access_key = fields["access_key"]
            self.secret_key = fields["secret_key"]
        except Exception:
            self.stop()  # never leave half-started daemons behind
            raise
        return self

    def stop(self) -> None:
        """Terminate all daemons, wait for them, remove the directory. Idempotent."""
        if not self.directory:
            return
        directory, self.directory = self.directory, None
        self.endpoint_url = self.access_key = self.secret_key = None
        # On failure the script keeps the directory (pid files, logs) and says why.
        self._run("stop", directory, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)  # normally already gone

    def __enter__(self) -> RadosGateway:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
