"""S3 events delivered by Amazon SNS over HTTPS, through Django's test client into the ledger.

SNS itself is played by tests.unit.test_sns: a key and certificate made at test time,
served by a fake fetcher put in place of `uploader.ingest.sns_certificates.fetcher`, which records every
URL it is asked for.
"""

from __future__ import annotations

import json
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

import pytest
import requests
from django.conf import settings
from django.test import Client
from kombu.exceptions import OperationalError

from tests.unit.test_sns import (
    CERT_URL,
    OTHER_TOPIC,
    SUBSCRIBE_URL,
    TOPIC,
    FakeFetcher,
    confirmation,
    notification,
    rsa_key,
    sign,
    sns_timestamp,
)
from uploader.ingest import sns, sns_certificates
from uploader.ingest.models import EventOutcome, EventSource, UploadEvent
from uploader.ingest.sns_views import MAX_BODY_BYTES
from uploader.uploads.models import Upload, UploadState

SNS_PATH = "/api/events/sns"

# Until uploader/urls.py routes events/sns, this module serves it itself.
pytestmark = pytest.mark.integration


@pytest.fixture
def fetcher(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """SNS enabled for TOPIC, and the certificate (and confirmations) served by a fake."""
    settings.INTAKE_SNS_TOPIC_ARNS = [TOPIC]
    settings.INTAKE_SNS_MIN_SIGNATURE_VERSION = "1"
    fake = FakeFetcher()
    monkeypatch.setattr(sns_certificates, "fetcher", fake)
    sns.certificate_cache.clear()
    yield fake
    sns.certificate_cache.clear()


@pytest.fixture
def sns_client(fetcher: FakeFetcher, db: None) -> Client:
    return Client()


@pytest.fixture
def sns_s3(fetcher: FakeFetcher, s3_bucket: str, transactional_db: None) -> Client:
    """With the emulator's bucket; transactional, so events commit and apply as in production."""
    return Client()


def _post(client: Client, document: Any) -> Any:
    body = document if isinstance(document, str | bytes) else json.dumps(document)
    # What SNS sends: text/plain, whatever the body is. (Raw bytes go without a charset,
    # or the test client would re-encode them.)
    return client.post(
        SNS_PATH,
        data=body,
        content_type="text/plain" if isinstance(body, bytes) else "text/plain; charset=UTF-8",
        headers={"x-amz-sns-message-type": "Notification"},
    )


def _s3_event(key: str, *, size: int = 3) -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-11-28T12:00:00.000Z",
        "s3": {
            "bucket": {"name": settings.INTAKE_S3_BUCKET},
            "object": {"key": quote_plus(key), "size": size, "eTag": "x", "sequencer": "0055AED6DCD90281E5"},
        },
    }
    return json.dumps({"Records": [record]})


def _registered_and_uploaded(staff_client: Client, body: bytes = b"abc") -> Upload:
    signed = staff_client.get(
        "/api/s3/params", {"filename": "via sns.txt", "type": "text/plain", "size": len(body)}
    ).json()
    requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).raise_for_status()
    return Upload.objects.get(pk=signed["id"])


def test_a_signed_notification_marks_the_upload_stored(
    sns_s3: Client, staff_client: Client, fetcher: FakeFetcher
) -> None:
    upload = _registered_and_uploaded(staff_client)
    document = sign(notification(Message=_s3_event(upload.key)))
    response = _post(sns_s3, document)
    assert response.status_code == 200, response.content
    assert response.json() == {"recorded": 1, "duplicates": 0, "skipped": []}
    upload.refresh_from_db()
    assert (upload.state, upload.stored_size) == (UploadState.STORED, 3)
    event = UploadEvent.objects.get()
    assert (event.source, event.outcome, event.upload_id) == (EventSource.SNS, EventOutcome.APPLIED, upload.id)
    # SNS delivers at least once: the same message again changes nothing.
    assert _post(sns_s3, document).json() == {"recorded": 0, "duplicates": 1, "skipped": []}
    assert UploadEvent.objects.count() == 1
    assert fetcher.calls == [CERT_URL]


def test_a_version_2_notification_is_accepted_when_only_version_2_is(
    sns_s3: Client, staff_client: Client, settings: Any
) -> None:
    settings.INTAKE_SNS_MIN_SIGNATURE_VERSION = "2"
    upload = _registered_and_uploaded(staff_client)
    assert _post(sns_s3, sign(notification(Message=_s3_event(upload.key)), version="2")).status_code == 200
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED


def _forged(kind: str) -> dict[str, Any]:
    event = _s3_event("uploads/anyone/2026/11/forged.txt")
    if kind == "cert-on-another-host":
        return sign(notification(Message=event, SigningCertURL="https://evil.test/cert.pem"), key=rsa_key("attacker"))
    if kind == "cert-over-http":
        return sign(
            notification(Message=event, SigningCertURL=CERT_URL.replace("https:", "http:")), key=rsa_key("attacker")
        )
    if kind == "cert-lookalike-host":
        url = "https://sns.us-east-1.amazonaws.com.evil.test/cert.pem"
        return sign(notification(Message=event, SigningCertURL=url), key=rsa_key("attacker"))
    if kind == "cert-userinfo-host":
        url = "https://sns.us-east-1.amazonaws.com@evil.test/cert.pem"
        return sign(notification(Message=event, SigningCertURL=url), key=rsa_key("attacker"))
    if kind == "wrong-topic":
        return sign(notification(Message=event, TopicArn=OTHER_TOPIC))
    if kind == "stale":
        return sign(notification(Message=event, Timestamp=sns_timestamp(-sns.max_age() * 2)))
    if kind == "unknown-version":
        return {**sign(notification(Message=event)), "SignatureVersion": "3"}
    if kind == "tampered-message":
        return {**sign(notification()), "Message": event}
    if kind == "other-key":
        return sign(notification(Message=event), key=rsa_key("attacker"))
    raise AssertionError(kind)


NO_FETCH = [
    "cert-on-another-host",
    "cert-over-http",
    "cert-lookalike-host",
    "cert-userinfo-host",
    "wrong-topic",
    "stale",
    "unknown-version",
]


@pytest.mark.parametrize("kind", [*NO_FETCH, "tampered-message", "other-key"])
def test_a_forged_message_is_refused_and_records_nothing(kind: str, sns_client: Client, fetcher: FakeFetcher) -> None:
    response = _post(sns_client, _forged(kind))
    assert response.status_code == 403, response.content
    assert response.json()["reason"]
    assert UploadEvent.objects.count() == 0
    assert all(url == CERT_URL for url in fetcher.calls), "only SNS's own host is ever fetched"
    if kind in NO_FETCH:
        assert fetcher.calls == []


def test_a_downgrade_is_refused_when_version_2_is_required(
    sns_client: Client, fetcher: FakeFetcher, settings: Any
) -> None:
    settings.INTAKE_SNS_MIN_SIGNATURE_VERSION = "2"
    response = _post(sns_client, sign(notification(), version="1"))
    assert response.status_code == 403
    assert "below the minimum" in response.json()["reason"]
    assert fetcher.calls == []


def test_a_subscription_is_confirmed_once_through_its_subscribe_url(sns_client: Client, fetcher: FakeFetcher) -> None:
    fetcher.responses[SUBSCRIBE_URL] = b"<ConfirmSubscriptionResponse/>"
    response = _post(sns_client, sign(confirmation()))
    assert response.status_code == 200, response.content
    assert response.json() == {"confirmed": True, "topic": TOPIC}
    assert fetcher.calls.count(SUBSCRIBE_URL) == 1
    assert fetcher.calls == [CERT_URL, SUBSCRIBE_URL]


def test_a_subscription_with_a_foreign_subscribe_url_is_not_visited(sns_client: Client, fetcher: FakeFetcher) -> None:
    document = sign(confirmation(SubscribeURL="https://evil.test/?Action=ConfirmSubscription&Token=t"))
    assert _post(sns_client, document).status_code == 403
    assert fetcher.calls == []


def test_an_unsubscribe_confirmation_is_acknowledged_and_not_visited(sns_client: Client, fetcher: FakeFetcher) -> None:
    response = _post(sns_client, sign(confirmation("UnsubscribeConfirmation")))
    assert response.status_code == 200
    assert response.json() == {"unsubscribed": True, "topic": TOPIC}
    assert fetcher.calls == [CERT_URL]


def test_sns_unreachable_asks_for_a_retry(sns_client: Client, fetcher: FakeFetcher) -> None:
    def down(url: str, *, max_bytes: int) -> bytes:
        fetcher.calls.append(url)
        raise sns.SnsUnavailable("sns.us-east-1.amazonaws.com could not be reached: TimeoutError")

    with mock.patch.object(sns_certificates, "fetcher", down):
        assert _post(sns_client, sign(notification())).status_code == 503
    assert fetcher.calls == [CERT_URL]


def test_a_task_queue_outage_asks_for_a_retry_and_keeps_the_event(sns_s3: Client, staff_client: Client) -> None:
    upload = _registered_and_uploaded(staff_client)
    document = sign(notification(Message=_s3_event(upload.key)))
    with mock.patch("uploader.ingest.tasks.apply_object_events.delay", side_effect=OperationalError("broker down")):
        assert _post(sns_s3, document).status_code == 503
    assert UploadEvent.objects.get().outcome == EventOutcome.PENDING
    assert _post(sns_s3, document).status_code == 200  # SNS's retry enqueues what is pending
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED


def test_bad_requests_are_refused_before_verification(sns_client: Client, fetcher: FakeFetcher, settings: Any) -> None:
    assert _post(sns_client, "{not json").status_code == 400
    assert _post(sns_client, b"\xff\xfe").status_code == 400
    assert _post(sns_client, "[1, 2]").status_code == 400
    assert _post(sns_client, json.dumps({"Message": "x" * MAX_BODY_BYTES})).status_code == 413
    assert sns_client.get(SNS_PATH).status_code == 405
    settings.INTAKE_SNS_TOPIC_ARNS = []
    assert _post(sns_client, sign(notification())).status_code == 404
    assert fetcher.calls == []
    assert UploadEvent.objects.count() == 0
