"""A Ceph RADOS Gateway for the session: a real S3 implementation that enforces
signatures, expiry, POST policies and CORS (the emulator checks none of them).

It is started once (about 5 s) by scripts/radosgw.sh and stopped at the end. A
gateway that cannot start fails the suite; it is never skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.radosgw import RadosGateway, RadosGatewayError

ALLOWED_ORIGIN = "http://127.0.0.1:8000"


@pytest.fixture(scope="session")
def radosgw() -> Iterator[RadosGateway]:
    gateway = RadosGateway(memstore_bytes=1024**3)
    try:
        gateway.start()
    except RadosGatewayError as exc:
        pytest.fail(f"the Ceph RADOS Gateway did not start (make test installs it): {exc}")
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def strict_bucket(radosgw: RadosGateway, settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app pointed at a fresh bucket on the gateway, set up by our own code."""
    from tests.support.app_storage import point_app_storage
    from uploader import s3
    from uploader.ops.bucket_setup import bucket_configure

    settings.INTAKE_S3_ENDPOINT_URL = radosgw.endpoint_url
    settings.INTAKE_S3_ADDRESSING_STYLE = "path"
    settings.INTAKE_S3_REGION = radosgw.region
    settings.INTAKE_S3_ACCESS_KEY_ID = radosgw.access_key
    settings.INTAKE_S3_SECRET_ACCESS_KEY = radosgw.secret_key
    settings.INTAKE_S3_BUCKET = f"strict-{uuid.uuid4().hex[:12]}"
    point_app_storage(settings)  # and drops the cached clients
    bucket_configure(create=True, origins=[ALLOWED_ORIGIN], queue_arn=None, abort_after_days=2)
    yield settings.INTAKE_S3_BUCKET
    s3.reset_clients()


@pytest.fixture
def strict_api(staff_client, strict_bucket):  # type: ignore[no-untyped-def]
    return staff_client
