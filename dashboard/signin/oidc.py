"""Staff sign-in through Amazon Cognito, on top of mozilla-django-oidc.

What the library does not do, done here:
- the ID token is verified by uploader.access.tokens (RS256 only, `iss`, `aud`, `token_use`,
  expiry, nonce), not by the library's HS256-by-default path;
- the user is built from that verified ID token, because Cognito's userinfo does not
  return `cognito:groups`; users are keyed on (issuer, sub), never on e-mail;
- a person in no allowed group is refused with a page that says so (no_access view),
  and the refusal is audited;
- the provider's network errors and refused tokens end in that page, not a 500;
- sign-out also ends the Cognito session (`/logout?client_id&logout_uri`).
The library's own timeout setting (OIDC_TIMEOUT) is set in settings; it has none by
default.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView

from dashboard.signin.auth_backends import user_with_role_groups
from uploader.access import tokens
from uploader.access.accounts import user_sign_in_from_claims
from uploader.audit.services import audit_record

logger = logging.getLogger(__name__)

# Where the no-access page finds why the last sign-in was refused.
REFUSAL_SESSION_KEY = "intake_sign_in_refused"
# Set when this browser signed in (or was refused) at Cognito: sign-out then also
# ends Cognito's own session.
COGNITO_SESSION_KEY = "intake_cognito_session"


def _refuse(request: HttpRequest, *, reason: str, who: str = "", detail: dict[str, Any] | None = None) -> None:
    """Remember why for the no-access page, and audit it."""
    request.session[REFUSAL_SESSION_KEY] = {"reason": reason, "who": who}
    audit_record(action="auth.sign_in_refused", detail={"reason": reason, "who": who, "method": "cognito", **(detail or {})})


class CognitoBackend(OIDCAuthenticationBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pool = tokens.pool_from_settings()
        if pool is None:  # settings only list this backend when Cognito is configured
            raise RuntimeError("CognitoBackend needs INTAKE_COGNITO_USER_POOL_ID")
        self.pool = pool

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        # Only the library's callback view calls with the nonce and PKCE verifier it
        # kept in the session for this state. Anything else (a password form posted
        # with ?code=&state= in its URL) must never reach the code exchange: it would
        # skip the state, nonce and PKCE checks.
        if (
            request is None
            or "code" not in request.GET
            or "state" not in request.GET
            or "username" in kwargs
            or "password" in kwargs
            or not kwargs.get("nonce")
            or (settings.OIDC_USE_PKCE and not kwargs.get("code_verifier"))
        ):
            return None
        try:
            return super().authenticate(request, **kwargs)
        except tokens.KeysUnavailable:
            logger.warning("sign-in failed: the provider's signing keys could not be fetched")
            _refuse(request, reason="provider_unavailable")
        except tokens.TokenRejected as exc:
            logger.warning("sign-in refused: ID token %s", exc.reason)
            _refuse(request, reason="bad_token", detail={"token": exc.reason})
        except requests.RequestException as exc:
            # The token endpoint refused the code or could not be reached. The error
            # text may quote the response; only its type is logged.
            logger.warning("sign-in failed: token endpoint %s", type(exc).__name__)
            _refuse(request, reason="provider_unavailable")
        except DatabaseError as exc:
            logger.warning("sign-in failed: could not record the user (%s)", type(exc).__name__)
            _refuse(request, reason="failed")
        return None

    def get_user(self, user_id: Any) -> User | None:
        """Like Django's ModelBackend: a disabled account is signed out at once (the
        library's version keeps it signed in). Loaded with the role (one query)."""
        user = user_with_role_groups(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The ID token's claims, verified by uploader.access.tokens (never the library's
        check). The nonce is required: authenticate() only runs with one."""
        nonce = kwargs.get("nonce")
        if not nonce:
            raise tokens.TokenRejected(tokens.NONCE_MISMATCH)
        return tokens.verify_id_token(token, pool=self.pool, cache=tokens.jwks_cache_for(self.pool), nonce=nonce)

    def store_tokens(self, access_token: str, id_token: str) -> None:
        """Remember only that this session signed in at Cognito (sign-out then ends
        Cognito's session too); the tokens themselves are not needed after sign-in."""
        self.request.session[COGNITO_SESSION_KEY] = True

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The verified ID token is the user's description: userinfo lacks the groups,
        and one call fewer is one failure fewer."""
        return payload

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User | None:
        groups = tokens.cognito_groups(payload)
        user, role = user_sign_in_from_claims(issuer=self.pool.issuer, claims=payload, groups=groups)
        who = user.email or user.get_username()
        if not user.is_active:
            _refuse(self.request, reason="disabled", who=who)
            return None
        if role is None:
            _refuse(self.request, reason="no_role", who=who, detail={"groups": list(groups)})
            return None
        self.request.session.pop(REFUSAL_SESSION_KEY, None)
        return user


class CallbackView(OIDCAuthenticationCallbackView):
    """The library's callback, with its rough edges handled:
    - a state this session does not know (a reload, the Back button, a replayed or
      forged link) ends on the no-access page, not a bare 400;
    - `?error=` (the person cancelled at Cognito) is acted on only for a state this
      session is waiting for, so a link elsewhere cannot sign staff out; it is audited.
    """

    def get(self, request: HttpRequest) -> HttpResponse:
        state = request.GET.get("state", "")
        pending = request.session.get("oidc_states") or {}
        if state not in pending:
            audit_record(action="auth.sign_in_refused", detail={"reason": "unknown_state", "method": "cognito"})
            request.session[REFUSAL_SESSION_KEY] = {"reason": "expired", "who": ""}
            return HttpResponseRedirect(reverse("no-access"))
        if request.GET.get("error"):
            audit_record(
                action="auth.sign_in_refused",
                detail={"reason": "cancelled", "error": str(request.GET["error"])[:60], "method": "cognito"},
            )
        return super().get(request)


def cognito_logout_url(request: HttpRequest) -> str:
    """Where sign-out sends the browser: Cognito's /logout, which ends the hosted UI's
    session and comes back to our signed-out page (registered as an allowed sign-out
    URL of the app client). Someone refused after signing in at Cognito goes there too,
    so they can sign in as someone else. A password-signed-in user goes straight to
    that page."""
    signed_out = request.build_absolute_uri(reverse("signed-out"))
    pool = tokens.pool_from_settings()
    signed_in_there = COGNITO_SESSION_KEY in request.session or REFUSAL_SESSION_KEY in request.session
    if pool is None or pool.logout_url is None or not signed_in_there:
        return signed_out
    return f"{pool.logout_url}?{urlencode({'client_id': settings.OIDC_RP_CLIENT_ID, 'logout_uri': signed_out})}"
