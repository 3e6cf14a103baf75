import uuid

import pytest

from uploader import s3, sqs
from uploader.bucket import bucket_configure

pytestmark = pytest.mark.integration


@pytest.fixture
def api(staff_client, s3_bucket):  # type: ignore[no-untyped-def]
    """A staff session against a fresh bucket on the emulator."""
    return staff_client


@pytest.fixture
def queue(s3_bucket: str, settings, transactional_db) -> str:  # type: ignore[no-untyped-def]
    """A fresh queue receiving the test bucket's object events; returns its URL.
    Transactional: the consumer commits and manages its connections like in production."""
    settings.INTAKE_SQS_VISIBILITY_SECONDS = 1  # redeliveries come back quickly
    name = f"events-{uuid.uuid4().hex[:10]}"
    bucket_configure(create=False, origins=["http://127.0.0.1:8000"], queue_arn=s3.ensure_queue(name), abort_after_days=2)
    url = sqs.queue_url_for(name)
    s3.sqs_client().purge_queue(QueueUrl=url)  # the configuration's s3:TestEvent
    return url
