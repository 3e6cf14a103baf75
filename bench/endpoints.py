"""The S3 servers a benchmark runs against, each started by the benchmark and stopped when
it leaves: the emulator (moto_server, scripts/emulator.py) and a Ceph RADOS Gateway
(scripts/radosgw.sh through tests/support/radosgw.py, as the strict-S3 tests start it:
one memstore OSD, so every stored byte is held in RAM and the gateway is sized for the run)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import harness
from tests.support.radosgw import RadosGateway


@dataclass
class Endpoint:
    name: str
    url: str
    access_key: str
    secret_key: str
    pids: Callable[[], list[int]]
    # Frees what deleted objects still hold (Ceph keeps their data until its garbage collection).
    reclaim: Callable[[], None] = lambda: None


@contextlib.contextmanager
def emulator(var_dir: Path) -> Iterator[Endpoint]:
    server = harness.S3Emulator(log_path=var_dir / "emulator.log").start()
    try:
        yield Endpoint(
            "emulator",
            server.endpoint_url,
            harness.ACCESS_KEY,
            harness.SECRET_KEY,
            pids=lambda: [server.process.pid] if server.process else [],
        )
    finally:
        server.stop()


@contextlib.contextmanager
def ceph(memstore_bytes: int) -> Iterator[Endpoint]:
    gateway = RadosGateway(memstore_bytes=memstore_bytes)
    try:
        gateway.start()
        directory = Path(gateway.directory or "/nonexistent")

        def daemons() -> list[int]:
            # The daemons detach from us; their pid files say who they are.
            return [int(text) for p in (directory / "run").glob("*.pid") if (text := p.read_text().strip()).isdigit()]

        def collect_garbage() -> None:
            # rgw frees a deleted object's data hours later; the OSD holds it in RAM until then.
            subprocess.run(
                [
                    "radosgw-admin",
                    "-c",
                    str(directory / "ceph.conf"),
                    "-n",
                    "client.admin",
                    "gc",
                    "process",
                    "--include-all",
                ],
                capture_output=True,
                timeout=300,
                check=True,
            )

        url, access_key, secret_key = gateway.endpoint_url, gateway.access_key, gateway.secret_key
        if not (url and access_key and secret_key):
            raise RuntimeError("the gateway started without an endpoint or credentials")
        yield Endpoint("ceph", url, access_key, secret_key, daemons, collect_garbage)
    finally:
        gateway.stop()
