"""Inputs that used to answer 500 (issue: hardening) get a 4xx, or are taken as the
harmless thing they are; each test here failed before its fix."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from uploader.ingest.events import MAX_OBJECT_SIZE, parse_s3_message
from uploader.ingest.models import UploadEvent

pytestmark = pytest.mark.integration

TOKEN = "push-token-" + "x" * 32
NESTED = "[" * 2_000 + "]" * 2_000


def _record(size: object, bucket: str = "intake-test") -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-12-03T10:00:00.000Z",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": "uploads/staff/x.bin", "size": size, "eTag": "e", "sequencer": "0A"},
                    },
                }
            ]
        }
    )


@pytest.mark.parametrize("size", [10**40, -1, MAX_OBJECT_SIZE + 1, True, "12"])
def test_an_impossible_size_is_no_size(size: object) -> None:
    (event,) = parse_s3_message(_record(size)).events
    assert event.size is None, "applied with a HEAD instead"


def test_the_largest_real_size_is_kept() -> None:
    (event,) = parse_s3_message(_record(MAX_OBJECT_SIZE)).events
    assert event.size == MAX_OBJECT_SIZE


@pytest.mark.django_db(transaction=True)
def test_a_pushed_event_with_a_size_of_ten_to_the_forty_is_recorded_not_a_500(settings, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_EVENTS_WEBHOOK_TOKEN = TOKEN
    response = Client().post(
        "/api/events/s3", data=_record(10**40, bucket=s3_bucket), content_type="application/json", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200, response.content
    assert UploadEvent.objects.get().size is None


@pytest.mark.django_db
def test_a_deeply_nested_body_to_the_sns_endpoint_is_a_400(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_SNS_TOPIC_ARNS = ["arn:aws:sns:eu-west-1:123456789012:intake"]
    response = Client().post("/api/events/sns", data=NESTED, content_type="text/plain")
    assert response.status_code == 400
    assert "nested" in response.json()["message"]


@pytest.mark.django_db
def test_cognito_sign_in_urls_are_a_404_in_password_only_mode(settings) -> None:  # type: ignore[no-untyped-def]
    assert not settings.INTAKE_OIDC_ENABLED
    for path in ("/oidc/authenticate/", "/oidc/callback/", "/oidc/logout/"):
        response = Client().get(path)
        assert response.status_code == 404, (path, response.status_code)


def test_a_key_longer_than_s3_allows_is_skipped_with_a_reason() -> None:
    record = json.loads(_record(1))
    record["Records"][0]["s3"]["object"]["key"] = "k" * 1025
    parsed = parse_s3_message(json.dumps(record))
    assert parsed.events == ()
    assert "longer than S3's 1024 bytes" in parsed.skipped[0]


@pytest.mark.parametrize("where", ["key", "eTag", "sequencer"])
def test_a_nul_anywhere_in_a_message_skips_it_whole(where: str) -> None:
    """PostgreSQL text cannot hold NUL: stored, it would fail the whole SQS batch."""
    record = json.loads(_record(1))
    record["Records"][0]["s3"]["object"][where] = "a\x00b"
    parsed = parse_s3_message(json.dumps(record))
    assert parsed.events == ()
    assert parsed.skipped == ("message contains NUL characters",)
    (escaped,) = parse_s3_message(_record(1).replace("x.bin", "x\\\\u0000.bin")).events
    assert escaped.key.endswith("x\\u0000.bin"), "a backslash and the text u0000 are a legal key"


@pytest.mark.django_db(transaction=True)
def test_a_pushed_event_with_a_nul_is_dropped_not_a_500(settings, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_EVENTS_WEBHOOK_TOKEN = TOKEN
    body = _record(1, bucket=s3_bucket).replace("x.bin", "x\\u0000.bin")
    response = Client().post(
        "/api/events/s3", data=body, content_type="application/json", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code < 500, response.content
    assert UploadEvent.objects.count() == 0


def test_a_hung_s3_gives_a_503_after_a_bounded_number_of_attempts(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    """The complete call's HEAD meets an S3 that accepts connections and never answers:
    the caller gets a 503 with a message, after INTAKE_S3_MAX_ATTEMPTS attempts (each
    bounded by the read timeout), not botocore's default retries."""
    from tests.support.hung_server import HungServer
    from uploader import s3

    body = b"hello"
    signed = api.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "metadata[size]": len(body)}).json()
    hung = HungServer().start()
    try:
        settings.INTAKE_S3_ENDPOINT_URL = hung.url
        settings.INTAKE_S3_READ_TIMEOUT = 0.5
        settings.INTAKE_S3_MAX_ATTEMPTS = 2
        s3.reset_clients()
        response = api.post(f"/api/s3/complete?key={signed['key']}")
    finally:
        hung.stop()
        s3.reset_clients()
    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
    assert hung.connections == 2, "two attempts, then the answer"
