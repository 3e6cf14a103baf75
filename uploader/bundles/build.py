"""The worker's side: stream each file from S3 through a zip writer into a multipart
upload of the zip, with a few parts (INTAKE_BUNDLE_PART_BYTES) and a few read chunks in
memory whatever the total. Three things run at once: a background reader gets the files'
bytes up to INTAKE_BUNDLE_READ_AHEAD_BYTES ahead (going on to the next file as one ends),
this thread puts them through zipfile, and upload threads send up to
INTAKE_BUNDLE_PARTS_IN_FLIGHT full parts. Python's zipfile writes to an unseekable stream
(a data descriptor after each member, ZIP64 where sizes need it); members are stored,
not compressed: clients' documents are mostly compressed already, and the worker's
CPU would set the pace. Only this module writes a bundle's state after it is queued."""

from __future__ import annotations

import contextlib
import logging
import time
import zipfile
from collections.abc import Iterable, Iterator
from uuid import UUID

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from uploader import s3
from uploader.bundles.models import Bundle, BundleState
from uploader.bundles.naming import UniqueNames
from uploader.uploads.models import Upload, UploadState

logger = logging.getLogger(__name__)

# The progress page polls every 2 s; writing more often (say once per file) only costs the
# build a database round trip each time.
PROGRESS_EVERY_SECONDS = 1.0


class BuildFailed(Exception):
    """A bundle could not be made for a reason a retry would not change."""


def bundle_key(bundle: Bundle) -> str:
    return f"{settings.INTAKE_BUNDLE_PREFIX}/{bundle.pk}.zip"


def _claim(bundle_id: UUID | str) -> tuple[Bundle, str] | None:
    """Mark the bundle building and start its progress again; None when it is already
    finished (a repeat of the task builds nothing). The multipart upload a crashed
    attempt left is returned, for the caller to abort."""
    with transaction.atomic():
        bundle = Bundle.objects.select_for_update().filter(pk=bundle_id).first()
        if bundle is None or bundle.finished:
            return None
        stale = bundle.multipart_upload_id
        bundle.state = BundleState.BUILDING
        bundle.key = bundle_key(bundle)
        bundle.files_done = bundle.bytes_done = 0
        bundle.multipart_upload_id = ""
        bundle.error = ""
        bundle.started_at = timezone.now()
        bundle.save()
    return bundle, stale


def _uploads_in_order(bundle: Bundle) -> list[Upload]:
    rows = Upload.objects.filter(pk__in=bundle.upload_ids).select_related("request_item")
    by_id = {str(upload.pk): upload for upload in rows}
    return [by_id[pk] for pk in bundle.upload_ids if pk in by_id]


def _zip_info(upload: Upload, name: str) -> zipfile.ZipInfo:
    when = timezone.localtime(upload.stored_at or upload.created_at)
    info = zipfile.ZipInfo(name, date_time=(max(1980, when.year), *when.timetuple()[1:6]))
    info.compress_type = zipfile.ZIP_STORED
    # zipfile chooses ZIP64 for a member from the size it is told beforehand.
    info.file_size = upload.stored_size or 0
    return info


def _folder(upload: Upload) -> str:
    return upload.request_item.title if upload.request_item_id and upload.request_item else ""


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, BuildFailed):
        return str(exc)
    if isinstance(exc, SoftTimeLimitExceeded):
        minutes = settings.INTAKE_BUNDLE_TIME_LIMIT_SECONDS // 60
        return f"Making the zip took longer than {minutes} minutes; ask for a zip of fewer files."
    return f"The zip could not be made ({type(exc).__name__})."


def bundle_build(bundle_id: UUID | str) -> Bundle | None:
    """Build the zip; the bundle ends ready or failed (the multipart upload aborted).
    StorageUnavailable leaves it building with nothing written, for the task to retry."""
    claimed = _claim(bundle_id)
    if claimed is None:
        return None
    bundle, stale = claimed
    if stale:
        s3.abort_multipart_upload_quietly(key=bundle.key, upload_id=stale)
    writer = s3.MultipartWriter(
        key=bundle.key,
        part_size=settings.INTAKE_BUNDLE_PART_BYTES,
        content_type="application/zip",
        in_flight=settings.INTAKE_BUNDLE_PARTS_IN_FLIGHT,
    )
    progress = Bundle.objects.filter(pk=bundle.pk)
    try:
        progress.update(multipart_upload_id=writer.start())
        included, skipped, total_bytes = _write_zip(bundle, writer)
        writer.close()
    except s3.StorageUnavailable:
        writer.abort()
        raise
    except Exception as exc:
        writer.abort()
        message = _failure_message(exc)
        if not isinstance(exc, BuildFailed):
            logger.exception("bundle %s failed", bundle.pk)
        progress.update(state=BundleState.FAILED, error=message, multipart_upload_id="", finished_at=timezone.now())
        return Bundle.objects.get(pk=bundle.pk)
    progress.update(
        state=BundleState.READY,
        multipart_upload_id="",
        size=writer.size,
        files_done=included,
        files_total=included,
        left_out=bundle.left_out + skipped,
        bytes_done=total_bytes,
        finished_at=timezone.now(),
    )
    return Bundle.objects.get(pk=bundle.pk)


def _write_zip(bundle: Bundle, writer: s3.MultipartWriter) -> tuple[int, int, int]:
    uploads = _uploads_in_order(bundle)
    usable = [u for u in uploads if u.state == UploadState.STORED and u.scan_allows_use]
    # Files deleted or held since the bundle was asked for are left out and counted.
    skipped = len(bundle.upload_ids) - len(usable)
    total = sum(u.stored_size or 0 for u in usable)
    rows = Bundle.objects.filter(pk=bundle.pk)
    rows.update(files_total=len(usable), bytes_total=total)
    names = UniqueNames()
    files_done = bytes_done = 0
    reported_at = time.monotonic()
    with zipfile.ZipFile(writer, mode="w", allowZip64=True) as archive, _reader(usable) as reader:
        for upload, chunks in zip(usable, reader, strict=True):
            name = names.take(upload.original_filename, folder=_folder(upload))
            try:
                with archive.open(_zip_info(upload, name), mode="w") as member:
                    for chunk in chunks:
                        member.write(chunk)
                        bytes_done += len(chunk)
                        if time.monotonic() - reported_at >= PROGRESS_EVERY_SECONDS:
                            rows.update(files_done=files_done, bytes_done=bytes_done)
                            reported_at = time.monotonic()
            except s3.ObjectNotFound as exc:
                raise BuildFailed(f"“{upload.original_filename}” is no longer in storage; ask for a new zip.") from exc
            except s3.StorageRefused as exc:
                raise BuildFailed(f"Storage refused to read “{upload.original_filename}” ({exc}).") from exc
            files_done += 1
    return len(usable), skipped, bytes_done


@contextlib.contextmanager
def _reader(uploads: list[Upload]) -> Iterator[Iterator[Iterable[bytes]]]:
    """Each file's chunks, read INTAKE_BUNDLE_READ_AHEAD_BYTES ahead by a background thread
    (or in this thread when that is 0). If-Match the recorded ETag: a replaced object is not
    zipped as the file."""
    chunk_size = settings.INTAKE_BUNDLE_CHUNK_BYTES
    ahead = settings.INTAKE_BUNDLE_READ_AHEAD_BYTES
    if not ahead:
        yield (s3.iter_object_chunks(key=u.key, chunk_size=chunk_size, if_match=u.etag) for u in uploads)
        return
    objects = [(u.key, u.etag) for u in uploads]
    with s3.read_objects_ahead(objects, chunk_size=chunk_size, max_chunks=max(1, ahead // chunk_size)) as reader:
        yield reader.sources()


def bundles_expire(*, now: object = None) -> int:
    """Delete zips past their expiry (object, then row), aborting a build left open."""
    moment = now or timezone.now()
    count = 0
    for bundle in Bundle.objects.filter(expires_at__lte=moment).order_by("expires_at")[:500]:
        if bundle.multipart_upload_id:
            s3.abort_multipart_upload_quietly(key=bundle.key, upload_id=bundle.multipart_upload_id)
        if bundle.key:
            s3.delete_object(key=bundle.key)
        bundle.delete()
        count += 1
    return count
