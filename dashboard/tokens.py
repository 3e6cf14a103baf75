"""Verify Amazon Cognito ID and access tokens ourselves. No views, no network in tests.

Why not leave it to mozilla-django-oidc: it checks neither `aud` nor `iss`, defaults to
HS256 and fetches keys without a timeout. Here everything a token claims is refused
until proven, in an order that keeps forgeries cheap:

1. Shape: three strictly base64url parts, header and payload JSON objects (duplicate
   keys refused, so no two parsers can disagree about a claim), a bounded length.
2. Algorithm: the header must say exactly RS256. `none`, HS256 (including HS256 keyed
   with our public key, the classic confusion attack) and everything else are refused
   before any key is looked up or fetched.
3. Key: the header's `kid` must name an RSA signing key in the pool's JWKS. Keys come
   from `JwksCache`: a short fetch timeout, a size limit, a TTL, and at most one
   refetch per `min_refresh_seconds` for an unknown `kid` (so rotation works, but a
   flood of invented kids cannot hammer Cognito).
4. Signature: RSASSA-PKCS1-v1_5 with SHA-256, checked by `cryptography` directly, so no
   library's algorithm dispatch sits between the header and the key.
5. Claims: `iss` exact, `token_use`, `exp` and `iat` (with leeway), then `aud` + `nonce`
   for ID tokens or `client_id` + `scope` for access tokens (Cognito puts no `aud` in
   access tokens).

Every refusal is a `TokenRejected` whose `reason` is one of the short constants below:
safe to log and to return. The token itself is never logged. `KeysUnavailable` (reason
"keys_unavailable") is a subclass: the token was not judged because Cognito's keys could
not be fetched. Callers that catch only `TokenRejected` therefore fail closed (401);
callers that want to answer 503, so that machine clients retry, catch `KeysUnavailable`
first.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config import https

logger = logging.getLogger(__name__)

# --- reasons (safe to log) -------------------------------------------------------------

MALFORMED = "malformed"
ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
WRONG_ISSUER = "wrong_issuer"
WRONG_TOKEN_USE = "wrong_token_use"  # noqa: S105 - a reason, not a secret
MISSING_CLAIM = "missing_claim"
EXPIRED = "expired"
ISSUED_IN_FUTURE = "issued_in_future"
NOT_YET_VALID = "not_yet_valid"
WRONG_AUDIENCE = "wrong_audience"
NONCE_MISMATCH = "nonce_mismatch"
CLIENT_NOT_ALLOWED = "client_not_allowed"
MISSING_SCOPE = "missing_scope"
KEYS_UNAVAILABLE = "keys_unavailable"

# --- limits ----------------------------------------------------------------------------

ALGORITHM = "RS256"  # the only one Cognito signs user pool tokens with
MAX_TOKEN_CHARS = 16 * 1024  # Cognito tokens are 1-4 KiB; groups and attributes add a little
DEFAULT_LEEWAY_SECONDS = 60
JWKS_TIMEOUT_SECONDS = 3.0
JWKS_MAX_BYTES = 64 * 1024  # Cognito's JWKS (two keys) is about 1 KiB
JWKS_MAX_KEYS = 32
JWKS_CACHE_SECONDS = 3600.0
JWKS_MIN_REFRESH_SECONDS = 30.0
JWKS_MAX_STALE_SECONDS = 24 * 3600.0
MIN_RSA_BITS = 2048

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_USER_POOL_ID = re.compile(r"[\w-]+_[0-9A-Za-z]+")
_CLIENT_ID = re.compile(r"[\w+]{1,128}")  # Cognito's own pattern for app client ids
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?")


class TokenRejected(Exception):
    """The token does not prove what it claims: answer 401.

    `reason` is one of this module's short constants, safe to log and to return; nothing
    from the token itself is ever put in it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(TokenRejected):
    """Cognito's JWKS could not be fetched (timeout, error, garbage), so the token was not
    judged. A subclass so that callers catching only TokenRejected still fail closed."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(KEYS_UNAVAILABLE)
        self.detail = detail  # host and error type only: safe to log


class Fetcher(Protocol):
    """GET `url` within `timeout` seconds and return at most `max_bytes` of its body.

    Raises KeysUnavailable, OSError (TimeoutError included) or ValueError on failure.
    """

    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> bytes: ...


# --- the pool ------------------------------------------------------------------------


def _checked_url(value: str, *, what: str) -> str:
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
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS):
        return value
    raise ValueError(f"{what} must be https (http only for 127.0.0.1/localhost)")


def _domain_base_url(domain: str) -> str:
    """The hosted UI's base URL from what the console shows: a bare host, or a URL."""
    if "://" not in domain:
        if not _HOST.fullmatch(domain):
            raise ValueError("domain must be a host name such as example.auth.eu-west-1.amazoncognito.com")
        domain = f"https://{domain}"
    url = _checked_url(domain.rstrip("/"), what="domain")
    if urlsplit(url).path:
        raise ValueError("domain must not have a path")
    return url


@dataclass(frozen=True)
class CognitoPool:
    """One user pool, from the few values an operator knows; everything else is derived.

    `client_ids` are the app clients whose ID tokens we accept (the `aud` of an ID
    token). `issuer_override`/`jwks_url_override` exist for a local test provider only;
    they must still be https unless the host is loopback.
    """

    region: str
    user_pool_id: str
    client_ids: tuple[str, ...]
    domain: str | None = None
    issuer_override: str | None = None
    jwks_url_override: str | None = None
    _domain_url: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept any iterable (a list from settings) but store a tuple: frozen means frozen.
        client_ids = (self.client_ids,) if isinstance(self.client_ids, str) else tuple(self.client_ids)
        object.__setattr__(self, "client_ids", client_ids)
        if not _REGION.fullmatch(self.region):
            raise ValueError("region must look like eu-west-1")
        if not _USER_POOL_ID.fullmatch(self.user_pool_id):
            raise ValueError("user_pool_id must look like eu-west-1_AbCdEf123")
        if self.issuer_override is None and not self.user_pool_id.startswith(f"{self.region}_"):
            raise ValueError("user_pool_id does not belong to region (it starts with the region)")
        if not client_ids or not all(isinstance(c, str) and _CLIENT_ID.fullmatch(c) for c in client_ids):
            raise ValueError("client_ids must be one or more app client ids")
        if self.issuer_override is not None:
            _checked_url(self.issuer_override, what="issuer_override")
        if self.jwks_url_override is not None:
            _checked_url(self.jwks_url_override, what="jwks_url_override")
        if self.domain:
            object.__setattr__(self, "_domain_url", _domain_base_url(self.domain))

    @property
    def issuer(self) -> str:
        """Compared byte for byte with a token's `iss`."""
        if self.issuer_override is not None:
            return self.issuer_override
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        if self.jwks_url_override is not None:
            return self.jwks_url_override
        return f"{self.issuer.rstrip('/')}/.well-known/jwks.json"

    def _endpoint(self, path: str) -> str | None:
        return f"{self._domain_url}{path}" if self._domain_url else None

    @property
    def authorize_url(self) -> str | None:
        return self._endpoint("/oauth2/authorize")

    @property
    def token_url(self) -> str | None:
        return self._endpoint("/oauth2/token")

    @property
    def userinfo_url(self) -> str | None:
        return self._endpoint("/oauth2/userInfo")

    @property
    def logout_url(self) -> str | None:
        """Cognito's hosted-UI logout; the caller adds `client_id` and `logout_uri`."""
        return self._endpoint("/logout")


# --- keys ----------------------------------------------------------------------------


def _b64url_decode(value: str) -> bytes:
    """Strict base64url without padding, as JWS uses it. The standard library's decoder
    silently skips characters outside the alphabet; this one refuses them."""
    if not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object, or ValueError: no duplicate keys, no NaN/Infinity, UTF-8 only."""
    value = json.loads(raw.decode("utf-8"), object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _rsa_key(jwk: Any) -> tuple[str, rsa.RSAPublicKey] | None:
    """(kid, key) for an RSA signing key usable with RS256; None for anything else."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
        return None
    if jwk.get("alg", ALGORITHM) != ALGORITHM:
        return None
    kid, n, e = jwk.get("kid"), jwk.get("n"), jwk.get("e")
    if not (isinstance(kid, str) and kid and isinstance(n, str) and isinstance(e, str)):
        return None
    try:
        modulus = int.from_bytes(_b64url_decode(n), "big")
        exponent = int.from_bytes(_b64url_decode(e), "big")
        if modulus.bit_length() < MIN_RSA_BITS:
            return None
        return kid, rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        return None


def parse_jwks(body: bytes) -> dict[str, rsa.RSAPublicKey]:
    """RSA signing keys by kid. Other keys are skipped; a kid seen twice keeps its first
    key. ValueError if the document is not a JWKS or holds no usable key."""
    document = _json_object(body)
    keys = document.get("keys")
    if not isinstance(keys, list) or len(keys) > JWKS_MAX_KEYS:
        raise ValueError("not a JWKS")
    result: dict[str, rsa.RSAPublicKey] = {}
    for jwk in keys:
        if (found := _rsa_key(jwk)) is not None:
            result.setdefault(*found)
    if not result:
        raise ValueError("no RSA signing key in the JWKS")
    return result


def https_fetcher(url: str, *, timeout: float, max_bytes: int) -> bytes:
    """The production fetcher (config.https.fetch: verified TLS, no redirects, size
    limit, whole-body deadline) for a URL checked here first."""
    _checked_url(url, what="JWKS URL")
    try:
        return https.fetch(url, timeout=timeout, max_bytes=max_bytes, user_agent="intake-jwks", accept="application/json")
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
        self.jwks_url = _checked_url(jwks_url, what="jwks_url")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.max_stale_seconds = max_stale_seconds
        self._fetcher = fetcher
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._loaded_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._last_failure: str | None = None  # why the last fetch failed, None if it did not

    def get_key(self, kid: str) -> rsa.RSAPublicKey:
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
        except (OSError, ValueError) as exc:
            self._last_failure = f"{host}: {type(exc).__name__}"
        else:
            self._keys, self._loaded_at, self._last_failure = keys, now, None
            logger.info("Fetched %d signing key(s) from %s", len(keys), host)
            return
        logger.warning("Could not refresh signing keys from %s: %s", host, self._last_failure)


# --- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class AccessClaims:
    """What a verified Cognito access token says about the machine client calling us.

    For the client-credentials flow `subject` equals `client_id`; `groups` is empty
    unless the token was issued to a user.
    """

    subject: str
    client_id: str
    scopes: frozenset[str]
    groups: tuple[str, ...]
    expires_at: dt.datetime


@dataclass(frozen=True)
class _Parts:
    """A token whose shape and algorithm are right; nothing in it is verified yet."""

    kid: str
    signing_input: bytes
    signature: bytes
    raw_payload: bytes


def _split(token: Any) -> _Parts:
    """Shape and algorithm checks. Nothing here touches a key, so junk costs no fetch."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise TokenRejected(MALFORMED)
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected(MALFORMED)
    try:
        header = _json_object(_b64url_decode(parts[0]))
        raw_payload = _b64url_decode(parts[1])
        signature = _b64url_decode(parts[2])
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise TokenRejected(MALFORMED) from exc
    if header.get("alg") != ALGORITHM:
        raise TokenRejected(ALGORITHM_NOT_ALLOWED)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or "crit" in header:
        raise TokenRejected(MALFORMED)  # no kid, or extensions we do not understand
    return _Parts(kid, f"{parts[0]}.{parts[1]}".encode("ascii"), signature, raw_payload)


def _verified_claims(token: Any, *, pool: CognitoPool, cache: JwksCache) -> dict[str, Any]:
    """The payload of a token RS256-signed by one of the pool's keys; claims unchecked."""
    if cache.jwks_url != pool.jwks_url:
        raise ValueError("cache belongs to another pool")  # a wiring mistake, not a token problem
    parts = _split(token)
    key = cache.get_key(parts.kid)
    try:
        key.verify(parts.signature, parts.signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise TokenRejected(BAD_SIGNATURE) from exc
    try:
        return _json_object(parts.raw_payload)
    except ValueError as exc:
        raise TokenRejected(MALFORMED) from exc


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if value is None:
        raise TokenRejected(MISSING_CLAIM)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenRejected(MALFORMED)
    return float(value)


def _check_common(claims: dict[str, Any], *, pool: CognitoPool, use: str, leeway: float) -> None:
    """Issuer, token use, and time: what both kinds of token must get right."""
    if claims.get("iss") != pool.issuer:
        raise TokenRejected(WRONG_ISSUER)
    if claims.get("token_use") != use:
        raise TokenRejected(WRONG_TOKEN_USE)
    now = time.time()
    if _numeric_date(claims, "exp") + leeway <= now:
        raise TokenRejected(EXPIRED)
    if _numeric_date(claims, "iat") > now + leeway:
        raise TokenRejected(ISSUED_IN_FUTURE)
    if "nbf" in claims and _numeric_date(claims, "nbf") > now + leeway:
        raise TokenRejected(NOT_YET_VALID)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenRejected(MISSING_CLAIM)


def cognito_groups(claims: dict[str, Any]) -> tuple[str, ...]:
    """`cognito:groups`, a list of group names; absent when the user is in no group."""
    groups = claims.get("cognito:groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise TokenRejected(MALFORMED)
    return tuple(groups)


def _check_audience(claims: dict[str, Any], client_ids: Collection[str]) -> None:
    """Cognito sends one client id as a string; a list is accepted only if every entry
    is ours (OIDC: refuse a token that also names audiences we do not trust)."""
    audience = claims.get("aud")
    if isinstance(audience, str):
        audience = [audience]
    if not isinstance(audience, list) or not audience:
        raise TokenRejected(MISSING_CLAIM if audience is None else MALFORMED)
    if not all(isinstance(a, str) and a in client_ids for a in audience):
        raise TokenRejected(WRONG_AUDIENCE)


def verify_id_token(
    token: str,
    *,
    pool: CognitoPool,
    cache: JwksCache,
    nonce: str | None = None,
    leeway: float = DEFAULT_LEEWAY_SECONDS,
) -> dict[str, Any]:
    """The claims of a Cognito ID token issued by `pool` to one of its client ids.

    `nonce`, when given, must equal the token's (the value we put in the authorization
    request), which binds the token to this browser's login.
    """
    claims = _verified_claims(token, pool=pool, cache=cache)
    _check_common(claims, pool=pool, use="id", leeway=leeway)
    _check_audience(claims, pool.client_ids)
    if nonce is not None:
        claimed = claims.get("nonce")
        if not isinstance(claimed, str) or not hmac.compare_digest(claimed.encode(), nonce.encode()):
            raise TokenRejected(NONCE_MISMATCH)
    cognito_groups(claims)  # refuse a malformed group list here, not in a later view
    return claims


def verify_access_token(
    token: str,
    *,
    pool: CognitoPool,
    cache: JwksCache,
    allowed_client_ids: Collection[str],
    required_scopes: Iterable[str] = (),
    leeway: float = DEFAULT_LEEWAY_SECONDS,
) -> AccessClaims:
    """A Cognito access token's claims, if its client is allowed and holds the scopes.

    Access tokens carry `client_id` instead of `aud`, so `allowed_client_ids` is what
    stops a token minted for another app client of the same pool.
    """
    claims = _verified_claims(token, pool=pool, cache=cache)
    _check_common(claims, pool=pool, use="access", leeway=leeway)
    client_id = claims.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise TokenRejected(MISSING_CLAIM)
    if client_id not in allowed_client_ids:
        raise TokenRejected(CLIENT_NOT_ALLOWED)
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise TokenRejected(MALFORMED)
    scopes = frozenset(scope.split())
    if not scopes.issuperset(required_scopes):
        raise TokenRejected(MISSING_SCOPE)
    return AccessClaims(
        subject=claims["sub"],
        client_id=client_id,
        scopes=scopes,
        groups=cognito_groups(claims),
        expires_at=dt.datetime.fromtimestamp(_numeric_date(claims, "exp"), tz=dt.UTC),
    )


# --- settings --------------------------------------------------------------------------


def _setting_list(name: str) -> tuple[str, ...]:
    value = getattr(settings, name, None) or ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(v.strip() for v in value if v.strip())


def pool_from_settings() -> CognitoPool | None:
    """The configured pool, or None when Cognito is not configured at all."""
    user_pool_id = getattr(settings, "INTAKE_COGNITO_USER_POOL_ID", "") or ""
    if not user_pool_id:
        return None
    try:
        return CognitoPool(
            region=getattr(settings, "INTAKE_COGNITO_REGION", "") or "",
            user_pool_id=user_pool_id,
            client_ids=_setting_list("INTAKE_COGNITO_CLIENT_ID"),
            domain=getattr(settings, "INTAKE_COGNITO_DOMAIN", None) or None,
            issuer_override=getattr(settings, "INTAKE_OIDC_ISSUER_OVERRIDE", None) or None,
            jwks_url_override=getattr(settings, "INTAKE_OIDC_JWKS_URL_OVERRIDE", None) or None,
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"Cognito settings: {exc}") from exc


def machine_client_ids() -> frozenset[str]:
    """App clients (client-credentials) allowed to call the JSON API."""
    return frozenset(_setting_list("INTAKE_MACHINE_CLIENT_IDS"))


_caches: dict[str, JwksCache] = {}
_caches_lock = threading.Lock()


def jwks_cache_for(pool: CognitoPool) -> JwksCache:
    """One cache per JWKS URL for the whole process, so every request shares its keys."""
    with _caches_lock:
        cache = _caches.get(pool.jwks_url)
        if cache is None:
            cache = _caches[pool.jwks_url] = JwksCache(
                pool.jwks_url,
                timeout=float(getattr(settings, "INTAKE_JWKS_TIMEOUT_SECONDS", JWKS_TIMEOUT_SECONDS)),
                ttl_seconds=float(getattr(settings, "INTAKE_JWKS_CACHE_SECONDS", JWKS_CACHE_SECONDS)),
                min_refresh_seconds=float(
                    getattr(settings, "INTAKE_JWKS_MIN_REFRESH_SECONDS", JWKS_MIN_REFRESH_SECONDS)
                ),
            )
        return cache
