"""Machine clients: `Authorization: Bearer <Cognito access token>` on the JSON API.

A back-office system gets its token from Cognito's client-credentials flow and calls
the upload contract, the read API and the document requests API with it. The token
is verified here, locally, against the pool's JWKS (uploader.access.tokens: RS256
only, issuer, `token_use`, expiry, `client_id` in INTAKE_MACHINE_CLIENT_IDS). Its
scopes decide what it may do:

    <INTAKE_MACHINE_SCOPE_PREFIX>/upload    → upload
    <INTAKE_MACHINE_SCOPE_PREFIX>/read      → browse and download
    <INTAKE_MACHINE_SCOPE_PREFIX>/requests  → read and manage document requests (make
                                              them, review items, close them), as staff
                                              do on /requests/

Each client acts as a Django user of its own (`machine:<client_id>`, no password,
not staff), made on first use, so its uploads have an owner and the audit trail a
name. The token itself is never logged nor stored.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

from uploader.access import tokens
from uploader.access.accounts import MACHINE_USERNAME_PREFIX
from uploader.access.models import OidcIdentity
from uploader.access.principals import UploadPrincipal, person_principal
from uploader.access.roles import Permission

logger = logging.getLogger(__name__)



class BearerRefused(Exception):
    """The Authorization header did not prove a caller. `status` is 401, or 503 when
    Cognito's keys could not be fetched (the client should retry, not re-authenticate)."""

    def __init__(self, message: str, *, code: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def scope_permissions(scopes: frozenset[str]) -> frozenset[Permission]:
    prefix = settings.INTAKE_MACHINE_SCOPE_PREFIX
    granted: set[Permission] = set()
    if f"{prefix}/upload" in scopes:
        granted.add(Permission.UPLOAD)
    if f"{prefix}/read" in scopes:
        granted.update({Permission.BROWSE, Permission.DOWNLOAD})
    if f"{prefix}/requests" in scopes:
        # A request's files are listed by name; reading their bytes still needs /read.
        granted.add(Permission.MANAGE_REQUESTS)
    return frozenset(granted)


def machine_user(client_id: str) -> User:
    # One INSERT with the unusable password: a concurrent first call never sees a
    # row that looks like a person's (an empty password counts as usable).
    user, created = User.objects.get_or_create(
        username=f"{MACHINE_USERNAME_PREFIX}{client_id}"[:150],
        defaults={"is_staff": False, "is_active": True, "password": make_password(None)},
    )
    if created:
        logger.info("machine client %s used the API for the first time", client_id)
    elif user.has_usable_password() or OidcIdentity.objects.filter(user=user).exists():
        # A person's account with this name (made by hand): never act as it.
        raise BearerRefused("This machine client's account name belongs to a person.", code="invalid_token")
    return user


def is_bearer_header(header: str | None) -> bool:
    """Whether an Authorization header uses the Bearer scheme (whatever its token)."""
    return header is not None and header.partition(" ")[0].lower() == "bearer"


def principal_from_authorization(header: str) -> UploadPrincipal:
    """The principal a `Bearer` header proves, or BearerRefused (never the token in it)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BearerRefused("Use 'Authorization: Bearer <access token>'.", code="invalid_request")
    pool = tokens.pool_from_settings()
    allowed = tokens.machine_client_ids()
    if pool is None or not allowed:
        raise BearerRefused("This server does not accept access tokens.", code="invalid_token")
    try:
        claims = tokens.verify_access_token(
            token.strip(), pool=pool, cache=tokens.jwks_cache_for(pool), allowed_client_ids=allowed
        )
    except tokens.KeysUnavailable:
        raise BearerRefused(
            "The sign-in service's keys could not be fetched; try again shortly.", code="temporarily_unavailable", status=503
        ) from None
    except tokens.TokenRejected as exc:
        logger.info("access token refused: %s", exc.reason)
        raise BearerRefused(f"The access token was refused ({exc.reason}).", code="invalid_token") from None
    if claims.subject != claims.client_id or claims.groups:
        # A token issued to a person (authorization code) by an allowed app client:
        # people sign in through the browser, not as a machine client.
        raise BearerRefused("Only client-credentials access tokens may call the API.", code="invalid_token")
    permissions = scope_permissions(claims.scopes)
    user = machine_user(claims.client_id)
    if not user.is_active:
        raise BearerRefused("This machine client has been disabled.", code="invalid_token")
    # Carried on the user so roles.permissions_of answers from the token, not groups.
    user.intake_permissions = permissions  # type: ignore[attr-defined]
    return person_principal(user, permissions)
