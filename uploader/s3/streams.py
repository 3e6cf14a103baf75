"""Objects read as a stream of chunks, and moved within the bucket.

The malware scanner reads whole objects of any size (gigabytes): it must never hold
one in memory, so it gets the body a chunk at a time. Moving an object (to the
quarantine prefix) is S3's managed copy, which switches to a multipart copy for
objects over 5 GB, then a delete of the source.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from urllib3.exceptions import HTTPError as Urllib3Error

from uploader.s3.client import _client
from uploader.s3.errors import StorageUnavailable, translate_errors


@contextmanager
def _reading(operation: str) -> Iterator[None]:
    """botocore's errors as ours, and a connection lost mid-body (urllib3, the socket)
    as StorageUnavailable: the reader tries again later."""
    try:
        with translate_errors(operation):
            yield
    except (Urllib3Error, ConnectionError, TimeoutError) as exc:
        raise StorageUnavailable(f"S3 {operation} broke off: {type(exc).__name__}") from exc


def iter_object_chunks(*, key: str, chunk_size: int, if_match: str = "") -> Iterator[bytes]:
    """The object's bytes, `chunk_size` at a time (the last chunk may be shorter).
    With `if_match` (an ETag), S3 refuses to serve another version of the object
    (StorageRefused "PreconditionFailed"), so what is read is the object recorded."""
    arguments: dict[str, str] = {"Bucket": settings.INTAKE_S3_BUCKET, "Key": key}
    if if_match:
        arguments["IfMatch"] = f'"{if_match}"'
    with _reading("GetObject"):
        body = _client().get_object(**arguments)["Body"]
    try:
        with _reading("GetObject"):
            yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


def move_object(*, source_key: str, destination_key: str) -> None:
    """Copy the object to `destination_key`, then delete the source. A repeat after
    the source is gone raises ObjectNotFound from the copy; the caller decides."""
    bucket = settings.INTAKE_S3_BUCKET
    with translate_errors("CopyObject"):
        _client().copy({"Bucket": bucket, "Key": source_key}, bucket, destination_key)
    with translate_errors("DeleteObject"):
        _client().delete_object(Bucket=bucket, Key=source_key)
