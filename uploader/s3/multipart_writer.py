"""A write-only stream that becomes one S3 object through a multipart upload.

The zip of many files (uploader.bundles) is written by a library that only needs
`write`; this keeps what is written until it makes a part (`part_size` bytes, at least
S3's 5 MiB minimum) and uploads it as soon as it is full, so memory stays at a few parts
whatever the object's size. Up to `in_flight` parts are uploaded by background threads
while the caller goes on writing; when that many are on their way, a write that fills
the next part waits for the oldest (so memory is at most `in_flight + 2` parts: those
being sent, the one filling, and that one's copy while it is joined into one body). The
written chunks are kept as they come and joined once per part: one copy of each byte.
`close` completes the upload; `abort` (or leaving a `with` block on an exception)
aborts it, so a failure leaves no half-written object and no parts to pay for.
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
        self._chunks: list[bytes | memoryview] = []  # written, not yet sent
        self._buffered = 0
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
        chunk = bytes(data)  # no copy for bytes; a bytearray the caller reuses is copied
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        self.size += len(chunk)
        while self._buffered >= self.part_size:
            self._wait_for_room()
            self._send(self._take(self.part_size))
        return len(chunk)

    def _take(self, size: int) -> bytes:
        """The first `size` buffered bytes as one body; what is left of the last chunk stays."""
        taken, count = 0, 0
        while taken < size:
            taken += len(self._chunks[count])
            count += 1
        head, self._chunks = self._chunks[:count], self._chunks[count:]
        if taken > size:
            last = memoryview(head[-1])  # split without copying
            cut = len(last) - (taken - size)
            head[-1], rest = last[:cut], last[cut:]
            self._chunks.insert(0, rest)
        self._buffered -= size
        return b"".join(head)

    def flush(self) -> None:
        """Nothing: a part is sent when full (S3 refuses small parts but the last)."""

    def _wait_for_room(self) -> None:
        """Wait for the oldest part when `in_flight` are on their way (raising its failure)."""
        while len(self._pending) >= self._in_flight:
            self._parts.append(self._pending.pop(0).result())

    def _send(self, body: bytes) -> None:
        """Hand the part to an upload thread."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._in_flight, thread_name_prefix="multipart")
        self._wait_for_room()
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
        if self._buffered or self._next_number == 1:
            self._send(self._take(self._buffered))
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
        self._chunks.clear()
        self._buffered = 0
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
