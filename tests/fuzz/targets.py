"""One function per fuzz target: bytes in, and only documented refusals out."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from tests.unit.test_tokens import (
    KID,
    MACHINE_CLIENT,
    POOL_ID,
    REGION,
    WEB_CLIENT,
    FakeClock,
    FakeFetcher,
    _jwk,
    _new_key,
)


def events(data: bytes) -> None:
    from uploader.ingest.events import parse_s3_message

    parse_s3_message(data)


def filenames(data: bytes) -> None:
    from uploader.uploads.keys import display_filename, safe_filename

    name = data.decode("utf-8", errors="replace")
    assert safe_filename(name)
    assert display_filename(name)


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def sns_messages(data: bytes) -> None:
    from uploader.ingest import sns

    def no_certificate(url: str, *, max_bytes: int) -> bytes:
        raise sns.SnsUnavailable("no network while fuzzing")

    with contextlib.suppress(sns.SnsMessageRejected, sns.SnsUnavailable):
        sns.message_verify(_json_or_none(data), fetch=no_certificate, now=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))


def _token_verifier() -> Callable[[str], None]:
    from uploader.access.tokens import CognitoPool, JwksCache, TokenRejected, verify_access_token, verify_id_token

    key = _new_key()
    pool = CognitoPool(region=REGION, user_pool_id=POOL_ID, client_ids=[WEB_CLIENT], domain="intake.auth.eu-west-1.amazoncognito.com")
    cache = JwksCache(pool.jwks_url, fetcher=FakeFetcher({"keys": [_jwk(key, KID)]}), clock=FakeClock(), ttl_seconds=3600, min_refresh_seconds=30)

    def verify(token: str) -> None:
        for check in (
            lambda: verify_id_token(token, pool=pool, cache=cache),
            lambda: verify_access_token(token, pool=pool, cache=cache, allowed_client_ids={MACHINE_CLIENT}),
        ):
            with contextlib.suppress(TokenRejected):
                check()

    return verify


_verify_token: Callable[[str], None] | None = None


def tokens(data: bytes) -> None:
    global _verify_token
    if _verify_token is None:
        _verify_token = _token_verifier()
    _verify_token(data.decode("utf-8", errors="replace"))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "events": events,
    "filenames": filenames,
    "sns": sns_messages,
    "tokens": tokens,
}
