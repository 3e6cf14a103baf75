"""Scanning one large object through the worker's path (S3 emulator → iter_object_chunks →
clamd INSTREAM) against `clamdscan --stream` of the same file from local disk.

    .venv/bin/python bench/scan.py [--size-mib 2047]

Prints both throughputs, their ratio (target ≥ 0.8) and the worker's memory growth
(peak RSS over the scan, target < 50 MB). clamd scans at most 2 GiB - 1 per file, so
the default size is 2047 MiB; a smaller --size-mib is quicker (say so with numbers).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import Stack  # noqa: E402

from tests.support.clamd import Clamd  # noqa: E402


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=2047)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="intake-bench-scan-") as tmp:
        stack = Stack(var_dir=Path(tmp))
        # No result cache: the second scan of the same bytes would otherwise be a cache hit.
        clamd = Clamd(directory=str(Path(tmp) / "clamd"), extra_config=["DisableCache yes"])
        (Path(tmp) / "clamd").mkdir()
        try:
            stack.start_emulator()
            clamd.start()
            os.environ.update(stack.env())
            os.environ["INTAKE_CLAMD_ADDRESS"] = clamd.address
            import django

            django.setup()
            from django.conf import settings

            from uploader import s3
            from uploader.scanning.scanners import ClamdScanner

            source = Path(tmp) / "object.bin"
            with source.open("wb") as out:
                block = os.urandom(1024 * 1024)
                for _ in range(args.size_mib):
                    out.write(block)
            client = s3.boto3_client()
            if not s3.bucket_exists():
                s3.create_bucket()
            key = f"{settings.INTAKE_S3_KEY_PREFIX}/bench/scan.bin"
            client.upload_file(str(source), settings.INTAKE_S3_BUCKET, key)
            etag = s3.head_object(key=key).etag

            # clamdscan --stream from local disk (warm the page cache first).
            subprocess.run(["cat", str(source)], stdout=subprocess.DEVNULL, check=True)
            started = time.monotonic()
            local = subprocess.run(
                ["clamdscan", "-c", str(clamd.config_path), "--stream", "--no-summary", str(source)],
                capture_output=True,
                text=True,
                check=False,
            )
            local_seconds = time.monotonic() - started

            scanner = ClamdScanner(clamd.address, timeout=600)
            baseline = _rss_bytes()
            peak = [baseline]
            done = threading.Event()

            def watch() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], _rss_bytes())
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            started = time.monotonic()
            verdict = scanner.scan(
                s3.iter_object_chunks(key=key, chunk_size=settings.INTAKE_SCAN_CHUNK_BYTES, if_match=etag)
            )
            worker_seconds = time.monotonic() - started
            done.set()
            watcher.join()
        finally:
            clamd.close()
            stack.close()
    mib = size / 1024 / 1024
    print(f"object: {mib:.0f} MiB; clamdscan --stream said: {local.stdout.strip()}; worker said: {verdict}")
    print(f"clamdscan --stream from disk: {local_seconds:.2f} s, {mib / local_seconds:.1f} MiB/s")
    print(f"worker (S3 emulator -> INSTREAM): {worker_seconds:.2f} s, {mib / worker_seconds:.1f} MiB/s")
    ratio = local_seconds / worker_seconds
    growth = (peak[0] - baseline) / 1_000_000
    print(f"throughput ratio worker/clamdscan: {ratio:.2f} (target >= 0.8)")
    print(
        f"worker memory growth: {growth:.1f} MB (target < 50 MB; RSS {baseline / 1e6:.1f} MB before, peak {peak[0] / 1e6:.1f} MB)"
    )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if ratio >= 0.8 and growth < 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
