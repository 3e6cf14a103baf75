"""'Download all' as one zip, through the worker's path (uploader.bundles.build: S3
emulator → zipfile → multipart upload), against copying the same objects with boto3:
its managed copy (server-side, no bytes through this process) and a streamed copy
(get_object → upload_fileobj, the bytes through this process as the zip's are).

    BENCH_DATABASE=<db> .venv/bin/python bench/bundle.py [--files 20] [--total-mib 1024]

Prints both throughputs, their ratio and the worker's memory growth (peak RSS over the
build; target < 64 MB whatever the total). The emulator keeps objects in memory and
runs on the same machine, so absolute figures say more about it than about S3.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import Stack, ensure_database, prepare_app, step  # noqa: E402


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--total-mib", type=int, default=1024)
    parser.add_argument("--profile", action="store_true", help="print where the build's time went (cProfile)")
    args = parser.parse_args()
    each = args.total_mib * 1024 * 1024 // args.files
    with tempfile.TemporaryDirectory(prefix="intake-bench-bundle-") as tmp:
        stack = Stack(var_dir=Path(tmp))
        try:
            stack.start_emulator()
            ensure_database()
            env = stack.env()
            prepare_app(env)
            os.environ.update(env)
            import django

            django.setup()
            from django.conf import settings
            from django.contrib.auth import get_user_model
            from django.utils import timezone

            from uploader import s3
            from uploader.access.accounts import user_set_role
            from uploader.access.principals import signed_in_principal
            from uploader.access.roles import Role
            from uploader.bundles import build, services
            from uploader.portals.services import portal_create
            from uploader.uploads.models import ScanState, Upload, UploadState

            user = get_user_model().objects.get(username="bench-staff")
            user_set_role(user=user, role=Role.ADMIN, source="bench")
            portal = portal_create(actor=None, name=f"Bench {uuid.uuid4().hex[:6]}")
            client = s3.boto3_client()
            source = Path(tmp) / "object.bin"
            block = os.urandom(1024 * 1024)
            with source.open("wb") as out:
                for _ in range(each // len(block)):
                    out.write(block)
                out.write(block[: each % len(block)])
            step(f"putting {args.files} objects of {each / 2**20:.0f} MiB")
            keys = []
            for number in range(args.files):
                key = f"{settings.INTAKE_S3_KEY_PREFIX}/bench/bundle-{number}.bin"
                client.upload_file(str(source), settings.INTAKE_S3_BUCKET, key)
                head = s3.head_object(key=key)
                Upload.objects.create(
                    owner=user, original_filename=f"file {number}.bin", key=key, declared_size=head.size,
                    declared_content_type="application/octet-stream", state=UploadState.STORED,
                    stored_size=head.size, etag=head.etag, scan_state=ScanState.NOT_SCANNED,
                    stored_at=timezone.now(), portal=portal,
                )  # fmt: skip
                keys.append(key)
            source.unlink()

            step("copying them with boto3's managed copy")
            started = time.monotonic()
            for key in keys:
                client.copy({"Bucket": settings.INTAKE_S3_BUCKET, "Key": key}, settings.INTAKE_S3_BUCKET, f"copy/{key}")
            copy_seconds = time.monotonic() - started

            # The same bytes through this process, as the zip's path goes: boto3 reads each
            # object and its transfer manager uploads it (multipart, its own threads).
            step("streaming them through this process with boto3 (get_object -> upload_fileobj)")
            started = time.monotonic()
            for key in keys:
                body = client.get_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key)["Body"]
                client.upload_fileobj(body, settings.INTAKE_S3_BUCKET, f"through/{key}")
            through_seconds = time.monotonic() - started

            bundle = services.bundle_for_portal(principal=signed_in_principal(user), portal=portal)
            step("building the zip in this process, as the worker does")
            baseline = _rss_bytes()
            peak = [baseline]
            done = threading.Event()

            def watch() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], _rss_bytes())
                    time.sleep(0.05)

            # How long completing the multipart upload takes: the emulator concatenates
            # every part into one object there, S3 does not.
            completing = [0.0]
            close = s3.MultipartWriter.close

            def timed_close(self: s3.MultipartWriter) -> None:
                began = time.monotonic()
                close(self)
                completing[0] += time.monotonic() - began

            s3.MultipartWriter.close = timed_close  # type: ignore[method-assign]
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            started = time.monotonic()
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                built = profiler.runcall(build.bundle_build, bundle.pk)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            else:
                built = build.bundle_build(bundle.pk)
            zip_seconds = time.monotonic() - started
            done.set()
            watcher.join()
            if built is None or built.state != "ready":
                raise SystemExit(f"the zip was not made: {built and built.error}")
            zip_size = s3.head_object(key=built.key).size
        finally:
            stack.close()
    mib = args.files * each / 2**20
    growth = (peak[0] - baseline) / 1_000_000
    print(
        f"{args.files} files, {mib:.0f} MiB; zip {zip_size / 2**20:.0f} MiB in parts of {settings.INTAKE_BUNDLE_PART_BYTES / 2**20:.0f} MiB"
    )
    print(f"boto3 managed copy of the same objects: {copy_seconds:.2f} s, {mib / copy_seconds:.1f} MiB/s")
    print(
        f"boto3 get_object -> upload_fileobj of the same objects: {through_seconds:.2f} s, {mib / through_seconds:.1f} MiB/s"
    )
    print(f"zip (S3 -> zipfile -> multipart upload): {zip_seconds:.2f} s, {mib / zip_seconds:.1f} MiB/s")
    print(f"  of which the last part and completing the upload: {completing[0]:.2f} s")
    print(
        f"throughput ratio zip/managed copy: {copy_seconds / zip_seconds:.2f}; zip/streamed copy: {through_seconds / zip_seconds:.2f}"
    )
    print(
        f"worker memory growth: {growth:.1f} MB (target < 64 MB; RSS {baseline / 1e6:.1f} MB before, peak {peak[0] / 1e6:.1f} MB)"
    )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if growth < 64 else 1


if __name__ == "__main__":
    raise SystemExit(main())
