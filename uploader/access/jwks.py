"""A Cognito user pool's signing keys: a shared cache that follows key rotation without
letting invented key ids hammer Cognito. PyJWT parses the keys; when and how they are
fetched stays ours, because PyJWKClient reads the body with no size limit or overall
deadline, retries a failing endpoint on every token, and has no stale keys to fall back on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from config import https
from uploader.access.token_errors import UNKNOWN_KEY, KeysUnavailable, TokenRejected

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"  # the only one Cognito signs user pool tokens with
JWKS_TIMEOUT_SECONDS = 3.0
JWKS_MAX_BYTES = 64 * 1024  # Cognito's JWKS (two keys) is about 1 KiB
JWKS_MAX_KEYS = 32
JWKS_CACHE_SECONDS = 3600.0
JWKS_MIN_REFRESH_SECONDS = 30.0
JWKS_MAX_STALE_SECONDS = 24 * 3600.0

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Fetcher(Protocol):
    """GET `url` within `timeout` seconds and return at most `max_bytes` of its body.

    Raises KeysUnavailable, OSError (TimeoutError included) or ValueError on failure.
    """

    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> bytes: ...


def checked_url(value: str, *, what: str) -> str:
    """`value` if it is an https URL (http only on loopback, for a local test provider).

    Refuses user info, query, fragment and characters parsers disagree on, so the host
    checked here is the host we connect to.
    """
    if not value or not value.isascii() or any(c.isspace() or c == "\\" for c in value):
        raise ValueError(f"{what} is not a plain URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError(f"{what} does not parse") from exc
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{what} must be scheme://host[:port][/path] only")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return value
    raise ValueError(f"{what} must be https (http only for 127.0.0.1/localhost)")


def _is_signing_key(jwk: jwt.PyJWK) -> bool:
    """Whether PyJWT's key is one Cognito could sign our tokens with: an RS256 public
    key for signatures, with a string kid, of at least 2048 bits."""
    return (
        jwk.algorithm_name == ALGORITHM
        and jwk.public_key_use in (None, "sig")
        and isinstance(jwk.key_id, str)
        and isinstance(jwk.key, rsa.RSAPublicKey)
        and jwk.Algorithm.check_key_length(jwk.key) is None
    )


def parse_jwks(body: bytes) -> dict[str, jwt.PyJWK]:
    """Signing keys by kid. PyJWT parses the keys and skips those it cannot use; we skip
    any other kind of key, and a kid seen twice keeps its first key. ValueError or
    PyJWKSetError if the document is not a JWKS or holds no usable key."""
    document = json.loads(body)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or len(keys) > JWKS_MAX_KEYS:
        raise ValueError("not a JWKS")
    result: dict[str, jwt.PyJWK] = {}
    for jwk in jwt.PyJWKSet(keys):
        if _is_signing_key(jwk):
            result.setdefault(str(jwk.key_id), jwk)
    if not result:
        raise ValueError("no RSA signing key in the JWKS")
    return result


def https_fetcher(url: str, *, timeout: float, max_bytes: int) -> bytes:
    """The production fetcher (config.https.fetch: verified TLS, no redirects, size
    limit, whole-body deadline) for a URL checked here first."""
    checked_url(url, what="JWKS URL")
    try:
        return https.fetch(
            url, timeout=timeout, max_bytes=max_bytes, user_agent="intake-jwks", accept="application/json"
        )
    except https.FetchFailed as exc:
        raise KeysUnavailable(str(exc)) from exc


class JwksCache:
    """One pool's signing keys by kid, shared by request threads.

    - Keys are fresh for `ttl_seconds`; after that the next lookup refetches.
    - An unknown kid triggers one refetch (Cognito rotated its keys), but fetches happen
      at most once per `min_refresh_seconds`, whatever the outcome, so invented kids or
      an outage cost Cognito one request per interval, not one per token.
    - If a refetch fails, the keys already known stay usable for `max_stale_seconds`
      past their TTL: an outage at Cognito's JWKS endpoint should not lock everyone out.
    - The lock is held during a fetch, so a cold cache under load costs one fetch, not
      one per thread; the fetch timeout bounds how long others wait.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        fetcher: Fetcher = https_fetcher,
        timeout: float = JWKS_TIMEOUT_SECONDS,
        max_bytes: int = JWKS_MAX_BYTES,
        ttl_seconds: float = JWKS_CACHE_SECONDS,
        min_refresh_seconds: float = JWKS_MIN_REFRESH_SECONDS,
        max_stale_seconds: float = JWKS_MAX_STALE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jwks_url = checked_url(jwks_url, what="jwks_url")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.max_stale_seconds = max_stale_seconds
        self._fetcher = fetcher
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._last_failure: str | None = None  # why the last fetch failed, None if it did not

    def get_key(self, kid: str) -> jwt.PyJWK:
        """The key for `kid`, or TokenRejected(UNKNOWN_KEY), or KeysUnavailable."""
        with self._lock:
            now = self._clock()
            if self._is_fresh(now) and kid in self._keys:
                return self._keys[kid]
            if self._attempted_at is None or now - self._attempted_at >= self.min_refresh_seconds:
                self._fetch(now)
            if self._loaded_at is None or now - self._loaded_at >= self.ttl_seconds + self.max_stale_seconds:
                raise KeysUnavailable(self._last_failure or "keys too old")
            if kid in self._keys:
                return self._keys[kid]
            if self._last_failure is not None:
                # Could be a rotation we cannot see yet: let the client retry later.
                raise KeysUnavailable(self._last_failure)
            raise TokenRejected(UNKNOWN_KEY)

    def clear(self) -> None:
        """Forget keys and fetch times (tests; an operator's cache flush)."""
        with self._lock:
            self._keys = {}
            self._loaded_at = self._attempted_at = self._last_failure = None

    def _is_fresh(self, now: float) -> bool:
        return self._loaded_at is not None and now - self._loaded_at < self.ttl_seconds

    def _fetch(self, now: float) -> None:
        """Replace the keys with the published set; on failure keep the old ones."""
        self._attempted_at = now
        host = urlsplit(self.jwks_url).netloc
        try:
            body = self._fetcher(self.jwks_url, timeout=self.timeout, max_bytes=self.max_bytes)
            if len(body) > self.max_bytes:
                raise ValueError(f"more than {self.max_bytes} bytes")
            keys = parse_jwks(body)
        except KeysUnavailable as exc:
            self._last_failure = exc.detail or "fetch failed"
        except (OSError, ValueError, RecursionError, jwt.PyJWTError) as exc:
            self._last_failure = f"{host}: {type(exc).__name__}"
        else:
            self._keys, self._loaded_at, self._last_failure = keys, now, None
            logger.info("Fetched %d signing key(s) from %s", len(keys), host)
            return
        logger.warning("Could not refresh signing keys from %s: %s", host, self._last_failure)
