"""Verify Amazon Cognito ID and access tokens with PyJWT. No views, no network in tests.

Not mozilla-django-oidc's check: it verifies neither `aud` nor `iss`, defaults to HS256
and fetches keys without a timeout. In an order that keeps forgeries cheap:

1. Before any key is looked up or fetched: a bounded length, three base64url parts,
   header and payload JSON objects without duplicate names (so no two parsers can
   disagree about a claim), and exactly RS256 in the header, so `none` and HS256 keyed
   with our public key (the classic confusion) never reach a key.
2. The `kid`'s key from the pool's `JwksCache`, which rate-limits refetches.
3. PyJWT: the signature, `iss`, `exp`, `nbf`, `aud` (ID tokens), with leeway.
4. Cognito's own: `token_use`, `iat` not in the future, every `aud` ours, the `nonce`,
   and `client_id` + `scope` for access tokens (Cognito puts no `aud` in those).

Every refusal is a `TokenRejected` whose `reason` is a constant from token_errors, safe
to log; the token itself is never logged. Its subclass `KeysUnavailable` means the keys
could not be fetched: callers catching only `TokenRejected` fail closed (401), callers
wanting a 503 (so machine clients retry) catch `KeysUnavailable` first.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import jwt

# The pool, the keys and the refusal reasons live in their own modules; they are
# re-exported so callers need only this one.
from uploader.access.cognito_pool import CognitoPool, _caches, jwks_cache_for, machine_client_ids, pool_from_settings  # noqa: F401
from uploader.access.jwks import (  # noqa: F401
    ALGORITHM,
    JWKS_MAX_BYTES,
    JWKS_MAX_STALE_SECONDS,
    JwksCache,
    https_fetcher,
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
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")  # no padding, no stray dots
_LAST_DATE = 253402300799  # 9999-12-31: later (or negative) dates cannot become a datetime

# PyJWT's exceptions as our reasons, looked up along the exception's class hierarchy (so
# InvalidSignatureError wins over its base DecodeError). Anything else is "malformed".
_REASONS: dict[type[Exception], str] = {
    jwt.InvalidSignatureError: BAD_SIGNATURE,
    jwt.InvalidAlgorithmError: ALGORITHM_NOT_ALLOWED,
    jwt.ExpiredSignatureError: EXPIRED,
    jwt.ImmatureSignatureError: NOT_YET_VALID,  # `nbf`: our own check does `iat`
    jwt.InvalidIssuerError: WRONG_ISSUER,
    jwt.InvalidAudienceError: WRONG_AUDIENCE,
}


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


def _strict_object(segment: str) -> dict[str, Any]:
    """A base64url JSON object, refusing what PyJWT's json.loads lets through: duplicate
    names (it keeps the last) and NaN/Infinity. ValueError otherwise."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({name for name, _ in pairs}) != len(pairs):
            raise ValueError("duplicate name")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    value = json.loads(
        jwt.utils.base64url_decode(segment), object_pairs_hook=no_duplicates, parse_constant=no_constants
    )
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _is_numeric_date(value: Any) -> bool:
    """PyJWT reads dates with int(), which also takes "123" and true."""
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value <= _LAST_DATE


def _unverified_kid(token: Any) -> str:
    """The header's `kid`, once shape, JSON and algorithm are right. Nothing here touches
    a key, so junk costs no fetch. Whatever the input, only TokenRejected comes out."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _COMPACT.fullmatch(token):
        raise TokenRejected(MALFORMED)
    header_segment, payload_segment, _ = token.split(".")
    try:
        header = jwt.get_unverified_header(token)  # also refuses a kid that is not a string
        _strict_object(header_segment)
        payload = _strict_object(payload_segment)
    except (jwt.PyJWTError, ValueError, RecursionError) as exc:
        raise TokenRejected(MALFORMED) from exc
    if header.get("alg") != ALGORITHM:
        raise TokenRejected(ALGORITHM_NOT_ALLOWED)
    if not header.get("kid") or "crit" in header:
        raise TokenRejected(MALFORMED)  # no kid, or extensions we do not use
    if not all(_is_numeric_date(payload[name]) for name in ("exp", "iat", "nbf") if payload.get(name) is not None):
        raise TokenRejected(MALFORMED)
    return str(header["kid"])


def _reason(exc: jwt.PyJWTError) -> str:
    """A missing `iss` is a wrong issuer, as it always was here."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return WRONG_ISSUER if exc.claim == "iss" else MISSING_CLAIM
    return next((_REASONS[kind] for kind in type(exc).__mro__ if kind in _REASONS), MALFORMED)


def _decode(
    token: Any, *, pool: CognitoPool, cache: JwksCache, use: str, audience: Collection[str] | None, leeway: float
) -> dict[str, Any]:
    """Claims of a token signed by one of the pool's keys, with the checks both kinds
    of token share."""
    if cache.jwks_url != pool.jwks_url:
        raise ValueError("cache belongs to another pool")  # a wiring mistake, not a token problem
    key = cache.get_key(_unverified_kid(token))
    required = ["iss", "sub", "exp", "iat"] + (["aud"] if audience is not None else [])
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=pool.issuer,
            audience=audience,
            leeway=leeway,
            # verify_iat off: PyJWT reports a future iat as it does nbf; ours says which.
            options={"require": required, "verify_aud": audience is not None, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenRejected(_reason(exc)) from exc
    if claims.get("token_use") != use:
        raise TokenRejected(WRONG_TOKEN_USE)
    if claims["iat"] > time.time() + leeway:
        raise TokenRejected(ISSUED_IN_FUTURE)
    if not claims["sub"]:  # PyJWT checks it is a string, not that it says anything
        raise TokenRejected(MISSING_CLAIM)
    return claims


def cognito_groups(claims: dict[str, Any]) -> tuple[str, ...]:
    """`cognito:groups`, a list of group names; absent when the user is in no group."""
    groups = claims.get("cognito:groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise TokenRejected(MALFORMED)
    return tuple(groups)


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
    claims = _decode(token, pool=pool, cache=cache, use="id", audience=pool.client_ids, leeway=leeway)
    # PyJWT is satisfied if one audience is ours; OIDC says refuse a token that also
    # names audiences we do not trust.
    audience = claims["aud"]
    if any(a not in pool.client_ids for a in ([audience] if isinstance(audience, str) else audience)):
        raise TokenRejected(WRONG_AUDIENCE)
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
    claims = _decode(token, pool=pool, cache=cache, use="access", audience=None, leeway=leeway)
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
        expires_at=dt.datetime.fromtimestamp(claims["exp"], tz=dt.UTC),
    )
