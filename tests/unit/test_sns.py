"""SNS message verification: AWS's algorithm, and every forgery refused before it costs a fetch.

Keys and certificates are made here at test time (nothing secret is committed); the
certificate "served" by SNS comes from a fake fetcher that counts its calls, so the
tests can prove an untrusted URL is never fetched. The production checks are the same
ones these tests run against.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from uploader.ingest import sns

TOPIC = "arn:aws:sns:us-east-1:123456789012:intake-events"
OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:someone-elses"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
TOKEN = "2336412f37fb687f5d51e6e2425dacbba8c2b4f2c8a2d1e7f3a6b5c4d3e2f1a0"
SUBSCRIBE_URL = f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token={TOKEN}"
S3_MESSAGE = json.dumps({"Records": [{"eventVersion": "2.1", "eventName": "ObjectCreated:Put"}]})

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


# --- a stand-in for SNS ---------------------------------------------------------------


@functools.cache
def rsa_key(name: str = "sns") -> rsa.RSAPrivateKey:
    """One key per name per session: 2048-bit generation is the slow part."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate_pem(
    key: Any,
    *,
    common_name: str = "sns.amazonaws.com",
    valid_from: dt.timedelta = dt.timedelta(days=-1),
    valid_until: dt.timedelta = dt.timedelta(days=30),
) -> bytes:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + valid_from)
        .not_valid_after(now + valid_until)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def canonical(document: dict[str, Any]) -> bytes:
    """The string to sign, written out independently of uploader.ingest.sns (from AWS's page)."""
    keys = NOTIFICATION_KEYS if document["Type"] == "Notification" else CONFIRMATION_KEYS
    return "".join(f"{key}\n{document[key]}\n" for key in keys if key in document).encode()


def sign(
    document: dict[str, Any], *, version: str = "2", key: rsa.RSAPrivateKey | None = None, digest: str | None = None
) -> dict[str, Any]:
    """Sign as SNS does; `digest` lets a test sign with one hash and claim another version."""
    signed = {**document, "SignatureVersion": version}
    sha1 = (digest or {"1": "sha1"}.get(version, "sha256")) == "sha1"
    algorithm = hashes.SHA1() if sha1 else hashes.SHA256()  # noqa: S303 - SNS's SignatureVersion 1 is SHA-1
    signature = (key or rsa_key()).sign(canonical(signed), padding.PKCS1v15(), algorithm)
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


def sns_timestamp(offset: dt.timedelta = dt.timedelta(0)) -> str:
    return (dt.datetime.now(dt.UTC) + offset).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def notification(**fields: Any) -> dict[str, Any]:
    document = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Subject": "Amazon S3 Notification",
        "Message": S3_MESSAGE,
        "Timestamp": sns_timestamp(),
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}:abc",
    }
    document.update(fields)
    return {k: v for k, v in document.items() if v is not ...}


def confirmation(message_type: str = "SubscriptionConfirmation", **fields: Any) -> dict[str, Any]:
    document = {
        "Type": message_type,
        "MessageId": str(uuid.uuid4()),
        "Token": TOKEN,
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
        "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": sns_timestamp(),
        "SigningCertURL": CERT_URL,
    }
    document.update(fields)
    return document


class FakeFetcher:
    """Serves the given URLs and records every call; anything else is SNS's 404."""

    def __init__(self, responses: dict[str, bytes] | None = None) -> None:
        self.responses = responses if responses is not None else {CERT_URL: certificate_pem(rsa_key())}
        self.calls: list[str] = []

    def __call__(self, url: str, *, max_bytes: int) -> bytes:
        self.calls.append(url)
        if url not in self.responses:
            raise sns.SnsMessageRejected("404 from the fake")
        return self.responses[url][:max_bytes]


@pytest.fixture(autouse=True)
def sns_settings(settings: Any) -> Iterator[None]:
    settings.INTAKE_SNS_TOPIC_ARNS = [TOPIC]
    settings.INTAKE_SNS_MIN_SIGNATURE_VERSION = "1"
    settings.INTAKE_SNS_MAX_AGE_SECONDS = 3600
    sns.certificate_cache.clear()
    yield
    sns.certificate_cache.clear()


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


def rejected(document: Any, fetcher: FakeFetcher) -> str:
    with pytest.raises(sns.SnsMessageRejected) as caught:
        sns.message_verify(json.loads(json.dumps(document)), fetch=fetcher)
    return caught.value.reason


# --- the string to sign ---------------------------------------------------------------


def test_string_to_sign_of_a_notification_is_awss_example() -> None:
    document = {
        "Type": "Notification",
        "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
        "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
        "Subject": "My subject",
        "Message": "My Test Message",
        "Timestamp": "2019-01-31T04:37:04.321Z",
        "SignatureVersion": "1",
        "Signature": "ignored",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
    }
    assert sns.string_to_sign(document) == (
        b"Message\nMy Test Message\n"
        b"MessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n"
        b"Subject\nMy subject\n"
        b"Timestamp\n2019-01-31T04:37:04.321Z\n"
        b"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n"
        b"Type\nNotification\n"
    )


@pytest.mark.parametrize("absent", [{}, {"Subject": None}])
def test_string_to_sign_leaves_out_an_absent_subject(absent: dict[str, Any]) -> None:
    document = {"Type": "Notification", "MessageId": "m", "TopicArn": "t", "Message": "x", "Timestamp": "s", **absent}
    assert sns.string_to_sign(document) == b"Message\nx\nMessageId\nm\nTimestamp\ns\nTopicArn\nt\nType\nNotification\n"


@pytest.mark.parametrize("message_type", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_string_to_sign_of_a_confirmation_is_awss_example(message_type: str) -> None:
    url = "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P&Token=233..."
    document = {
        "Type": message_type,
        "MessageId": "3d891288-136d-417f-bc05-901c108273ee",
        "Token": "233...",
        "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
        "Message": "My Test Message",
        "SubscribeURL": url,
        "Timestamp": "2019-01-31T19:25:13.719Z",
        "Subject": "not signed in a confirmation",
    }
    assert sns.string_to_sign(document) == (
        b"Message\nMy Test Message\n"
        b"MessageId\n3d891288-136d-417f-bc05-901c108273ee\n"
        b"SubscribeURL\n" + url.encode() + b"\n"
        b"Timestamp\n2019-01-31T19:25:13.719Z\n"
        b"Token\n233...\n"
        b"TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n"
        b"Type\n" + message_type.encode() + b"\n"
    )


# --- genuine messages verify ------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "document",
    [
        pytest.param(lambda: notification(), id="notification"),
        pytest.param(lambda: notification(Subject=...), id="notification-without-subject"),
        pytest.param(
            lambda: notification(Message='line one\nline "two"\t\u00e9 \u2713 \\ end\n'), id="control-characters"
        ),
        pytest.param(lambda: confirmation(), id="subscription"),
        pytest.param(lambda: confirmation("UnsubscribeConfirmation"), id="unsubscribe"),
    ],
)
def test_a_message_signed_by_sns_verifies(version: str, document: Any, fetcher: FakeFetcher) -> None:
    original = document()
    posted = json.dumps(sign(original, version=version))  # through JSON, as SNS posts it
    message = sns.message_verify(json.loads(posted), fetch=fetcher)
    assert (message.type, message.topic_arn, message.message) == (original["Type"], TOPIC, original["Message"])
    assert message.signature_version == version
    assert message.subject == (original.get("Subject") if original["Type"] == "Notification" else None)
    assert fetcher.calls == [CERT_URL]


def test_the_certificate_is_fetched_once_and_cached(fetcher: FakeFetcher) -> None:
    for _ in range(3):
        sns.message_verify(sign(notification()), fetch=fetcher)
    assert fetcher.calls == [CERT_URL]
    assert len(sns.certificate_cache) == 1


def test_version_2_is_accepted_when_it_is_the_minimum(settings: Any, fetcher: FakeFetcher) -> None:
    settings.INTAKE_SNS_MIN_SIGNATURE_VERSION = "2"
    assert sns.message_verify(sign(notification(), version="2"), fetch=fetcher).signature_version == "2"


# --- forgeries: refused before any fetch ----------------------------------------------


UNTRUSTED_CERT_URLS = [
    "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
    "https://evil.test/SimpleNotificationService-x.pem",
    "https://sns.us-east-1.amazonaws.com.evil.test/x.pem",
    "https://evil.test/sns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com@evil.test/x.pem",
    "https://evil.test\\@sns.us-east-1.amazonaws.com/x.pem",
    "https://evil.test#@sns.us-east-1.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.com:8443/x.pem",
    "https://sns.us-east-1.amazonaws.com\n/x.pem",
    "https://sns.amazonaws.com/x.pem",
    "https://sns.us-east-1.amazonaws.co/x.pem",
    "https://sns.us-east-1.amazonaws.com.cn.evil.test/x.pem",
    "https://xsns.us-east-1.amazonaws.com/x.pem",
    "https://s3.us-east-1.amazonaws.com/bucket/x.pem",
    "https://sns.us-east-1.amazonaws.com.\u0435vil.test/x.pem",
    "//sns.us-east-1.amazonaws.com/x.pem",
    "file:///etc/ssl/x.pem",
    "",
    None,
]
# On SNS's host, but not a certificate file.
NOT_A_CERTIFICATE_URLS = [
    "https://sns.us-east-1.amazonaws.com/x.txt",
    "https://sns.us-east-1.amazonaws.com/x.pem?redirect=https://evil.test/x.pem",
    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
]


@pytest.mark.parametrize("url", [*UNTRUSTED_CERT_URLS, *NOT_A_CERTIFICATE_URLS])
def test_an_untrusted_certificate_url_is_refused_without_fetching(url: Any, fetcher: FakeFetcher) -> None:
    # Signed by the attacker's own key, whose certificate the attacker would serve.
    document = sign(notification(SigningCertURL=url), key=rsa_key("attacker"))
    assert "SigningCertURL" in rejected(document, fetcher)
    assert fetcher.calls == []


@pytest.mark.parametrize(
    "host", ["sns.us-east-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn", "sns.us-gov-west-1.amazonaws.com"]
)
def test_sns_hosts_of_every_partition_are_trusted(host: str) -> None:
    assert sns.signing_cert_url_problem(f"https://{host}/SimpleNotificationService-abc.pem") is None


def test_a_tampered_message_is_refused(fetcher: FakeFetcher) -> None:
    document = sign(notification())
    document["Message"] = document["Message"].replace("ObjectCreated", "ObjectRemoved")
    assert rejected(document, fetcher) == "signature does not verify"


@pytest.mark.parametrize(
    "change",
    [
        {"Subject": "Something else"},
        {"Subject": ...},
        {"MessageId": "another-id"},
        {"Type": "SubscriptionConfirmation"},
    ],
    ids=["subject-changed", "subject-removed", "message-id", "type"],
)
def test_a_tampered_signed_field_is_refused(change: dict[str, Any], fetcher: FakeFetcher) -> None:
    document = sign(notification())
    document.update(change)
    document = {k: v for k, v in document.items() if v is not ...}
    if document["Type"] == "SubscriptionConfirmation":
        document.update(SubscribeURL=SUBSCRIBE_URL, Token=TOKEN)
    assert rejected(document, fetcher) == "signature does not verify"


def test_a_subject_added_to_a_message_signed_without_one_is_refused(fetcher: FakeFetcher) -> None:
    document = sign(notification(Subject=...))
    document["Subject"] = "Injected"
    assert rejected(document, fetcher) == "signature does not verify"


def test_a_signature_by_another_key_is_refused(fetcher: FakeFetcher) -> None:
    assert rejected(sign(notification(), key=rsa_key("attacker")), fetcher) == "signature does not verify"


def test_a_wrong_topic_is_refused_without_fetching(fetcher: FakeFetcher) -> None:
    assert "is not allowed" in rejected(sign(notification(TopicArn=OTHER_TOPIC)), fetcher)
    assert fetcher.calls == []


def test_no_topics_configured_refuses_everything(settings: Any, fetcher: FakeFetcher) -> None:
    settings.INTAKE_SNS_TOPIC_ARNS = []
    assert "is not allowed" in rejected(sign(notification()), fetcher)
    assert fetcher.calls == []


def test_a_downgrade_to_version_1_is_refused_when_the_minimum_is_2(settings: Any, fetcher: FakeFetcher) -> None:
    settings.INTAKE_SNS_MIN_SIGNATURE_VERSION = "2"
    # A validly SHA-1-signed message (as an attacker holding a SHA-1 collision would have).
    assert rejected(sign(notification(), version="1"), fetcher) == "SignatureVersion 1 is below the minimum 2"
    # A version-2 message relabelled as version 1.
    relabelled = sign(notification(), version="2")
    relabelled["SignatureVersion"] = "1"
    assert rejected(relabelled, fetcher) == "SignatureVersion 1 is below the minimum 2"
    assert fetcher.calls == []


def test_a_relabelled_version_does_not_verify(fetcher: FakeFetcher) -> None:
    """Signed with SHA-256 but claiming version 1 (minimum 1): the digests differ."""
    assert rejected(sign(notification(), version="1", digest="sha256"), fetcher) == "signature does not verify"
    assert rejected(sign(notification(), version="2", digest="sha1"), fetcher) == "signature does not verify"


@pytest.mark.parametrize("version", ["3", "0", "", "2.0", " 2", 2, None])
def test_an_unknown_signature_version_is_refused_without_fetching(version: Any, fetcher: FakeFetcher) -> None:
    document = sign(notification())
    document["SignatureVersion"] = version
    assert "SignatureVersion" in rejected(document, fetcher)
    assert fetcher.calls == []


def test_an_expired_certificate_is_refused(fetcher: FakeFetcher) -> None:
    fetcher.responses[CERT_URL] = certificate_pem(
        rsa_key(), valid_from=dt.timedelta(days=-30), valid_until=dt.timedelta(days=-1)
    )
    assert rejected(sign(notification()), fetcher) == "signing certificate is not valid now"


def test_a_certificate_not_yet_valid_is_refused(fetcher: FakeFetcher) -> None:
    fetcher.responses[CERT_URL] = certificate_pem(
        rsa_key(), valid_from=dt.timedelta(days=1), valid_until=dt.timedelta(days=30)
    )
    assert rejected(sign(notification()), fetcher) == "signing certificate is not valid now"


@pytest.mark.parametrize(
    ("served", "reason"),
    [
        (lambda: certificate_pem(rsa_key(), common_name="evil.test"), "signing certificate is not issued to SNS"),
        (
            lambda: certificate_pem(rsa_key(), common_name="sns.amazonaws.com.evil.test"),
            "signing certificate is not issued to SNS",
        ),
        (
            lambda: certificate_pem(ec.generate_private_key(ec.SECP256R1())),
            "signing certificate does not hold an RSA key",
        ),
        (lambda: b"<html>not a certificate</html>", "signing certificate is not a PEM certificate"),
    ],
    ids=["foreign-name", "lookalike-name", "ec-key", "garbage"],
)
def test_a_certificate_that_is_not_snss_is_refused_and_not_cached(
    served: Any, reason: str, fetcher: FakeFetcher
) -> None:
    fetcher.responses[CERT_URL] = served()
    assert rejected(sign(notification()), fetcher) == reason
    assert rejected(sign(notification()), fetcher) == reason
    assert fetcher.calls == [CERT_URL, CERT_URL]
    assert len(sns.certificate_cache) == 0


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (dt.timedelta(hours=-2), "older than"),
        (dt.timedelta(minutes=-61), "older than"),
        (dt.timedelta(hours=1), "in the future"),
    ],
)
def test_a_stale_or_future_timestamp_is_refused_without_fetching(
    offset: dt.timedelta, words: str, fetcher: FakeFetcher
) -> None:
    assert words in rejected(sign(notification(Timestamp=sns_timestamp(offset))), fetcher)
    assert fetcher.calls == []


def test_the_replay_window_is_configurable(settings: Any, fetcher: FakeFetcher) -> None:
    document = sign(notification(Timestamp=sns_timestamp(dt.timedelta(minutes=-10))))
    assert sns.message_verify(document, fetch=fetcher)
    settings.INTAKE_SNS_MAX_AGE_SECONDS = 300
    assert "older than" in rejected(document, fetcher)


@pytest.mark.parametrize("timestamp", ["yesterday", "2026-01-01T00:00:00", 1700000000])
def test_a_malformed_timestamp_is_refused(timestamp: Any, fetcher: FakeFetcher) -> None:
    assert "Timestamp" in rejected(sign(notification(Timestamp=str(timestamp))) | {"Timestamp": timestamp}, fetcher)
    assert fetcher.calls == []


@pytest.mark.parametrize("signature", ["not base64!", "", "QUJD\n", None])
def test_a_malformed_signature_is_refused_without_fetching(signature: Any, fetcher: FakeFetcher) -> None:
    document = sign(notification()) | {"Signature": signature}
    assert rejected(document, fetcher) == "Signature is missing or not base64"
    assert fetcher.calls == []


@pytest.mark.parametrize(
    "document",
    [
        [],
        "text",
        {"Type": "Notification"},
        {**notification(), "Type": "Other"},
        {**notification(), "Message": {"Records": []}},
        {**notification(), "MessageId": None},
    ],
    ids=["list", "string", "bare", "unknown-type", "message-not-string", "no-message-id"],
)
def test_malformed_documents_are_refused_without_fetching(document: Any, fetcher: FakeFetcher) -> None:
    assert rejected(document, fetcher)
    assert fetcher.calls == []


def test_an_unreachable_certificate_host_is_unavailable_not_forged() -> None:
    def down(url: str, *, max_bytes: int) -> bytes:
        raise sns.SnsUnavailable("sns.us-east-1.amazonaws.com could not be reached")

    with pytest.raises(sns.SnsUnavailable):
        sns.message_verify(sign(notification()), fetch=down)


def test_a_bad_minimum_setting_is_a_configuration_error(settings: Any, fetcher: FakeFetcher) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.INTAKE_SNS_MIN_SIGNATURE_VERSION = "0"
    with pytest.raises(ImproperlyConfigured):
        sns.message_verify(sign(notification()), fetch=fetcher)


# --- subscription confirmation --------------------------------------------------------


def test_a_verified_subscription_is_confirmed_by_visiting_its_subscribe_url(fetcher: FakeFetcher) -> None:
    fetcher.responses[SUBSCRIBE_URL] = b"<ConfirmSubscriptionResponse/>"
    message = sns.message_verify(sign(confirmation()), fetch=fetcher)
    sns.subscription_confirm(message, fetch=fetcher)
    assert fetcher.calls == [CERT_URL, SUBSCRIBE_URL]


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t",
        "https://evil.test/?Action=ConfirmSubscription&Token=t",
        "https://sns.us-east-1.amazonaws.com.evil.test/?Action=ConfirmSubscription&Token=t",
        "https://sns.us-east-1.amazonaws.com@evil.test/?Action=ConfirmSubscription&Token=t",
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&Token=t",
        f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={OTHER_TOPIC}&Token=t",
    ],
)
def test_an_untrusted_subscribe_url_is_refused_without_fetching(url: str, fetcher: FakeFetcher) -> None:
    assert "SubscribeURL" in rejected(sign(confirmation(SubscribeURL=url)), fetcher)
    assert fetcher.calls == []


def test_only_a_subscription_confirmation_is_confirmed(fetcher: FakeFetcher) -> None:
    message = sns.message_verify(sign(confirmation("UnsubscribeConfirmation")), fetch=fetcher)
    with pytest.raises(sns.SnsMessageRejected):
        sns.subscription_confirm(message, fetch=fetcher)
    assert fetcher.calls == [CERT_URL]


# --- the cache and the production fetcher -------------------------------------------------


def test_the_cache_expires_entries_and_keeps_the_newest() -> None:
    now = [0.0]
    cache = sns.CertificateCache(ttl_seconds=10, max_entries=2, clock=lambda: now[0])
    certificate = x509.load_pem_x509_certificate(certificate_pem(rsa_key()))
    for url in ("a", "b", "c"):
        cache.put(url, certificate)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, certificate, certificate)
    now[0] = 10.0
    assert cache.get("b") is None
    assert len(cache) == 1


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.mark.parametrize("url", [url for url in UNTRUSTED_CERT_URLS if url])
def test_the_production_fetcher_refuses_untrusted_urls_itself(url: str, no_network: list[Any]) -> None:
    with pytest.raises(sns.SnsMessageRejected):
        sns.HttpsFetcher()(url, max_bytes=1024)
    assert no_network == []


def test_the_production_fetcher_reports_an_unreachable_sns_as_unavailable(no_network: list[Any]) -> None:
    with pytest.raises(sns.SnsUnavailable):
        sns.HttpsFetcher(timeout=1)(CERT_URL, max_bytes=1024)
    assert no_network, "the fetch went through socket.create_connection"


def test_the_production_fetcher_follows_no_redirect() -> None:
    import urllib.request
    from email.message import Message

    from config import https

    handler = https._RefuseRedirects()
    request = urllib.request.Request(CERT_URL)
    assert handler.redirect_request(request, None, 302, "Found", Message(), "https://evil.test/x.pem") is None
