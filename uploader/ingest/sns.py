"""Amazon SNS over HTTPS: verify a posted message, confirm a subscription. No views.

Anyone on the internet can POST to an SNS endpoint, so nothing in a message is
believed until its signature checks out, following AWS's documented algorithm
("Verifying the signatures of Amazon SNS messages"):

- The string to sign is "Key\\nValue\\n" for fixed keys in byte order: for a
  Notification Message, MessageId, Subject (only if present), Timestamp, TopicArn,
  Type; for a (Un)SubscriptionConfirmation Message, MessageId, SubscribeURL,
  Timestamp, Token, TopicArn, Type. Fields outside that list (SigningCertURL,
  UnsubscribeURL, MessageAttributes) are not signed, so they are never used for
  anything but fetching the certificate.
- SignatureVersion "1" is SHA1withRSA, "2" is SHA256withRSA (PKCS#1 v1.5).
- The certificate's public key verifies the signature. The certificate is trusted
  only because it came over HTTPS (system CAs, no redirects) from SNS's own hosts,
  `sns.<region>.amazonaws.com(.cn)`; any other URL is refused before any network
  traffic, so a forged message cannot make us fetch from a host of its choosing.

Cheap checks (type, fields, topic, version, age, URLs) run before the certificate is
fetched, so a stranger who does not know an allowed topic ARN cannot make us fetch
anything at all.

The certificate fetcher is `sns_certificates.fetcher` (or the `fetch` argument): tests
hand in certificates made at test time and count calls, without loosening any of the
checks production runs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from uploader.ingest import sns_certificates
from uploader.ingest.sns_certificates import (  # noqa: F401 - re-exported: callers need only this module
    CERTIFICATE_CACHE_ENTRIES,
    CERTIFICATE_CACHE_SECONDS,
    MAX_CONFIRMATION_BYTES,
    CertificateCache,
    Fetcher,
    HttpsFetcher,
    SnsMessageRejected,
    SnsUnavailable,
    certificate_cache,
    signing_cert_url_problem,
    signing_certificate,
    sns_url_problem,
    subscribe_url_problem,
)

logger = logging.getLogger(__name__)

CLOCK_SKEW_SECONDS = 300  # how far in the future a Timestamp may be

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

# Signed keys per message type, in the byte order AWS signs them.
_CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_KEYS: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_KEYS,
    UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_KEYS,
}
OPTIONAL_SIGNED_KEYS = frozenset({"Subject"})

# SignatureVersion -> digest of SHA*withRSA. SHA-1 is what SNS signs with in version 1,
# which is still every topic's default; INTAKE_SNS_MIN_SIGNATURE_VERSION refuses it.
SIGNATURE_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,  # fixed by SNS's SignatureVersion 1, not our choice
    "2": hashes.SHA256,
}


@dataclass(frozen=True)
class SnsMessage:
    """A verified message; every field here was covered by the signature."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    subject: str | None
    timestamp: dt.datetime
    subscribe_url: str
    signature_version: str


# --- settings -------------------------------------------------------------------------


def allowed_topic_arns() -> frozenset[str]:
    """Topics whose messages are accepted; empty disables the endpoint."""
    return frozenset(getattr(settings, "INTAKE_SNS_TOPIC_ARNS", None) or ())


def minimum_signature_version() -> str:
    """The lowest SignatureVersion accepted.

    Defaults to "1" because that is what every SNS topic signs with until someone sets
    its SignatureVersion attribute to 2; a stricter default would refuse a freshly made
    topic's subscription confirmation. Set "2" once the topic signs with SHA-256: then a
    message that claims version 1 is refused before anything is fetched, so an
    attacker cannot fall back to SHA-1 (the "downgrade").
    """
    value = str(getattr(settings, "INTAKE_SNS_MIN_SIGNATURE_VERSION", "1"))
    if value not in SIGNATURE_HASHES:
        raise ImproperlyConfigured("INTAKE_SNS_MIN_SIGNATURE_VERSION must be '1' or '2'")
    return value


def max_age() -> dt.timedelta:
    """How old a message may be. SNS keeps a message's Timestamp across its retries,
    and its HTTP retry policy spans at most an hour, hence the default."""
    return dt.timedelta(seconds=int(getattr(settings, "INTAKE_SNS_MAX_AGE_SECONDS", 3600)))



# --- verification ---------------------------------------------------------------------


def string_to_sign(document: dict[str, Any]) -> bytes:
    """AWS's canonical form of a message: "Key\\nValue\\n" for each signed key present."""
    keys = SIGNED_KEYS.get(str(document.get("Type")))
    if keys is None:
        raise SnsMessageRejected("unknown message Type")
    lines: list[str] = []
    for key in keys:
        value = document.get(key)
        if value is None and key in OPTIONAL_SIGNED_KEYS:
            continue  # "Subject (if included in the message)"; SNS sends null or omits it
        if not isinstance(value, str):
            raise SnsMessageRejected(f"field {key} is missing or not a string")
        lines.append(f"{key}\n{value}\n")
    return "".join(lines).encode("utf-8")


def _timestamp(value: Any, now: dt.datetime) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        raise SnsMessageRejected("Timestamp is not an ISO 8601 time with a zone")
    if stamp < now - max_age():
        raise SnsMessageRejected(f"Timestamp {value[:40]!r} is older than {max_age()}")
    if stamp > now + dt.timedelta(seconds=CLOCK_SKEW_SECONDS):
        raise SnsMessageRejected(f"Timestamp {value[:40]!r} is in the future")
    return stamp


def message_verify(document: Any, *, fetch: Fetcher | None = None, now: dt.datetime | None = None) -> SnsMessage:
    """Return the message if SNS provably sent it for an allowed topic; else raise.

    Raises SnsMessageRejected (forged, tampered, stale, foreign topic: 403) or
    SnsUnavailable (the certificate could not be fetched right now: 5xx, SNS retries).
    """
    now = now or timezone.now()
    if not isinstance(document, dict):
        raise SnsMessageRejected("message is not a JSON object")
    signed = string_to_sign(document)  # checks Type and that every signed field is a string
    message_type: str = document["Type"]
    topic_arn: str = document["TopicArn"]
    if topic_arn not in allowed_topic_arns():
        raise SnsMessageRejected(f"topic {topic_arn[:200]!r} is not allowed")
    version = document.get("SignatureVersion")
    if not isinstance(version, str) or version not in SIGNATURE_HASHES:
        raise SnsMessageRejected(f"SignatureVersion {str(version)[:10]!r} is not supported")
    minimum = minimum_signature_version()
    if int(version) < int(minimum):
        raise SnsMessageRejected(f"SignatureVersion {version} is below the minimum {minimum}")
    timestamp = _timestamp(document["Timestamp"], now)
    cert_url: str = document.get("SigningCertURL", "")
    if problem := signing_cert_url_problem(cert_url):
        raise SnsMessageRejected(problem)
    if message_type != NOTIFICATION and (problem := subscribe_url_problem(document["SubscribeURL"], topic_arn)):
        raise SnsMessageRejected(problem)
    encoded = document.get("Signature")
    try:
        signature = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
    except (binascii.Error, ValueError):
        signature = b""
    if not signature:
        raise SnsMessageRejected("Signature is missing or not base64")

    certificate = signing_certificate(cert_url, fetch=fetch)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SnsMessageRejected("signing certificate is not valid now")
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):  # checked before caching; kept for the type checker
        raise SnsMessageRejected("signing certificate does not hold an RSA key")
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), SIGNATURE_HASHES[version]())
    except InvalidSignature as exc:
        raise SnsMessageRejected("signature does not verify") from exc
    subject = document.get("Subject")
    return SnsMessage(
        type=message_type,
        message_id=document["MessageId"],
        topic_arn=topic_arn,
        message=document["Message"],
        subject=subject if isinstance(subject, str) else None,
        timestamp=timestamp,
        subscribe_url=document.get("SubscribeURL", "") if message_type != NOTIFICATION else "",
        signature_version=version,
    )


def subscription_confirm(message: SnsMessage, *, fetch: Fetcher | None = None) -> None:
    """Confirm a verified SubscriptionConfirmation by visiting its SubscribeURL.

    The URL is checked again (SNS host, ConfirmSubscription for this topic) so nothing
    but SNS is ever called. The URL carries the subscription token: it is never logged.
    """
    if message.type != SUBSCRIPTION_CONFIRMATION:
        raise SnsMessageRejected("not a SubscriptionConfirmation")
    if problem := subscribe_url_problem(message.subscribe_url, message.topic_arn):
        raise SnsMessageRejected(problem)
    (fetch or sns_certificates.fetcher)(message.subscribe_url, max_bytes=MAX_CONFIRMATION_BYTES)
    logger.info("sns: confirmed the subscription to %s", message.topic_arn)

