"""Portal link tokens: at least 128 random bits, shown again on demand, never stored.

A portal row keeps a random nonce and the SHA-256 digest of its token. The token is
HMAC-SHA256(key, nonce), so the server can show staff the link again at any time,
while a copy of the database alone reveals no working link (ADR 0006). A visit is
looked up by the digest of the token it presents and confirmed with a constant-time
comparison.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from django.conf import settings

NONCE_BYTES = 32
# 24 bytes of the HMAC: 192 bits, 32 URL-safe characters.
TOKEN_BYTES = 24
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_CONTEXT = b"intake.portal-link.v1:"


def _key() -> bytes:
    return (settings.INTAKE_PORTAL_TOKEN_KEY or settings.SECRET_KEY).encode("utf-8")


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def token_for(nonce: str) -> str:
    mac = hmac.new(_key(), _CONTEXT + nonce.encode("ascii"), hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(mac).decode("ascii")


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str) -> bool:
    """Cheap shape check before any database lookup."""
    return bool(TOKEN_PATTERN.match(token))


def token_matches(*, token: str, nonce: str, digest: str) -> bool:
    """Both the stored digest and the nonce-derived token must match, in constant time."""
    return hmac.compare_digest(digest_of(token), digest) & hmac.compare_digest(token_for(nonce), token)
