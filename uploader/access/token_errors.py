"""Why a token was refused: `TokenRejected.reason` is one of these short constants,
safe to log and to return. Nothing from the token itself is ever put in one."""

from __future__ import annotations

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

