"""Where SNS signing certificates may come from, and getting them: URL checks (SNS's own
hosts only, before any network traffic), the HTTPS fetcher and a small cache.

`fetcher` is the module-level fetcher every caller uses unless handed another: tests
replace it with one that serves certificates made at test time and counts calls.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from config import https

logger = logging.getLogger(__name__)

# AWS's own pattern for SNS hosts (the AWS SDKs check the same). fullmatch only: a
# `$` would also accept a trailing newline.
SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
# Names an SNS signing certificate is issued to (subject CN or a DNS SAN).
SNS_CERTIFICATE_NAME = re.compile(r"sns(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?")

MAX_URL_LENGTH = 2048
MAX_CERTIFICATE_BYTES = 64 * 1024  # SNS's PEM files are about 2 KiB
MAX_CONFIRMATION_BYTES = 64 * 1024
FETCH_TIMEOUT_SECONDS = 5.0
CERTIFICATE_CACHE_SECONDS = 24 * 3600
CERTIFICATE_CACHE_ENTRIES = 32


class SnsMessageRejected(Exception):
    """The message is not provably from SNS for one of our topics: answer 403.

    `reason` is short, safe to log and to return (no token, no subscribe URL).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SnsUnavailable(Exception):
    """SNS could not be reached to fetch a certificate or confirm: answer 5xx so SNS retries."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Fetcher(Protocol):
    """GET `url` and return at most `max_bytes` of its body.

    Raises SnsUnavailable when the host cannot be reached (or answers 5xx) and
    SnsMessageRejected for any other failure.
    """

    def __call__(self, url: str, *, max_bytes: int) -> bytes: ...




# --- URLs -----------------------------------------------------------------------------


def sns_url_problem(url: Any) -> str | None:
    """Why `url` is not an https URL on an SNS host, or None.

    The host part must be exactly a host matching SNS_HOST: no user info, no port, no
    characters that parsers disagree on (backslash, whitespace, non-ASCII), so the host
    checked here is the host urllib connects to.
    """
    if not isinstance(url, str) or not url:
        return "no URL"
    if len(url) > MAX_URL_LENGTH or not url.isascii() or any(c.isspace() or c == "\\" or ord(c) < 0x20 for c in url):
        return "URL has characters or a length SNS never sends"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "URL does not parse"
    if parts.scheme != "https":
        return f"URL scheme {parts.scheme[:10]!r} is not https"
    if not SNS_HOST.fullmatch(parts.netloc):
        return f"URL host {parts.netloc[:80]!r} is not an SNS host"
    return None


def signing_cert_url_problem(url: Any) -> str | None:
    """Why SigningCertURL is not an SNS certificate URL, or None."""
    if problem := sns_url_problem(url):
        return f"SigningCertURL: {problem}"
    parts = urlsplit(url)
    if not parts.path.endswith(".pem") or parts.query or parts.fragment:
        return "SigningCertURL: not a .pem file"
    return None


def subscribe_url_problem(url: Any, topic_arn: str) -> str | None:
    """Why SubscribeURL is not SNS's ConfirmSubscription for this topic, or None."""
    if problem := sns_url_problem(url):
        return f"SubscribeURL: {problem}"
    query = parse_qs(urlsplit(url).query)
    if query.get("Action") != ["ConfirmSubscription"]:
        return "SubscribeURL: not a ConfirmSubscription call"
    if query.get("TopicArn", [topic_arn]) != [topic_arn]:
        return "SubscribeURL: for another topic"
    return None


# --- fetching and caching -------------------------------------------------------------


class HttpsFetcher:
    """The production fetcher: HTTPS to SNS hosts only (checked here too, so no caller
    mistake can turn it into a fetch from elsewhere), then config.https.fetch."""

    def __init__(self, *, timeout: float = FETCH_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout

    def __call__(self, url: str, *, max_bytes: int) -> bytes:
        if problem := sns_url_problem(url):
            raise SnsMessageRejected(problem)
        try:
            return https.fetch(url, timeout=self.timeout, max_bytes=max_bytes, user_agent="intake-sns")
        except https.FetchFailed as exc:
            # No answer or a server error: SNS will retry, so ask it to (503).
            if exc.transient:
                raise SnsUnavailable(str(exc)) from exc
            raise SnsMessageRejected(str(exc)) from exc


class CertificateCache:
    """Signing certificates by URL, so a burst of messages costs one fetch.

    Bounded in entries and age; a lock because several request threads share it.
    Certificates are cached only after their identity checks passed; expiry is checked
    on every use, not here.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = CERTIFICATE_CACHE_SECONDS,
        max_entries: int = CERTIFICATE_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, x509.Certificate]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> x509.Certificate | None:
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[url]
                return None
            return entry[1]

    def put(self, url: str, certificate: x509.Certificate) -> None:
        with self._lock:
            self._entries.pop(url, None)
            self._entries[url] = (self._clock() + self.ttl_seconds, certificate)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)  # the oldest

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


fetcher: Fetcher = HttpsFetcher()
certificate_cache = CertificateCache()


def _certificate_problem(certificate: x509.Certificate) -> str | None:
    if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        return "signing certificate does not hold an RSA key"
    names: list[str] = [
        value
        for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if isinstance(value := attribute.value, str)
    ]
    try:
        names += certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        return "signing certificate has malformed extensions"
    if not any(SNS_CERTIFICATE_NAME.fullmatch(name.lower()) for name in names):
        return "signing certificate is not issued to SNS"
    return None


def signing_certificate(url: str, *, fetch: Fetcher | None = None) -> x509.Certificate:
    """The certificate at a trusted SigningCertURL, from the cache or fetched once."""
    if problem := signing_cert_url_problem(url):  # again, whoever calls this
        raise SnsMessageRejected(problem)
    certificate = certificate_cache.get(url)
    if certificate is not None:
        return certificate
    pem = (fetch or fetcher)(url, max_bytes=MAX_CERTIFICATE_BYTES)
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise SnsMessageRejected("signing certificate is not a PEM certificate") from exc
    if problem := _certificate_problem(certificate):
        raise SnsMessageRejected(problem)
    certificate_cache.put(url, certificate)
    return certificate

