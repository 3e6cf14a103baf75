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

import datetime as dt
import hmac
import math
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

# The pool, the keys and the refusal reasons live in their own modules; they are
# re-exported so callers need only this one.
from uploader.access.cognito_pool import CognitoPool, _caches, jwks_cache_for, machine_client_ids, pool_from_settings  # noqa: F401
from uploader.access.jwks import (  # noqa: F401
    ALGORITHM,
    JWKS_MAX_BYTES,
    JWKS_MAX_STALE_SECONDS,
    Fetcher,
    JwksCache,
    b64url_decode,
    https_fetcher,
    json_object,
    parse_jwks,
)
from uploader.access.token_errors import *  # noqa: F403
from uploader.access.token_errors import (
    ALGORITHM_NOT_ALLOWED,
    BAD_SIGNATURE,
    CLIENT_NOT_ALLOWED,
    EXPIRED,
    ISSUED_IN_FUTURE,
    MALFORMED,
    MISSING_CLAIM,
    MISSING_SCOPE,
    NONCE_MISMATCH,
    NOT_YET_VALID,
    WRONG_AUDIENCE,
    WRONG_ISSUER,
    WRONG_TOKEN_USE,
    TokenRejected,
)

MAX_TOKEN_CHARS = 16 * 1024  # Cognito tokens are 1-4 KiB; groups and attributes add a little
DEFAULT_LEEWAY_SECONDS = 60


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
        header = json_object(b64url_decode(parts[0]))
        raw_payload = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
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
        return json_object(parts.raw_payload)
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

