"""Request link tokens: the portal links' design (ADR 0006) under their own HMAC
context, so a request's token can never open a portal or the other way round.

The row keeps a random nonce and the SHA-256 digest of the token; the token is
HMAC-SHA256(key, context + nonce), shown to staff again on demand, never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings

from uploader.portals.tokens import TOKEN_BYTES, digest_of, looks_like_token, new_nonce

__all__ = ["digest_of", "looks_like_token", "new_nonce", "token_for", "token_matches"]

_CONTEXT = b"intake.request-link.v1:"


def token_for(nonce: str) -> str:
    key = (settings.INTAKE_PORTAL_TOKEN_KEY or settings.SECRET_KEY).encode("utf-8")
    mac = hmac.new(key, _CONTEXT + nonce.encode("ascii"), hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(mac).decode("ascii")


def token_matches(*, token: str, nonce: str, digest: str) -> bool:
    """Both the stored digest and the nonce-derived token must match, in constant time."""
    return hmac.compare_digest(digest_of(token), digest) & hmac.compare_digest(token_for(nonce), token)
