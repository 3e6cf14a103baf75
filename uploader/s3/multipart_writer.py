"""A write-only stream that becomes one S3 object through a multipart upload.

The zip of many files (uploader.bundles) is written by a library that only needs
`write`; this buffers one part (`part_size` bytes, at least S3's 5 MiB minimum) and
uploads it as soon as it is full, so memory stays at about one part whatever the
object's size. Up to `in_flight` full parts are uploaded by a background thread while the
caller goes on writing (reading the next file from S3 overlaps sending the last part),
so memory is about `in_flight + 1` parts. `close` completes the upload; `abort` (or leaving a `with` block on an
exception) aborts it, so a failure leaves no half-written object and no parts to pay for.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from django.conf import settings

from uploader.s3.client import _client
from uploader.s3.errors import MultipartUploadNotFound, translate_errors

MIN_PART_SIZE = 5 * 1024 * 1024


class MultipartWriter:
    def __init__(
        self, *, key: str, part_size: int, content_type: str = "application/octet-stream", in_flight: int = 1
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 parts are at least {MIN_PART_SIZE} bytes (all but the last)")
        self.key = key
        self.part_size = part_size
        self.content_type = content_type
        self.upload_id = ""
        self.size = 0
        self._buffer = bytearray()
        self._parts: list[tuple[int, str]] = []
        self._closed = False
        self._next_number = 1
        self._in_flight = max(1, in_flight)
        self._pending: list[Future[tuple[int, str]]] = []
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> str:
        """Create the multipart upload; its id lets a later retry abort it."""
        with translate_errors("CreateMultipartUpload"):
            answer = _client().create_multipart_upload(
                Bucket=settings.INTAKE_S3_BUCKET, Key=self.key, ContentType=self.content_type
            )
        self.upload_id = str(answer["UploadId"])
        return self.upload_id

    # What zipfile asks of an unseekable file: write and flush (no tell, no seek).
    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed MultipartWriter")
        if not self.upload_id:
            self.start()
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self.part_size:
            with memoryview(self._buffer) as view:  # one copy of the part, not two
                part = bytes(view[: self.part_size])
            del self._buffer[: self.part_size]
            self._send(part)
        return len(data)

    def flush(self) -> None:
        """Nothing: a part is sent when full (S3 refuses small parts but the last)."""

    def _send(self, body: bytes) -> None:
        """Hand the part to the upload thread; wait for the oldest when enough are in flight."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._in_flight, thread_name_prefix="multipart")
        while len(self._pending) >= self._in_flight:
            self._parts.append(self._pending.pop(0).result())
        number, self._next_number = self._next_number, self._next_number + 1
        self._pending.append(self._pool.submit(self._upload_part, number, body))

    def _upload_part(self, number: int, body: bytes) -> tuple[int, str]:
        with translate_errors("UploadPart"):
            answer = _client().upload_part(
                Bucket=settings.INTAKE_S3_BUCKET, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
            )
        return number, str(answer["ETag"])

    def _drain(self) -> None:
        """Wait for every part in flight (raising the first failure)."""
        try:
            while self._pending:
                self._parts.append(self._pending.pop(0).result())
        finally:
            self._stop_pool()

    def _stop_pool(self) -> None:
        for future in self._pending:
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._pending.clear()

    def close(self) -> None:
        """Send the last part and complete the upload: the object appears whole, at once."""
        if self._closed:
            return
        if not self.upload_id:
            self.start()
        if self._buffer or self._next_number == 1:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self._drain()
        with translate_errors("CompleteMultipartUpload"):
            _client().complete_multipart_upload(
                Bucket=settings.INTAKE_S3_BUCKET,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in self._parts]},
            )
        self._closed = True

    def abort(self) -> None:
        self._buffer.clear()
        self._closed = True
        self._stop_pool()  # parts still uploading finish first, so the abort leaves none behind
        if self.upload_id:
            abort_multipart_upload_quietly(key=self.key, upload_id=self.upload_id)

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def abort_multipart_upload_quietly(*, key: str, upload_id: str) -> None:
    """Abort; an upload already gone (aborted or completed before) is no error."""
    try:
        with translate_errors("AbortMultipartUpload"):
            _client().abort_multipart_upload(Bucket=settings.INTAKE_S3_BUCKET, Key=key, UploadId=upload_id)
    except MultipartUploadNotFound:
        pass
