"""Where the time of a signing call goes: each step timed alone, in one process.

    .venv/bin/python bench/profile_signing.py [--cprofile]

Runs Django in this process (same settings as the benchmark: PostgreSQL, Redis,
the emulator) and times each step of `GET /api/s3/params` and of a 100-part batch
call by itself, through Django's test client and the app's own functions: wall
and CPU time per call, median of 5 loops. `--cprofile` adds the profiles of both
whole calls. This is the evidence behind docs/benchmarks.md's notes.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.harness import Stack, step

LOOPS = 5
CALLS = 300


def timed(label: str, call: Callable[[], object], calls: int = CALLS) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(LOOPS):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            call()
        walls.append((time.perf_counter() - wall) * 1000 / calls)
        cpus.append((time.process_time() - cpu) * 1000 / calls)
    wall_ms, cpu_ms = statistics.median(walls), statistics.median(cpus)
    print(f"  {label:<58} {wall_ms:7.3f} ms wall  {cpu_ms:7.3f} ms CPU", flush=True)
    return wall_ms, cpu_ms


def profile(stack: Stack, *, with_cprofile: bool) -> None:
    os.environ.update(stack.env())
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.db import connection
    from django.http import JsonResponse
    from django.test import Client

    from uploader import s3
    from uploader.access.principals import person_principal
    from uploader.access.roles import permissions_of
    from uploader.s3 import presign
    from uploader.uploads import selectors, services
    from uploader.uploads.limits import UploadLimits
    from uploader.uploads.models import Upload

    user = get_user_model().objects.get(username=harness.USERNAME)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    session_key = client.session.session_key
    sign_url = "/api/s3/params?filename=bench.bin&type=application%2Foctet-stream&size=1048576"
    created = client.post(
        "/api/s3/multipart",
        data={"filename": "batch.bin", "type": "application/octet-stream", "size": 800 * 1024**2},
        content_type="application/json",
    ).json()
    numbers = ",".join(str(n) for n in range(1, 101))
    batch_url = f"/api/s3/multipart/{created['uploadId']}/batch?key={created['key']}&partNumbers={numbers}"
    for url in (sign_url, batch_url, "/healthz/live"):
        for _ in range(30):
            answer = client.get(url)
            assert answer.status_code == 200, answer.content[:300]

    def register(*, validate_unique: bool) -> Callable[[], Any]:
        def call() -> Any:
            upload_id = uuid.uuid4()
            upload = Upload(
                id=upload_id,
                owner=user,
                scope="staff",
                original_filename="bench.bin",
                key=f"uploads/staff/profile/{upload_id}/bench.bin",
                declared_size=1,
                declared_content_type="application/octet-stream",
            )
            upload.full_clean(exclude=["owner"], validate_unique=validate_unique)
            return upload

        return call

    def insert(*, synchronous: bool) -> Callable[[], None]:
        build = register(validate_unique=False)

        def call() -> None:
            upload = build()
            if synchronous:
                upload.save(force_insert=True)
                return
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO OFF")
            upload.save(force_insert=True)
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO ON")

        return call

    key = "uploads/staff/2026/11/0c21601d-aee7-4016-8d55-b98e54d94768/bench.bin"
    step("single-upload signing (GET /api/s3/params), step by step")
    timed("whole call, Django test client: GET /healthz/live", lambda: client.get("/healthz/live"))
    timed("whole call, Django test client: GET /api/s3/params", lambda: client.get(sign_url))
    timed("session load from Redis (cached_db)", lambda: SessionStore(session_key).load())
    timed("user lookup (SELECT auth_user)", lambda: get_user_model().objects.get(pk=user.pk))
    timed(
        "role lookup (SELECT auth_group names)",
        lambda: permissions_of(get_user_model().objects.get(pk=user.pk)),
    )
    timed("Upload() + full_clean, unique checks on (2 SELECTs)", register(validate_unique=True))
    timed("Upload() + full_clean(validate_unique=False)", register(validate_unique=False))
    timed("INSERT, synchronous_commit=on", insert(synchronous=True))
    timed("INSERT, synchronous_commit=off (+2 SET statements)", insert(synchronous=False))
    timed(
        "presign PUT, uploader.s3.signing",
        lambda: s3.presign_put_object(
            key=key, content_type="application/octet-stream", content_length=1 << 20, expires_in=900
        ),
    )
    timed(
        "presign PUT, botocore generate_presigned_url",
        lambda: presign._presign_with_botocore(
            "put_object", {"Key": key, "ContentType": "application/octet-stream", "ContentLength": 1 << 20}, 900
        ),
    )
    timed("UploadLimits.from_settings()", UploadLimits.from_settings)

    step("batch signing (100 part URLs), step by step")
    upload_id = str(created["uploadId"])
    upload = Upload.objects.get(multipart_upload_id=upload_id)
    principal = person_principal(user, permissions_of(user))
    parts = list(range(1, 101))
    timed("whole call, Django test client: GET .../batch (100 parts)", lambda: client.get(batch_url), calls=100)
    timed(
        "upload lookup (selectors.upload_get_multipart)",
        lambda: selectors.upload_get_multipart(principal=principal, upload_id=upload_id, key=created["key"]),
    )
    timed(
        "services.upload_sign_parts (state checks + signing)",
        lambda: services.upload_sign_parts(upload=upload, part_numbers=parts),
    )
    timed(
        "100 URLs, uploader.s3.signing presign_parts (via s3.presign_upload_parts)",
        lambda: s3.presign_upload_parts(key=key, upload_id=upload_id, part_numbers=parts, expires_in=900),
    )
    timed(
        "100 URLs, uploader.s3.signing presign (one by one)",
        lambda: [
            presign._signer().presign(
                credentials=presign._credentials(),
                method="PUT",
                key=key,
                expires_in=900,
                now=presign._utcnow(),
                operation_params=[("uploadId", upload_id), ("partNumber", str(n))],
            )
            for n in parts
        ],
        calls=60,
    )
    timed(
        "100 URLs, botocore generate_presigned_url",
        lambda: [
            presign._presign_with_botocore("upload_part", {"Key": key, "UploadId": upload_id, "PartNumber": n}, 900)
            for n in parts
        ],
        calls=20,
    )
    urls = s3.presign_upload_parts(key=key, upload_id=upload_id, part_numbers=parts, expires_in=900)
    timed(
        "JSON answer (JsonResponse of the 100 URLs)",
        lambda: JsonResponse({"presignedUrls": {str(n): url for n, url in urls.items()}, "expires": 900}),
    )
    timed("credentials + clock (presign._credentials(), presign._utcnow())", lambda: (presign._credentials(), presign._utcnow()))
    # Under gunicorn every request starts with close_old_connections, so the first
    # query of a request pays CONN_HEALTH_CHECKS' `SELECT 1`; the test client skips it.
    timed("connection health check (SELECT 1, once per request under gunicorn)", connection.is_usable)

    if with_cprofile:
        for label, url in (("signing", sign_url), ("100-part batch", batch_url)):
            step(f"cProfile of {CALLS} {label} calls (internal time, then cumulative)")
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(CALLS):
                client.get(url)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(20)
            stats.sort_stats("cumulative").print_stats(r"uploader|auth|sessions|db/models|json", 30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cprofile", action="store_true", help="also print a cProfile of the signing call")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="intake-profile-") as tmp:
        stack = Stack(var_dir=Path(tmp))
        try:
            harness.ensure_database()
            step("starting the S3 emulator, preparing the database and bucket")
            stack.start_emulator()
            stack.password = harness.prepare_app(stack.env())
            profile(stack, with_cprofile=args.cprofile)
        finally:
            stack.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
