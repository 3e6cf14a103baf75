"""Every task that touches storage retries an outage, whichever layer noticed it:
uploader.s3 itself or a service that turned it into the API's 503 error."""

from __future__ import annotations

from unittest import mock

import pytest

from uploader import s3
from uploader.ingest import tasks as ingest_tasks
from uploader.processing import tasks as processing_tasks
from uploader.uploads import errors

# Each task that reaches S3, the service it calls (replaced here) and its arguments.
STORAGE_TASKS = [
    (ingest_tasks.apply_object_events, "uploader.ingest.tasks.events_apply", [[1]]),
    (ingest_tasks.reconcile_uploads, "uploader.ingest.tasks.reconcile.reconcile", []),
    (processing_tasks.process_upload, "uploader.processing.services.upload_process", ["5b0c6d0e-0000-4000-8000-000000000000"]),
    (processing_tasks.discard_derivatives, "uploader.processing.services.upload_discard_derivatives", ["5b0c6d0e-0000-4000-8000-000000000000"]),
]
OUTAGES = [
    pytest.param(lambda: s3.StorageUnavailable("S3 GetObject unreachable"), id="s3"),
    pytest.param(lambda: errors.StorageUnavailable("File storage is not reachable right now."), id="uploads"),
]


def test_the_api_error_is_the_storage_outage() -> None:
    outage = errors.StorageUnavailable("File storage is not reachable right now.")
    assert isinstance(outage, s3.StorageUnavailable)
    assert isinstance(outage, errors.UploadError)
    assert (outage.status, outage.code, outage.message) == (503, "storage_unavailable", str(outage))


@pytest.mark.parametrize(("task", "service", "args"), STORAGE_TASKS, ids=lambda v: getattr(v, "name", None))
@pytest.mark.parametrize("outage", OUTAGES)
def test_a_storage_outage_is_retried_until_max_retries(task, service: str, args: list, outage) -> None:  # type: ignore[no-untyped-def]
    with mock.patch(service, side_effect=outage()) as call:
        result = task.apply(args=args)  # eager: each retry runs at once
    assert call.call_count == task.max_retries + 1
    assert isinstance(result.result, s3.StorageUnavailable)
