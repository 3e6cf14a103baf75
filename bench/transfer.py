"""Uploading a file the way the browser does (through our contract) and the way boto3 does.

The contract upload is what Uppy's AwsS3 plugin does: create the multipart upload,
sign every part in one batch call, PUT the parts straight to S3 from a pool of
threads, then complete. Only those three API calls touch the web process; the bytes
go to S3. boto3's `upload_file` is the reference: the same part size and
concurrency, to the same endpoint, with a client configured like the app's.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MIB = 1024**2


def write_random_file(path: Path, size: int) -> None:
    """A file of incompressible bytes (what users upload, mostly)."""
    chunk = os.urandom(8 * MIB)
    with open(path, "wb") as out:
        remaining = size
        while remaining > 0:
            out.write(chunk[: min(len(chunk), remaining)])
            remaining -= len(chunk)


def write_sparse_file(path: Path, size: int) -> None:
    """A file that takes no disk space: reading it yields zeros."""
    with open(path, "wb") as out:
        out.truncate(size)


@dataclass(frozen=True)
class UploadTiming:
    seconds: float
    size: int
    key: str

    @property
    def mib_per_second(self) -> float:
        return self.size / MIB / self.seconds


def _read_part(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as source:
        source.seek(offset)
        return source.read(length)


def contract_upload(
    session: requests.Session, base_url: str, path: Path, *, part_size: int, concurrency: int
) -> UploadTiming:
    """create → batch-sign → PUT parts in parallel → complete, timed end to end."""
    size = path.stat().st_size
    count = (size + part_size - 1) // part_size
    local = threading.local()

    def put_part(number: int, url: str) -> dict[str, Any]:
        s3 = getattr(local, "session", None)
        if s3 is None:
            s3 = local.session = requests.Session()
        offset = (number - 1) * part_size
        body = _read_part(path, offset, min(part_size, size - offset))
        answer = s3.put(url, data=body, timeout=120)
        answer.raise_for_status()
        return {"PartNumber": number, "ETag": answer.headers["ETag"]}

    started = time.perf_counter()
    created = session.post(
        f"{base_url}/api/s3/multipart",
        json={"filename": path.name, "type": "application/octet-stream", "size": size, "partSize": part_size},
        timeout=60,
    )
    created.raise_for_status()
    key, upload_id = created.json()["key"], created.json()["uploadId"]
    numbers = list(range(1, count + 1))
    urls: dict[str, str] = {}
    for first in range(0, count, 500):  # INTAKE_MAX_PARTS_PER_BATCH
        batch = numbers[first : first + 500]
        signed = session.get(
            f"{base_url}/api/s3/multipart/{upload_id}/batch",
            params={"key": key, "partNumbers": ",".join(map(str, batch))},
            timeout=60,
        )
        signed.raise_for_status()
        urls.update(signed.json()["presignedUrls"])
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        parts = list(pool.map(lambda n: put_part(n, urls[str(n)]), numbers))
    completed = session.post(
        f"{base_url}/api/s3/multipart/{upload_id}/complete", params={"key": key}, json={"parts": parts}, timeout=300
    )
    completed.raise_for_status()
    seconds = time.perf_counter() - started
    if completed.json()["upload"]["storedSize"] != size:
        raise RuntimeError(f"the contract upload stored {completed.json()['upload']['storedSize']} bytes, not {size}")
    return UploadTiming(seconds=seconds, size=size, key=key)


def s3_client(endpoint_url: str, access_key: str, secret_key: str, *, max_pool: int = 10) -> Any:
    """A boto3 client configured like the app's (uploader.s3._client)."""
    return boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name="us-east-1"
    ).client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=max_pool,
            read_timeout=300,
        ),
    )


def boto3_upload(client: Any, bucket: str, path: Path, key: str, *, part_size: int, concurrency: int) -> UploadTiming:
    config = TransferConfig(
        multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=concurrency, use_threads=True
    )
    size = path.stat().st_size
    started = time.perf_counter()
    client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": "application/octet-stream"}, Config=config)
    seconds = time.perf_counter() - started
    stored = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    if stored != size:
        raise RuntimeError(f"boto3 stored {stored} bytes, not {size}")
    return UploadTiming(seconds=seconds, size=size, key=key)
