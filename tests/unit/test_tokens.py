"""Cognito token verification: good tokens pass, every forgery and mistake is refused.

RSA keys are made here at test time (nothing secret is committed). Cognito's JWKS comes
from a fake fetcher that counts its calls, so the tests can prove which refusals happen
before any key is fetched and that refetches are rate limited. Time inside the key
cache is a fake clock; token times are relative to the real clock with wide margins.
The only sockets opened are on 127.0.0.1, to exercise the production fetcher's limits.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ImproperlyConfigured

from uploader.access import tokens
from uploader.access.tokens import (
    AccessClaims,
    CognitoPool,
    JwksCache,
    KeysUnavailable,
    TokenRejected,
    verify_access_token,
    verify_id_token,
)

REGION = "eu-west-1"
POOL_ID = "eu-west-1_AbCdEf123"
WEB_CLIENT = "1example23456789webclient0"
OTHER_CLIENT = "9other23456789clientappzz0"
MACHINE_CLIENT = "4machine56789clientcreds00"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
SCOPES = "intake/uploads.read intake/uploads.write"
KID = "key-a"
NEW_KID = "key-b"


# --- keys and a stand-in for Cognito's JWKS endpoint ------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _jwk(key: rsa.RSAPrivateKey, kid: str, **extra: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": _int_b64(numbers.n),
        "e": _int_b64(numbers.e),
    } | extra


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="module")
def new_key() -> rsa.RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="module")
def attacker_key() -> rsa.RSAPrivateKey:
    return _new_key()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeFetcher:
    """Serves `jwks` (a dict, mutable between calls) and counts calls; `error` makes it fail."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.calls = 0
        self.error: Exception | None = None
        self.body: bytes | None = None  # served instead of `jwks` when set
        self.delay = 0.0
        self.seen: list[tuple[str, float, int]] = []
        self._lock = threading.Lock()

    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        with self._lock:
            self.calls += 1
            self.seen.append((url, timeout, max_bytes))
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.body if self.body is not None else json.dumps(self.jwks).encode()


@pytest.fixture
def pool() -> CognitoPool:
    return CognitoPool(
        region=REGION, user_pool_id=POOL_ID, client_ids=[WEB_CLIENT], domain="intake.auth.eu-west-1.amazoncognito.com"
    )


@pytest.fixture
def fetcher(key: rsa.RSAPrivateKey) -> FakeFetcher:
    return FakeFetcher({"keys": [_jwk(key, KID)]})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(pool: CognitoPool, fetcher: FakeFetcher, clock: FakeClock) -> JwksCache:
    return JwksCache(pool.jwks_url, fetcher=fetcher, clock=clock, ttl_seconds=3600, min_refresh_seconds=30)


# --- tokens ----------------------------------------------------------------------------


def _id_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "aud": WEB_CLIENT,
        "iss": ISSUER,
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "nonce": "n-0S6_WzA2Mj",
        "email": "staff@example.test",
        "cognito:username": "staff",
        "cognito:groups": ["intake-staff", "intake-admins"],
        "event_id": "5d4f2c1a-0000-4000-8000-000000000000",
    }
    return {k: v for k, v in (claims | overrides).items() if v is not None}


def _access_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": MACHINE_CLIENT,
        "client_id": MACHINE_CLIENT,
        "iss": ISSUER,
        "token_use": "access",
        "scope": SCOPES,
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "version": 2,
        "jti": "b0c1d2e3-0000-4000-8000-000000000000",
    }
    return {k: v for k, v in (claims | overrides).items() if v is not None}


def _sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str | None = KID) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: PyJWT itself refuses a PEM key as an HMAC secret."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def _reason(call: Any) -> str:
    with pytest.raises(TokenRejected) as info:
        call()
    return info.value.reason


def _verify_id(token: Any, pool: CognitoPool, cache: JwksCache, **kwargs: Any) -> dict[str, Any]:
    return verify_id_token(token, pool=pool, cache=cache, **kwargs)


def _verify_access(token: Any, pool: CognitoPool, cache: JwksCache, **kwargs: Any) -> AccessClaims:
    kwargs.setdefault("allowed_client_ids", {MACHINE_CLIENT})
    return verify_access_token(token, pool=pool, cache=cache, **kwargs)


# --- good tokens -----------------------------------------------------------------------


def test_valid_id_token_passes(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    claims = _verify_id(_sign(_id_claims(), key), pool, cache, nonce="n-0S6_WzA2Mj")

    assert claims["sub"] == "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    assert claims["email"] == "staff@example.test"
    assert tokens.cognito_groups(claims) == ("intake-staff", "intake-admins")
    assert fetcher.seen == [(pool.jwks_url, 3.0, tokens.JWKS_MAX_BYTES)]


def test_valid_access_token_passes(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    exp = int(time.time()) + 3600

    claims = _verify_access(_sign(_access_claims(exp=exp), key), pool, cache, required_scopes=["intake/uploads.write"])

    assert claims == AccessClaims(
        subject=MACHINE_CLIENT,
        client_id=MACHINE_CLIENT,
        scopes=frozenset({"intake/uploads.read", "intake/uploads.write"}),
        groups=(),
        expires_at=dt.datetime.fromtimestamp(exp, tz=dt.UTC),
    )


def test_keys_are_fetched_once_for_many_tokens(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    for _ in range(5):
        _verify_id(_sign(_id_claims(), key), pool, cache)
        _verify_access(_sign(_access_claims(), key), pool, cache)
    assert fetcher.calls == 1


def test_access_token_groups_and_no_scope(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    claims = _verify_access(_sign(_access_claims(scope=None, **{"cognito:groups": ["ops"]}), key), pool, cache)
    assert claims.scopes == frozenset()
    assert claims.groups == ("ops",)


# --- claims ----------------------------------------------------------------------------


@pytest.mark.parametrize("aud", [OTHER_CLIENT, [WEB_CLIENT, OTHER_CLIENT], [OTHER_CLIENT], [OTHER_CLIENT, WEB_CLIENT]])
def test_wrong_audience(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, aud: Any) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(aud=aud), key), pool, cache)) == "wrong_audience"


def test_audience_list_of_only_our_clients_passes(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    _verify_id(_sign(_id_claims(aud=[WEB_CLIENT]), key), pool, cache)


@pytest.mark.parametrize("aud", [None, "", []])
def test_missing_audience(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, aud: Any) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(aud=aud), key), pool, cache)) == "missing_claim"


@pytest.mark.parametrize("aud", [7, {"aud": WEB_CLIENT}, [WEB_CLIENT, 7]])
def test_badly_typed_audience(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, aud: Any) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(aud=aud), key), pool, cache)) == "wrong_audience"


@pytest.mark.parametrize(
    "iss",
    [
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_SomeoneElse",
        f"{ISSUER}/",
        ISSUER.replace("https", "http"),
        "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbCdEf123",
        ISSUER[:-1],  # a prefix: issuer is compared whole, not as a substring
        "",
        None,
    ],
)
def test_wrong_issuer(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, iss: str | None) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(iss=iss), key), pool, cache)) == "wrong_issuer"
    assert _reason(lambda: _verify_access(_sign(_access_claims(iss=iss), key), pool, cache)) == "wrong_issuer"


def test_expired(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    expired = _id_claims(iat=now - 7200, exp=now - 120)
    assert _reason(lambda: _verify_id(_sign(expired, key), pool, cache)) == "expired"
    expired_access = _access_claims(iat=now - 7200, exp=now - 120)
    assert _reason(lambda: _verify_access(_sign(expired_access, key), pool, cache)) == "expired"


def test_expiry_within_leeway_passes_and_leeway_is_adjustable(
    pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    token = _sign(_id_claims(iat=now - 3600, exp=now - 20), key)
    _verify_id(token, pool, cache)
    assert _reason(lambda: _verify_id(token, pool, cache, leeway=0)) == "expired"


def test_issued_in_the_future(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    future = _id_claims(iat=now + 600, exp=now + 4200)
    assert _reason(lambda: _verify_id(_sign(future, key), pool, cache)) == "issued_in_future"
    _verify_id(_sign(_id_claims(iat=now + 20), key), pool, cache)  # clock skew within leeway


def test_not_before_in_the_future(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    token = _sign(_access_claims(nbf=int(time.time()) + 600), key)
    assert _reason(lambda: _verify_access(token, pool, cache)) == "not_yet_valid"


@pytest.mark.parametrize("name", ["exp", "iat", "sub"])
def test_missing_required_claim(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, name: str) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(**{name: None}), key), pool, cache)) == "missing_claim"


@pytest.mark.parametrize("exp", ["9999999999", True, [1], 10**30, -1, 1e300])
def test_badly_typed_time(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, exp: Any) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(exp=exp), key), pool, cache)) == "malformed"
    assert _reason(lambda: _verify_id(_sign(_id_claims(iat=exp), key), pool, cache)) == "malformed"
    assert _reason(lambda: _verify_access(_sign(_access_claims(nbf=exp), key), pool, cache)) == "malformed"


@pytest.mark.parametrize(("sub", "reason"), [("", "missing_claim"), (7, "malformed"), (["a"], "malformed")])
def test_bad_subject(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, sub: Any, reason: str) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(sub=sub), key), pool, cache)) == reason
    assert _reason(lambda: _verify_access(_sign(_access_claims(sub=sub), key), pool, cache)) == reason


def test_id_token_refused_as_access_token(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    # Even one carrying the client_id and scope an access token would have.
    token = _sign(_id_claims(client_id=MACHINE_CLIENT, scope=SCOPES), key)
    assert _reason(lambda: _verify_access(token, pool, cache)) == "wrong_token_use"


def test_access_token_refused_as_id_token(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    token = _sign(_access_claims(aud=WEB_CLIENT, client_id=WEB_CLIENT), key)
    assert _reason(lambda: _verify_id(token, pool, cache)) == "wrong_token_use"


@pytest.mark.parametrize("token_use", [None, "ID", "refresh", ["access"]])
def test_other_token_use(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, token_use: Any) -> None:
    token = _sign(_access_claims(token_use=token_use), key)
    assert _reason(lambda: _verify_access(token, pool, cache)) == "wrong_token_use"


@pytest.mark.parametrize(
    "required",
    [["intake/uploads.delete"], ["intake/uploads.read", "intake/admin"], ["intake/uploads"], ["uploads.read"]],
)
def test_missing_scope(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, required: list[str]) -> None:
    token = _sign(_access_claims(), key)
    assert _reason(lambda: _verify_access(token, pool, cache, required_scopes=required)) == "missing_scope"


def test_scope_must_be_a_string(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    token = _sign(_access_claims(scope=SCOPES.split()), key)
    assert _reason(lambda: _verify_access(token, pool, cache)) == "malformed"


@pytest.mark.parametrize("allowed", [set(), {WEB_CLIENT}, {OTHER_CLIENT, WEB_CLIENT}])
def test_client_not_allowed(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, allowed: set[str]) -> None:
    token = _sign(_access_claims(), key)
    assert _reason(lambda: _verify_access(token, pool, cache, allowed_client_ids=allowed)) == "client_not_allowed"


def test_access_token_without_client_id(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    token = _sign(_access_claims(client_id=None), key)
    assert _reason(lambda: _verify_access(token, pool, cache)) == "missing_claim"


@pytest.mark.parametrize("claimed", ["n-other", "", None, "N-0S6_WZA2MJ", "n-0S6_WzA2Mj "])
def test_nonce_mismatch(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, claimed: str | None) -> None:
    token = _sign(_id_claims(nonce=claimed), key)
    assert _reason(lambda: _verify_id(token, pool, cache, nonce="n-0S6_WzA2Mj")) == "nonce_mismatch"


@pytest.mark.parametrize("groups", ["intake-staff", [1], {"a": 1}])
def test_malformed_groups(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, groups: Any) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(**{"cognito:groups": groups}), key), pool, cache)) == "malformed"
    token = _sign(_access_claims(**{"cognito:groups": groups}), key)
    assert _reason(lambda: _verify_access(token, pool, cache)) == "malformed"


# --- algorithm: refused before any key is touched -------------------------------------


def test_alg_none_refused_without_fetching(pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher) -> None:
    for alg in ("none", "None", "NONE"):
        token = _compact({"alg": alg, "kid": KID}, _id_claims())
        assert _reason(lambda t=token: _verify_id(t, pool, cache)) == "algorithm_not_allowed"
    assert fetcher.calls == 0


def test_hs256_signed_with_the_public_key_refused_without_fetching(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    """The classic confusion: the attacker knows our public key and uses it as an HMAC secret."""
    public = key.public_key()
    secrets = [
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        json.dumps(_jwk(key, KID)).encode(),
    ]
    for secret in secrets:
        id_token = _hs256({"alg": "HS256", "kid": KID, "typ": "JWT"}, _id_claims(), secret)
        access_token = _hs256({"alg": "HS256", "kid": KID}, _access_claims(), secret)
        assert _reason(lambda t=id_token: _verify_id(t, pool, cache)) == "algorithm_not_allowed"
        assert _reason(lambda t=access_token: _verify_access(t, pool, cache)) == "algorithm_not_allowed"
    assert fetcher.calls == 0


@pytest.mark.parametrize(
    "alg", ["HS384", "HS512", "RS384", "RS512", "PS256", "ES256", "EdDSA", "rs256", "RS256 ", "", None, ["RS256"]]
)
def test_other_algorithms_refused_without_fetching(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, alg: Any
) -> None:
    header = {"kid": KID} if alg is None else {"alg": alg, "kid": KID}
    token = _compact(header, _id_claims(), b"\x00" * 256)
    assert _reason(lambda: _verify_id(token, pool, cache)) == "algorithm_not_allowed"
    assert fetcher.calls == 0


def test_rs512_really_signed_by_our_key_is_still_refused(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(_id_claims(), key, algorithm="RS512", headers={"kid": KID})
    assert _reason(lambda: _verify_id(token, pool, cache)) == "algorithm_not_allowed"
    assert fetcher.calls == 0


# --- keys ------------------------------------------------------------------------------


def test_signed_by_another_key_with_our_kid(
    pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, attacker_key: rsa.RSAPrivateKey
) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(), attacker_key), pool, cache)) == "bad_signature"
    assert _reason(lambda: _verify_access(_sign(_access_claims(), attacker_key), pool, cache)) == "bad_signature"


def test_tampered_payload(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    header, _, signature = _sign(_access_claims(), key).split(".")
    forged = _b64(json.dumps(_access_claims(scope=f"{SCOPES} intake/admin")).encode())
    assert _reason(lambda: _verify_access(f"{header}.{forged}.{signature}", pool, cache)) == "bad_signature"


def test_empty_signature(pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey) -> None:
    header, payload, _ = _sign(_id_claims(), key).split(".")
    assert _reason(lambda: _verify_id(f"{header}.{payload}.", pool, cache)) == "bad_signature"


def test_unknown_kid_refetches_once_then_is_rate_limited(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, clock: FakeClock, key: rsa.RSAPrivateKey
) -> None:
    _verify_id(_sign(_id_claims(), key), pool, cache)
    assert fetcher.calls == 1
    clock.advance(31)

    bogus = [_sign(_id_claims(), key, kid=f"invented-{i}") for i in range(20)]
    for token in bogus:
        assert _reason(lambda t=token: _verify_id(t, pool, cache)) == "unknown_key"
    assert fetcher.calls == 2  # one refetch for the whole flood

    clock.advance(29)
    assert _reason(lambda: _verify_id(bogus[0], pool, cache)) == "unknown_key"
    assert fetcher.calls == 2
    clock.advance(1)
    assert _reason(lambda: _verify_id(bogus[0], pool, cache)) == "unknown_key"
    assert fetcher.calls == 3
    _verify_id(_sign(_id_claims(), key), pool, cache)  # the real key still works, no fetch
    assert fetcher.calls == 3


def test_unknown_kid_on_a_cold_cache_costs_one_fetch(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(), key, kid="invented"), pool, cache)) == "unknown_key"
    assert fetcher.calls == 1


def test_missing_kid(pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey) -> None:
    assert _reason(lambda: _verify_id(_sign(_id_claims(), key, kid=None), pool, cache)) == "malformed"
    assert _reason(lambda: _verify_id(_sign(_id_claims(), key, kid=""), pool, cache)) == "malformed"
    assert fetcher.calls == 0


def test_key_rotation(
    pool: CognitoPool,
    cache: JwksCache,
    fetcher: FakeFetcher,
    clock: FakeClock,
    key: rsa.RSAPrivateKey,
    new_key: rsa.RSAPrivateKey,
) -> None:
    _verify_id(_sign(_id_claims(), key), pool, cache)
    clock.advance(60)
    fetcher.jwks = {"keys": [_jwk(key, KID), _jwk(new_key, NEW_KID)]}  # Cognito publishes a new key

    claims = _verify_access(_sign(_access_claims(), new_key, kid=NEW_KID), pool, cache)

    assert claims.client_id == MACHINE_CLIENT
    assert fetcher.calls == 2
    _verify_id(_sign(_id_claims(), key), pool, cache)  # the old key until it is withdrawn
    _verify_id(_sign(_id_claims(), new_key, kid=NEW_KID), pool, cache)
    assert fetcher.calls == 2


def test_withdrawn_key_is_refused_after_the_ttl(
    pool: CognitoPool,
    cache: JwksCache,
    fetcher: FakeFetcher,
    clock: FakeClock,
    key: rsa.RSAPrivateKey,
    new_key: rsa.RSAPrivateKey,
) -> None:
    _verify_id(_sign(_id_claims(), key), pool, cache)
    fetcher.jwks = {"keys": [_jwk(new_key, NEW_KID)]}
    clock.advance(3600)

    assert _reason(lambda: _verify_id(_sign(_id_claims(), key), pool, cache)) == "unknown_key"
    assert fetcher.calls == 2


@pytest.mark.parametrize(
    "extra",
    [{"use": "enc"}, {"alg": "RS512"}, {"kty": "EC"}, {"n": "not base64!"}, {"e": 7}, {"kid": 7}, {"kid": ""}],
    ids=["use-enc", "alg-rs512", "kty-ec", "bad-n", "e-not-string", "kid-not-string", "kid-empty"],
)
def test_unsuitable_jwks_entries_are_skipped(
    pool: CognitoPool,
    cache: JwksCache,
    fetcher: FakeFetcher,
    key: rsa.RSAPrivateKey,
    new_key: rsa.RSAPrivateKey,
    extra: dict[str, Any],
) -> None:
    fetcher.jwks = {"keys": [_jwk(key, KID), _jwk(new_key, NEW_KID) | extra]}
    _verify_id(_sign(_id_claims(), key), pool, cache)
    assert _reason(lambda: _verify_id(_sign(_id_claims(), new_key, kid=NEW_KID), pool, cache)) == "unknown_key"


def test_jwks_entry_without_use_or_alg_is_accepted(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    entry = _jwk(key, KID)
    del entry["use"], entry["alg"]
    fetcher.jwks = {"keys": [entry]}
    _verify_id(_sign(_id_claims(), key), pool, cache)


@pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits")
def test_short_rsa_keys_are_skipped(pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher) -> None:
    weak = _new_key(1024)
    fetcher.jwks = {"keys": [_jwk(weak, KID)]}
    with pytest.raises(KeysUnavailable):  # no usable key at all: a broken JWKS, not a bad token
        _verify_id(_sign(_id_claims(), weak), pool, cache)


def test_ec_key_in_jwks_is_skipped(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    fetcher.jwks["keys"].append(
        {"kty": "EC", "crv": "P-256", "kid": "ec", "x": _int_b64(numbers.x), "y": _int_b64(numbers.y)}
    )
    _verify_id(_sign(_id_claims(), key), pool, cache)


def test_private_key_in_jwks_is_skipped(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey, new_key: rsa.RSAPrivateKey
) -> None:
    """A JWKS publishing private material is broken; its keys are not used."""
    private = new_key.private_numbers()
    parts = {"d": private.d, "p": private.p, "q": private.q, "dp": private.dmp1, "dq": private.dmq1, "qi": private.iqmp}
    fetcher.jwks["keys"].append(_jwk(new_key, NEW_KID, **{name: _int_b64(v) for name, v in parts.items()}))
    _verify_id(_sign(_id_claims(), key), pool, cache)
    assert _reason(lambda: _verify_id(_sign(_id_claims(), new_key, kid=NEW_KID), pool, cache)) == "unknown_key"


def test_jwks_kid_must_be_a_string(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey, new_key: rsa.RSAPrivateKey
) -> None:
    fetcher.jwks["keys"].append(_jwk(new_key, NEW_KID) | {"kid": 7})
    _verify_id(_sign(_id_claims(), key), pool, cache)
    assert _reason(lambda: _verify_id(_sign(_id_claims(), new_key, kid="7"), pool, cache)) == "unknown_key"


def test_kid_published_twice_keeps_its_first_key(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey, new_key: rsa.RSAPrivateKey
) -> None:
    fetcher.jwks["keys"].append(_jwk(new_key, KID))
    _verify_id(_sign(_id_claims(), key), pool, cache)
    assert _reason(lambda: _verify_id(_sign(_id_claims(), new_key), pool, cache)) == "bad_signature"


# --- the JWKS endpoint failing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "body"),
    [
        (TimeoutError("timed out"), None),
        (ConnectionRefusedError(), None),
        (KeysUnavailable("cognito answered 503"), None),
        (None, b"<html>Service Unavailable</html>"),
        (None, b'{"keys": "nope"}'),
        (None, b'{"keys": []}'),
        (None, b"[]"),
        (None, b" " * (tokens.JWKS_MAX_BYTES + 1)),
        (None, b'{"keys": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        (None, b"\xff"),
    ],
    ids=[
        "timeout",
        "refused",
        "fetcher-says-unavailable",
        "html",
        "keys-not-list",
        "no-keys",
        "not-object",
        "too-big",
        "deeply-nested",
        "not-utf8",
    ],
)
def test_keys_unavailable(
    pool: CognitoPool,
    cache: JwksCache,
    fetcher: FakeFetcher,
    clock: FakeClock,
    key: rsa.RSAPrivateKey,
    error: Exception | None,
    body: bytes | None,
) -> None:
    fetcher.error, fetcher.body = error, body
    token = _sign(_access_claims(), key)

    with pytest.raises(KeysUnavailable) as info:
        _verify_access(token, pool, cache)
    assert info.value.reason == "keys_unavailable"
    assert isinstance(info.value, TokenRejected)  # callers catching only TokenRejected fail closed

    with pytest.raises(KeysUnavailable):  # an outage costs Cognito one request per interval
        _verify_access(token, pool, cache)
    assert fetcher.calls == 1

    fetcher.error = fetcher.body = None
    clock.advance(30)
    _verify_access(token, pool, cache)
    assert fetcher.calls == 2


def test_known_keys_survive_a_failed_refresh(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, clock: FakeClock, key: rsa.RSAPrivateKey
) -> None:
    token = _sign(_id_claims(), key)
    _verify_id(token, pool, cache)
    fetcher.error = TimeoutError()
    clock.advance(3600 + 10)

    _verify_id(token, pool, cache)  # stale but usable
    assert fetcher.calls == 2
    assert _reason(lambda: _verify_id(_sign(_id_claims(), key, kid="new"), pool, cache)) == "keys_unavailable"

    clock.advance(tokens.JWKS_MAX_STALE_SECONDS)
    with pytest.raises(KeysUnavailable):
        _verify_id(token, pool, cache)


def test_cold_cache_under_load_fetches_once(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    fetcher.delay = 0.05
    token = _sign(_access_claims(), key)
    results: list[str] = []
    barrier = threading.Barrier(16)

    def verify() -> None:
        barrier.wait()
        results.append(_verify_access(token, pool, cache).client_id)

    threads = [threading.Thread(target=verify) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert results == [MACHINE_CLIENT] * 16
    assert fetcher.calls == 1


def test_cache_must_belong_to_the_pool(pool: CognitoPool, fetcher: FakeFetcher, key: rsa.RSAPrivateKey) -> None:
    other = JwksCache(
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other/.well-known/jwks.json", fetcher=fetcher
    )
    with pytest.raises(ValueError, match="another pool"):
        _verify_id(_sign(_id_claims(), key), pool, other)


# --- malformed tokens: refused before any key is touched -----------------------------

_GOOD_HEADER = _b64(json.dumps({"alg": "RS256", "kid": KID}).encode())
_GOOD_PAYLOAD = _b64(b'{"sub": "x"}')


_DEEP = b"[" * 5000 + b"]" * 5000  # nested far past the JSON parser's recursion limit


def _raw_header(raw: bytes) -> str:
    return f"{_b64(raw)}.{_GOOD_PAYLOAD}.c2ln"


def _raw_payload(raw: bytes) -> str:
    return f"{_GOOD_HEADER}.{_b64(raw)}.c2ln"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        f"{_GOOD_HEADER}.{_GOOD_PAYLOAD}",
        f"{_GOOD_HEADER}.{_GOOD_PAYLOAD}.c.d",
        f"{_GOOD_HEADER}.{_GOOD_PAYLOAD}.c2ln.",
        f"{_GOOD_HEADER}=.{_GOOD_PAYLOAD}.c2ln",  # padding
        f"{_GOOD_HEADER}.{_GOOD_PAYLOAD}.c2l*",  # outside the alphabet (the stdlib would skip it)
        f"{_GOOD_HEADER}.{_GOOD_PAYLOAD}.c2l+",  # standard, not url-safe, alphabet
        f"{_GOOD_HEADER}.{_GOOD_PAYLOAD}.c2ln\n",
        f"{_GOOD_HEADER}.{_GOOD_PAYLOAD}.A",  # impossible length
        f"{_GOOD_HEADER[:-1]}.{_GOOD_PAYLOAD}.c2ln",
        _raw_header(b"not json"),
        _raw_header(b"[]"),
        _raw_header(b'"RS256"'),
        _raw_header(b"null"),
        _raw_header(b"\xff\xfe"),
        _raw_header(b'{"alg": "RS256", "kid": "key-a", "x": ' + _DEEP + b"}"),
        _raw_payload(b'{"sub": ' + _DEEP + b"}"),
        _raw_payload(b'{"sub": "x", "exp": Infinity}'),
        _raw_payload(b'{"sub": "x", "exp": 1e400}'),  # a float too big: inf
        f"{_GOOD_HEADER}.{_GOOD_PAYLOAD}.QR",  # not canonical base64url (stray low bits)
        f"{_GOOD_HEADER}..c2ln",
        _raw_header(b'{"alg": "RS256", "kid": "key-a", "crit": ["b64"], "b64": false}'),
        _raw_header(b'{"alg": "RS256", "kid": "key-a", "crit": ["b64"], "b64": true}'),  # PyJWT would accept it
        _raw_header(b'{"alg": "none", "alg": "RS256", "kid": "key-a"}'),  # duplicate
        _raw_header(b'{"alg": "RS256", "kid": "key-a", "crit": ["b64"]}'),
        _raw_header(b'{"alg": "RS256", "kid": 7}'),
        _raw_header(b'{"alg": "RS256", "kid": "key-a", "x": NaN}'),
        "é.é.é",
        "a" * (tokens.MAX_TOKEN_CHARS + 1),
        None,
        b"a.b.c",
        123,
    ],
)
def test_malformed_refused_without_fetching(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, token: Any
) -> None:
    assert _reason(lambda: _verify_id(token, pool, cache)) == "malformed"
    assert _reason(lambda: _verify_access(token, pool, cache)) == "malformed"
    assert fetcher.calls == 0


def test_oversized_token_refused_without_fetching(
    pool: CognitoPool, cache: JwksCache, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    """Well formed and really signed, but longer than any Cognito token: not parsed at all."""
    token = _sign(_id_claims(padding="x" * tokens.MAX_TOKEN_CHARS), key)
    assert _reason(lambda: _verify_id(token, pool, cache)) == "malformed"
    assert fetcher.calls == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b'"claims"',
        b"123",
        b"not json",
        b'{"sub": "a", "sub": "b"}',
        b"\xff",
        b'{"sub": "a", "exp": NaN}',
        b'{"sub": "a", "x": ' + _DEEP + b"}",
        b"",
    ],
)
def test_signed_payload_that_is_not_an_object(
    pool: CognitoPool, cache: JwksCache, key: rsa.RSAPrivateKey, payload: bytes
) -> None:
    """Correctly signed by our key, so only the payload's shape can refuse it."""
    token = jwt.api_jws.encode(payload, key, algorithm="RS256", headers={"kid": KID})
    assert _reason(lambda: _verify_id(token, pool, cache)) == "malformed"


# --- the pool -------------------------------------------------------------------------


def test_pool_derives_cognito_urls(pool: CognitoPool) -> None:
    assert pool.client_ids == (WEB_CLIENT,)
    assert pool.issuer == ISSUER
    assert pool.jwks_url == f"{ISSUER}/.well-known/jwks.json"
    base = "https://intake.auth.eu-west-1.amazoncognito.com"
    assert pool.authorize_url == f"{base}/oauth2/authorize"
    assert pool.token_url == f"{base}/oauth2/token"
    assert pool.userinfo_url == f"{base}/oauth2/userInfo"
    assert pool.logout_url == f"{base}/logout"


def test_pool_without_domain_has_no_endpoints() -> None:
    pool = CognitoPool(region=REGION, user_pool_id=POOL_ID, client_ids=(WEB_CLIENT, OTHER_CLIENT))
    assert pool.client_ids == (WEB_CLIENT, OTHER_CLIENT)
    assert (pool.authorize_url, pool.token_url, pool.userinfo_url, pool.logout_url) == (None, None, None, None)


@pytest.mark.parametrize("domain", ["https://auth.example.test", "https://auth.example.test/", "auth.example.test"])
def test_pool_domain_as_the_console_shows_it(domain: str) -> None:
    pool = CognitoPool(region=REGION, user_pool_id=POOL_ID, client_ids=[WEB_CLIENT], domain=domain)
    assert pool.token_url == "https://auth.example.test/oauth2/token"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9229/local_pool", "http://localhost:9229/local_pool", "https://idp.example.test/pool"]
)
def test_pool_issuer_override(url: str) -> None:
    pool = CognitoPool(region=REGION, user_pool_id="local_4ba8Xq", client_ids=[WEB_CLIENT], issuer_override=url)
    assert pool.issuer == url
    assert pool.jwks_url == f"{url}/.well-known/jwks.json"
    override = CognitoPool(
        region=REGION,
        user_pool_id=POOL_ID,
        client_ids=[WEB_CLIENT],
        issuer_override=url,
        jwks_url_override=f"{url}/keys",
    )
    assert override.jwks_url == f"{url}/keys"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"issuer_override": "http://idp.example.test/pool"},
        {"issuer_override": "http://127.0.0.1.example.test/pool"},
        {"issuer_override": "ftp://localhost/pool"},
        {"issuer_override": "https://user@idp.example.test/pool"},
        {"issuer_override": "https://idp.example.test/pool?x=1"},
        {"issuer_override": "https://idp.example.test\\@localhost/pool"},
        {"jwks_url_override": "http://keys.example.test/jwks.json"},
        {"domain": "http://auth.example.test"},
        {"domain": "auth.example.test/path"},
        {"domain": "https://auth.example.test/oauth2"},
        {"region": "Europe"},
        {"user_pool_id": "us-east-1_AbCdEf123"},  # another region's pool
        {"user_pool_id": "nope"},
        {"client_ids": []},
        {"client_ids": ["has space"]},
    ],
)
def test_pool_refuses_bad_configuration(kwargs: dict[str, Any]) -> None:
    values: dict[str, Any] = {"region": REGION, "user_pool_id": POOL_ID, "client_ids": [WEB_CLIENT]} | kwargs
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by field
        CognitoPool(**values)


def test_pool_is_frozen(pool: CognitoPool) -> None:
    with pytest.raises(AttributeError):
        pool.region = "us-east-1"  # type: ignore[misc]


def test_pool_from_settings(settings: Any) -> None:
    settings.INTAKE_COGNITO_USER_POOL_ID = ""
    assert tokens.pool_from_settings() is None

    settings.INTAKE_COGNITO_REGION = REGION
    settings.INTAKE_COGNITO_USER_POOL_ID = POOL_ID
    settings.INTAKE_COGNITO_CLIENT_ID = WEB_CLIENT
    settings.INTAKE_COGNITO_DOMAIN = "intake.auth.eu-west-1.amazoncognito.com"
    settings.INTAKE_MACHINE_CLIENT_IDS = f"{MACHINE_CLIENT}, {OTHER_CLIENT}"
    pool = tokens.pool_from_settings()
    assert pool is not None
    assert pool.issuer == ISSUER
    assert pool.client_ids == (WEB_CLIENT,)
    assert tokens.machine_client_ids() == {MACHINE_CLIENT, OTHER_CLIENT}
    assert tokens.jwks_cache_for(pool) is tokens.jwks_cache_for(pool)

    settings.INTAKE_COGNITO_REGION = "us-east-1"
    with pytest.raises(ImproperlyConfigured):
        tokens.pool_from_settings()


# --- the production fetcher, against servers on 127.0.0.1 ------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        behaviour = self.server.behaviour  # type: ignore[attr-defined]
        if behaviour == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.end_headers()
            return
        if behaviour == "error":
            self.send_response(503)
            self.end_headers()
            return
        body = {"big": b" " * 100_000, "drip": b" " * 200}.get(behaviour, b'{"keys": []}')
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if behaviour == "drip":
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.wfile.write(body)
        except OSError:
            pass  # the fetcher hung up, as it should

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: http.server.ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"


def test_https_fetcher_reads_the_body(local_server: Any) -> None:
    local_server.behaviour = "ok"
    assert tokens.https_fetcher(_url(local_server), timeout=3, max_bytes=1024) == b'{"keys": []}'


@pytest.mark.parametrize("behaviour", ["redirect", "error", "big", "drip"])
def test_https_fetcher_limits(local_server: Any, behaviour: str) -> None:
    local_server.behaviour = behaviour
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        tokens.https_fetcher(_url(local_server), timeout=0.5, max_bytes=1024)
    assert time.monotonic() - started < 2  # the drip (20 s in all) cannot hold the thread past the deadline


def test_https_fetcher_refuses_plain_http_off_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        tokens.https_fetcher(
            "http://cognito-idp.eu-west-1.amazonaws.com/x/.well-known/jwks.json", timeout=1, max_bytes=1
        )
