"""Property tests: whatever the input, the parsers that face the outside world raise
only the exceptions they document (hardening). Hypothesis generates the inputs; each
property is a plain assertion that would fail on the first unexpected exception."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_tokens import (
    KID,
    MACHINE_CLIENT,
    POOL_ID,
    REGION,
    WEB_CLIENT,
    FakeClock,
    FakeFetcher,
    _b64,
    _compact,
    _jwk,
    _new_key,
)
from uploader.access.tokens import CognitoPool, JwksCache, TokenRejected, verify_access_token, verify_id_token
from uploader.ingest import sns
from uploader.ingest.events import ParsedMessage, parse_s3_message
from uploader.uploads.keys import FALLBACK_NAME, MAX_NAME_BYTES, display_filename, safe_filename

pytestmark = pytest.mark.slow

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
s3_object = st.fixed_dictionaries(
    {},
    optional={
        "key": json_values | st.text(max_size=60),
        "size": json_values | st.integers(min_value=-(2**70), max_value=2**70),
        "eTag": json_values,
        "sequencer": json_values | st.text(alphabet="0123456789ABCDEF", max_size=20),
        "versionId": json_values,
    },
)
s3_record = st.fixed_dictionaries(
    {},
    optional={
        "eventVersion": json_values,
        "eventSource": st.sampled_from(["aws:s3", "ceph:s3", "minio:s3"]) | json_values,
        "eventName": st.sampled_from(["ObjectCreated:Put", "ObjectRemoved:Delete", "s3:ObjectCreated:Put"]) | json_values,
        "eventTime": st.sampled_from(["2026-12-03T10:00:00.000Z", "yesterday"]) | json_values,
        "s3": st.fixed_dictionaries({}, optional={"bucket": st.fixed_dictionaries({}, optional={"name": json_values}) | json_values, "object": s3_object | json_values}) | json_values,
    },
)
s3_messages = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    json_values.map(json.dumps),
    st.lists(s3_record, max_size=4).map(lambda records: json.dumps({"Records": records})),
    st.lists(s3_record, max_size=3).map(
        lambda records: json.dumps({"Type": "Notification", "Message": json.dumps({"Records": records})})
    ),
    st.fixed_dictionaries(
        {"source": st.just("aws.s3"), "detail-type": st.sampled_from(["Object Created", "Object Deleted", "x"])},
        optional={"detail": json_values | st.fixed_dictionaries({"bucket": json_values, "object": s3_object})},
    ).map(json.dumps),
)


@EXAMPLES
@given(s3_messages)
def test_the_event_parser_never_raises(body: str | bytes) -> None:
    parsed = parse_s3_message(body)
    assert isinstance(parsed, ParsedMessage)
    for event in parsed.events:
        assert event.size is None or 0 <= event.size <= 5 * 1024**4
        assert isinstance(event.key, str)
        assert event.key


@EXAMPLES
@given(st.text(max_size=300))
def test_file_names_are_always_safe_segments(name: str) -> None:
    safe = safe_filename(name)
    assert safe
    assert len(safe.encode("utf-8")) <= MAX_NAME_BYTES
    assert "/" not in safe
    assert "\\" not in safe
    assert not safe.startswith(".")
    shown = display_filename(name)
    assert shown == FALLBACK_NAME or shown.strip() == shown
    assert all(unicodedata.category(ch) != "Cc" for ch in shown)
    assert all(unicodedata.category(ch) != "Cf" or ch in "\u200c\u200d" for ch in shown)


sns_documents = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "Type": st.sampled_from([sns.NOTIFICATION, sns.SUBSCRIPTION_CONFIRMATION, sns.UNSUBSCRIBE_CONFIRMATION]) | json_values,
            "Message": st.text(max_size=40) | json_values,
            "MessageId": st.text(max_size=20) | json_values,
            "Subject": st.none() | st.text(max_size=20) | json_values,
            "Timestamp": st.sampled_from(["2026-12-03T10:00:00.000Z", "2026-12-03T10:00:00+00:00", "not a time"]) | json_values,
            "TopicArn": st.sampled_from(["arn:aws:sns:eu-west-1:123456789012:intake"]) | json_values,
            "SignatureVersion": st.sampled_from(["1", "2", "3"]) | json_values,
            "Signature": st.text(max_size=40) | json_values,
            "SigningCertURL": st.sampled_from(
                [
                    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
                    "https://evil.example/cert.pem",
                    "http://sns.eu-west-1.amazonaws.com/x.pem",
                ]
            )
            | json_values,
            "SubscribeURL": st.text(max_size=40) | json_values,
            "Token": st.text(max_size=20) | json_values,
        },
    ),
)


class _NoCertificate:
    """The fetcher the verifier gets: a certificate that is not there (no network)."""

    def __call__(self, url: str, *, max_bytes: int) -> bytes:
        raise sns.SnsUnavailable("no network in this test")


@EXAMPLES
@given(sns_documents)
def test_the_sns_verifier_raises_only_its_own_refusals(document: Any) -> None:
    with pytest.raises((sns.SnsMessageRejected, sns.SnsUnavailable)):
        sns.message_verify(
            document, fetch=_NoCertificate(), now=dt.datetime(2026, 12, 3, 10, 0, 5, tzinfo=dt.UTC)
        )


_KEY: rsa.RSAPrivateKey = _new_key()
_POOL = CognitoPool(region=REGION, user_pool_id=POOL_ID, client_ids=[WEB_CLIENT], domain="intake.auth.eu-west-1.amazoncognito.com")


def _cache() -> JwksCache:
    fetcher = FakeFetcher({"keys": [_jwk(_KEY, KID)]})
    return JwksCache(_POOL.jwks_url, fetcher=fetcher, clock=FakeClock(), ttl_seconds=3600, min_refresh_seconds=30)


def verify_as_id_and_access_token(token: Any) -> None:
    """Each verifier answers claims or a TokenRejected with a short reason; any other
    exception fails the property."""
    cache = _cache()
    for verify in (
        lambda: verify_id_token(token, pool=_POOL, cache=cache),
        lambda: verify_access_token(token, pool=_POOL, cache=cache, allowed_client_ids={MACHINE_CLIENT}),
    ):
        reason = _refusal(verify)
        assert reason is None or reason.replace("_", "").isalpha(), "a short reason, never the token"


def _refusal(verify: Any) -> str | None:
    try:
        verify()
    except TokenRejected as refused:
        return refused.reason
    return None


@EXAMPLES
@given(st.text(max_size=300) | st.binary(max_size=100) | json_values)
def test_any_string_as_a_token_is_refused_with_a_reason(token: Any) -> None:
    verify_as_id_and_access_token(token)


@EXAMPLES
@given(json_values, json_values)
def test_any_header_and_claims_are_refused_with_a_reason(header: Any, claims: Any) -> None:
    """Unsigned shapes: every header and payload JSON, signature garbage."""
    verify_as_id_and_access_token(_compact(header if isinstance(header, dict) else {"h": header}, claims if isinstance(claims, dict) else {"c": claims}, b"sig"))


@EXAMPLES
@given(st.dictionaries(st.sampled_from(["iss", "aud", "exp", "iat", "nbf", "sub", "token_use", "client_id", "scope", "nonce", "cognito:groups", "auth_time", "email"]), json_values, max_size=13))
def test_signed_tokens_with_any_claims_are_judged_without_crashing(claims: dict[str, Any]) -> None:
    """Properly signed by the pool's key: the claim checks alone decide, and say why."""
    verify_as_id_and_access_token(_rs256(claims))


def _rs256(claims: dict[str, Any]) -> str:
    """Signed like Cognito signs, whatever the claims hold (PyJWT's encoder would
    refuse some of them, which is the point)."""
    signing_input = f"{_b64(json.dumps({'alg': 'RS256', 'kid': KID}).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = _KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"
