"""`setup_bucket` against the emulator, and the CORS it writes as a browser sees it."""

from __future__ import annotations

import io
import uuid

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from uploader import s3
from uploader.ops.bucket_setup import CORS_RULE_ID, LIFECYCLE_RULE_ID, NOTIFICATION_ID, desired_queue_notification

pytestmark = pytest.mark.integration

ALLOWED = "https://files.example.test"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("setup_bucket", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def empty_bucket_settings(s3_emulator, settings):  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_ENDPOINT_URL = s3_emulator.endpoint_url
    settings.INTAKE_S3_ADDRESSING_STYLE = "path"
    settings.INTAKE_S3_BUCKET = f"setup-{uuid.uuid4().hex[:12]}"
    s3.reset_clients()
    yield settings
    s3.reset_clients()


def test_setup_is_idempotent_and_reports_changes(empty_bucket_settings) -> None:  # type: ignore[no-untyped-def]
    first = _run("--create", "--origin", ALLOWED, "--create-queue", f"events-{uuid.uuid4().hex[:8]}")
    for step in ("bucket", "public access", "encryption", "cors", "lifecycle", "notifications"):
        assert f"changed  {step}" in first
    client = s3.boto3_client()
    bucket = settings.INTAKE_S3_BUCKET
    cors = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert next(r for r in cors if r.get("ID") == CORS_RULE_ID)["ExposeHeaders"][0] == "ETag"
    lifecycle = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle[0]["ID"] == LIFECYCLE_RULE_ID
    assert lifecycle[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": settings.INTAKE_MULTIPART_ABORT_AFTER_DAYS}
    assert all(client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    queues = client.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert queues[0]["Id"] == NOTIFICATION_ID

    queue_name = queues[0]["QueueArn"].rsplit(":", 1)[1]
    second = _run("--origin", ALLOWED, "--create-queue", queue_name)
    assert "changed  " not in second
    assert "nothing changed" in second


def test_setup_keeps_rules_it_does_not_own(empty_bucket_settings) -> None:  # type: ignore[no-untyped-def]
    _run("--create", "--origin", ALLOWED)
    client = s3.boto3_client()
    bucket = settings.INTAKE_S3_BUCKET
    foreign = {"ID": "someone-else", "AllowedOrigins": ["https://other.test"], "AllowedMethods": ["GET"]}
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*client.get_bucket_cors(Bucket=bucket)["CORSRules"], foreign]})
    out = _run("--origin", ALLOWED, "--origin", "https://second.example.test")
    assert "changed  cors" in out
    ids = {rule.get("ID") for rule in client.get_bucket_cors(Bucket=bucket)["CORSRules"]}
    assert ids == {CORS_RULE_ID, "someone-else"}


def test_an_equivalent_notification_made_by_the_deployment_template_is_kept(empty_bucket_settings) -> None:  # type: ignore[no-untyped-def]
    """CloudFormation names a bucket's notification rules itself; S3 refuses a second,
    overlapping rule, so setup_bucket must accept the template's rule as its own."""
    _run("--create", "--origin", ALLOWED)
    client = s3.boto3_client()
    bucket = settings.INTAKE_S3_BUCKET
    queue_name = f"events-{uuid.uuid4().hex[:8]}"
    queue_arn = s3.ensure_queue(queue_name)
    made_by_stack = {**desired_queue_notification(queue_arn), "Id": "NjE2ZDc4OTUtNzEwZS00ZmYz"}
    client.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [made_by_stack]}
    )
    out = _run("--origin", ALLOWED, "--create-queue", queue_name)
    assert "kept     notifications: rule 'NjE2ZDc4OTUtNzEwZS00ZmYz'" in out
    assert "changed  notifications" not in out
    rules = client.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert [rule["Id"] for rule in rules] == ["NjE2ZDc4OTUtNzEwZS00ZmYz"]


def test_missing_bucket_without_create_is_a_clear_error(empty_bucket_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="does not exist and creating it is not allowed"):
        _run("--origin", ALLOWED)


def _object_url(key: str) -> str:
    return f"{settings.INTAKE_S3_ENDPOINT_URL}/{settings.INTAKE_S3_BUCKET}/{key}"


def test_cors_preflight_from_an_allowed_origin_exposes_etag(s3_bucket: str) -> None:
    # s3_bucket allows http://127.0.0.1:8000
    preflight = requests.options(
        _object_url("uploads/x"),
        headers={
            "Origin": "http://127.0.0.1:8000",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    url = s3.presign_put_object(key="uploads/cors-check", content_type="text/plain", content_length=2, expires_in=60)
    put = requests.put(url, data=b"ok", headers={"Origin": "http://127.0.0.1:8000", "Content-Type": "text/plain"}, timeout=10)
    assert put.status_code == 200
    assert put.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    assert "ETag" in put.headers["Access-Control-Expose-Headers"]


def test_cors_preflight_from_another_origin_is_refused(s3_bucket: str) -> None:
    preflight = requests.options(
        _object_url("uploads/x"),
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
        timeout=10,
    )
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
