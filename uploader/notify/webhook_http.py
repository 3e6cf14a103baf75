"""The HTTP side of portal webhooks: which URLs are acceptable, how a body is signed,
and one POST that cannot be turned against the server's own network.

Everything here is about one request; what a delivery is, its retries and its audit
entries are `uploader.notify.services`.

SSRF: a webhook URL is typed in by staff, but where its host name points is decided
by whoever controls its DNS. So at send time the name is resolved, every address is
checked (no private, loopback, link-local, reserved, multicast or unspecified address,
IPv4-mapped IPv6 included; loopback only when INTAKE_WEBHOOKS_ALLOW_LOOPBACK is on),
and the connection goes to the checked address itself: the name is not resolved a
second time, so DNS cannot change between the check and the connect. TLS still
verifies the certificate against the host name, and the Host header carries it.
Redirects are never followed (a 3xx is a failed delivery), the answer's body is read
up to 4 KiB, and the whole request is cut off after INTAKE_WEBHOOK_TIMEOUT_SECONDS.
Name resolution itself (getaddrinfo) has no timeout of its own; the system resolver's
applies.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

EVENT_FILES_ARRIVED = "portal.files_arrived"
MAX_WEBHOOKS = 5
MAX_URL_LENGTH = 2048
# The answer is read up to this many bytes (enough for an error message), never more.
MAX_ANSWER_BYTES = 4096
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
USER_AGENT = "Intake-Webhook/1"


class WebhookRefused(Exception):
    """The URL may not be contacted (policy, not a network failure); retrying is pointless."""


@dataclass(frozen=True)
class Attempt:
    """What one POST came to. `permanent`: a refusal that a retry cannot change."""

    ok: bool
    status: int | None = None
    reason: str = ""
    permanent: bool = False


# --- signing ---------------------------------------------------------------------------


def signing_key() -> bytes:
    """INTAKE_WEBHOOK_SIGNING_KEY, or (local runs) a key derived from SECRET_KEY: receivers
    are given this key, so it must never be the secret key itself."""
    if settings.INTAKE_WEBHOOK_SIGNING_KEY:
        return settings.INTAKE_WEBHOOK_SIGNING_KEY.encode("utf-8")
    derived = hmac.new(settings.SECRET_KEY.encode("utf-8"), b"intake webhook signing key", hashlib.sha256)
    return derived.hexdigest().encode("ascii")


def signature(body: bytes, key: bytes | None = None) -> str:
    """The X-Intake-Signature value: `sha256=` and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(signing_key() if key is None else key, body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header: str, key: bytes) -> bool:
    """What a receiver does (docs/operations.md): recompute and compare in constant time."""
    return hmac.compare_digest(signature(body, key).encode("ascii"), header.strip().encode("ascii", "replace"))


# --- URLs ------------------------------------------------------------------------------


def address_allowed(address: str, *, allow_loopback: bool) -> bool:
    """May a webhook connect to this IP address? Only public (global unicast) ones, and
    loopback when allowed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 (mapped, or 6to4's 2002::/16) is judged as
        # the IPv4 address it reaches: 2002:a9fe:a9fe:: is the metadata service.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_private)


def _is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Why a send was refused, without the URL (Attempt.reason is shown and audited).
REFUSAL_REASONS = {
    "too_long": "the address is too long",
    "not_url": "the address is not a URL",
    "not_https": "the address is not https://",
    "credentials": "the address carries a user name or password",
    "loopback": "the address points at this server itself",
    "private": "the address is a private or reserved one",
}


def validate_webhook_url(url: str, *, allow_loopback: bool) -> str:
    """The URL as stored, or ValidationError saying what is wrong. https only; plain
    http only to 127.0.0.1/localhost when loopback is allowed; no user:password@; an
    IP address written in the URL must be one we may connect to. (Where a name points
    is checked again at every send.)"""
    text = url.strip()
    shown = text[:80]
    if len(text) > MAX_URL_LENGTH:
        raise ValidationError(f"'{shown}…' is longer than {MAX_URL_LENGTH} characters.", code="too_long")
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in text):
        # Spaces and control characters: http.client refuses them at send time anyway.
        raise ValidationError(f"'{shown}' is not a URL (it holds spaces or control characters).", code="not_url")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValidationError(f"'{shown}' is not a URL.", code="not_url") from None
    if parts.scheme not in {"https", "http"} or not host:
        raise ValidationError(f"'{shown}' is not an https:// URL.", code="not_https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValidationError(f"'{shown}': a webhook URL cannot carry a user name or password.", code="credentials")
    loopback = _is_loopback_host(host)
    if loopback and not allow_loopback:
        raise ValidationError(f"'{shown}' points at this server itself; webhooks go to other servers.", code="loopback")
    if parts.scheme == "http" and not loopback:
        raise ValidationError(
            f"'{shown}' is not an https:// URL (plain http only to 127.0.0.1 in development).", code="not_https"
        )
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not address_allowed(str(literal), allow_loopback=allow_loopback):
        raise ValidationError(
            f"'{shown}' is a private or reserved address; webhooks go to public servers.", code="private"
        )
    return parts._replace(fragment="").geturl()


def validate_webhook_urls(urls: list[str], *, allow_loopback: bool) -> list[str]:
    """Each URL checked (every problem reported at once), repeats dropped, at most five."""
    result: list[str] = []
    problems: list[str] = []
    for url in urls:
        try:
            result.append(validate_webhook_url(url, allow_loopback=allow_loopback))
        except ValidationError as exc:
            problems.extend(exc.messages)
    result = list(dict.fromkeys(result))
    if len(result) > MAX_WEBHOOKS:
        problems.append(f"At most {MAX_WEBHOOKS} webhook URLs per portal.")
    if problems:
        raise ValidationError(problems)
    return result


def origin_of(url: str) -> str:
    """scheme://host[:port] of a webhook URL: what logs and the audit trail show (paths
    and queries of webhook URLs often carry the receiver's secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


# --- sending ---------------------------------------------------------------------------


def resolve_checked(host: str, port: int, *, allow_loopback: bool) -> str:
    """The address to connect to, after checking every address the name resolves to."""
    if host in LOOPBACK_NAMES and not allow_loopback:
        raise WebhookRefused(f"{host} is this server itself")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    refused = [address for address in addresses if not address_allowed(address, allow_loopback=allow_loopback)]
    if refused or not addresses:
        raise WebhookRefused(f"{host} resolves to a private, loopback or reserved address ({refused[0] if refused else 'none'})")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand; Host stays the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, connect_timeout: float, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address, self._connect_timeout = address, connect_timeout

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), timeout=self._connect_timeout)
        sock.settimeout(self.timeout)
        return sock

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def connect(self) -> None:
        # The certificate is checked against the URL's host name, not the address.
        self.sock = ssl.create_default_context().wrap_socket(self._open(), server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> Attempt:
    """POST `body` to `url` once, following the rules in this module's docstring."""
    allow_loopback = settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK
    connect_timeout = settings.INTAKE_WEBHOOK_CONNECT_TIMEOUT_SECONDS
    total = settings.INTAKE_WEBHOOK_TIMEOUT_SECONDS
    started = time.monotonic()
    try:
        validate_webhook_url(url, allow_loopback=allow_loopback)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve_checked(host, port, allow_loopback=allow_loopback)
    except ValidationError as exc:
        # Said without the URL: reasons are shown on the portal page and kept in the
        # audit trail, and a URL's path or query often holds the receiver's secret.
        code = exc.error_list[0].code or ""
        return Attempt(ok=False, reason=f"refused: {REFUSAL_REASONS.get(code, 'the address is not allowed')}", permanent=True)
    except WebhookRefused as exc:
        return Attempt(ok=False, reason=f"refused: {exc}", permanent=True)
    except OSError as exc:
        return Attempt(ok=False, reason=str(exc)[:200])
    remaining = max(total - (time.monotonic() - started), 0.1)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        host, port, address=address, connect_timeout=min(connect_timeout, remaining), timeout=remaining
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    fired = threading.Event()
    spare: socket.socket | None = None
    timer: threading.Timer | None = None
    try:
        connection.connect()
        assert connection.sock is not None
        # The whole request is cut off at the deadline, whatever it is doing (a server
        # sending a byte every few seconds never hits a per-read timeout): shut the
        # socket down through a duplicate descriptor, which works under TLS too.
        spare = killer = socket.socket(fileno=os.dup(connection.sock.fileno()))

        def cut() -> None:
            fired.set()
            with contextlib.suppress(OSError):
                killer.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(max(total - (time.monotonic() - started), 0.01), cut)
        timer.daemon = True
        timer.start()
        connection.request("POST", target, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        excerpt = response.read(MAX_ANSWER_BYTES)
        status = response.status
    except TimeoutError:
        return Attempt(ok=False, reason="timed out")
    except (OSError, http.client.HTTPException) as exc:
        if fired.is_set():
            return Attempt(ok=False, reason="timed out")
        if isinstance(exc, http.client.InvalidURL):
            return Attempt(ok=False, reason="the address cannot be sent (InvalidURL)", permanent=True)  # it quotes the URL
        return Attempt(ok=False, reason=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        if timer is not None:
            timer.cancel()
        if spare is not None:
            spare.close()
        connection.close()
    if fired.is_set():
        return Attempt(ok=False, status=status, reason="timed out")
    if 200 <= status < 300:
        return Attempt(ok=True, status=status)
    if 300 <= status < 400:
        return Attempt(ok=False, status=status, reason=f"HTTP {status}: redirect not followed")
    text = " ".join(excerpt.decode("utf-8", "replace").split())[:120]
    return Attempt(ok=False, status=status, reason=f"HTTP {status}" + (f": {text}" if text else ""))
