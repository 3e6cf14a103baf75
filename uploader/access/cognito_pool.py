"""A Cognito user pool from the few values an operator knows, and the process-wide
pieces built from settings (the pool, the machine clients, one JWKS cache per pool)."""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from uploader.access.jwks import (
    JWKS_CACHE_SECONDS,
    JWKS_MIN_REFRESH_SECONDS,
    JWKS_TIMEOUT_SECONDS,
    JwksCache,
    checked_url,
)

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_USER_POOL_ID = re.compile(r"[\w-]+_[0-9A-Za-z]+")
_CLIENT_ID = re.compile(r"[\w+]{1,128}")  # Cognito's own pattern for app client ids
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?")


def _domain_base_url(domain: str) -> str:
    """The hosted UI's base URL from what the console shows: a bare host, or a URL."""
    if "://" not in domain:
        if not _HOST.fullmatch(domain):
            raise ValueError("domain must be a host name such as example.auth.eu-west-1.amazoncognito.com")
        domain = f"https://{domain}"
    url = checked_url(domain.rstrip("/"), what="domain")
    if urlsplit(url).path:
        raise ValueError("domain must not have a path")
    return url



@dataclass(frozen=True)
class CognitoPool:
    """One user pool, from the few values an operator knows; everything else is derived.

    `client_ids` are the app clients whose ID tokens we accept (the `aud` of an ID
    token). `issuer_override`/`jwks_url_override` exist for a local test provider only;
    they must still be https unless the host is loopback.
    """

    region: str
    user_pool_id: str
    client_ids: tuple[str, ...]
    domain: str | None = None
    issuer_override: str | None = None
    jwks_url_override: str | None = None
    _domain_url: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept any iterable (a list from settings) but store a tuple: frozen means frozen.
        client_ids = (self.client_ids,) if isinstance(self.client_ids, str) else tuple(self.client_ids)
        object.__setattr__(self, "client_ids", client_ids)
        if not _REGION.fullmatch(self.region):
            raise ValueError("region must look like eu-west-1")
        if not _USER_POOL_ID.fullmatch(self.user_pool_id):
            raise ValueError("user_pool_id must look like eu-west-1_AbCdEf123")
        if self.issuer_override is None and not self.user_pool_id.startswith(f"{self.region}_"):
            raise ValueError("user_pool_id does not belong to region (it starts with the region)")
        if not client_ids or not all(isinstance(c, str) and _CLIENT_ID.fullmatch(c) for c in client_ids):
            raise ValueError("client_ids must be one or more app client ids")
        if self.issuer_override is not None:
            checked_url(self.issuer_override, what="issuer_override")
        if self.jwks_url_override is not None:
            checked_url(self.jwks_url_override, what="jwks_url_override")
        if self.domain:
            object.__setattr__(self, "_domain_url", _domain_base_url(self.domain))

    @property
    def issuer(self) -> str:
        """Compared byte for byte with a token's `iss`."""
        if self.issuer_override is not None:
            return self.issuer_override
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        if self.jwks_url_override is not None:
            return self.jwks_url_override
        return f"{self.issuer.rstrip('/')}/.well-known/jwks.json"

    def _endpoint(self, path: str) -> str | None:
        return f"{self._domain_url}{path}" if self._domain_url else None

    @property
    def authorize_url(self) -> str | None:
        return self._endpoint("/oauth2/authorize")

    @property
    def token_url(self) -> str | None:
        return self._endpoint("/oauth2/token")

    @property
    def userinfo_url(self) -> str | None:
        return self._endpoint("/oauth2/userInfo")

    @property
    def logout_url(self) -> str | None:
        """Cognito's hosted-UI logout; the caller adds `client_id` and `logout_uri`."""
        return self._endpoint("/logout")



# --- settings --------------------------------------------------------------------------


def _setting_list(name: str) -> tuple[str, ...]:
    value = getattr(settings, name, None) or ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(v.strip() for v in value if v.strip())


def pool_from_settings() -> CognitoPool | None:
    """The configured pool, or None when Cognito is not configured at all. Called on
    every signed-in request (the backend's get_user) and every Bearer call, so the
    pool is built once per set of values, not each time."""
    user_pool_id = getattr(settings, "INTAKE_COGNITO_USER_POOL_ID", "") or ""
    if not user_pool_id:
        return None
    return _pool(
        getattr(settings, "INTAKE_COGNITO_REGION", "") or "",
        user_pool_id,
        _setting_list("INTAKE_COGNITO_CLIENT_ID"),
        getattr(settings, "INTAKE_COGNITO_DOMAIN", None) or None,
        getattr(settings, "INTAKE_OIDC_ISSUER_OVERRIDE", None) or None,
        getattr(settings, "INTAKE_OIDC_JWKS_URL_OVERRIDE", None) or None,
    )


@functools.lru_cache(maxsize=8)
def _pool(
    region: str,
    user_pool_id: str,
    client_ids: tuple[str, ...],
    domain: str | None,
    issuer_override: str | None,
    jwks_url_override: str | None,
) -> CognitoPool:
    try:
        return CognitoPool(
            region=region,
            user_pool_id=user_pool_id,
            client_ids=client_ids,
            domain=domain,
            issuer_override=issuer_override,
            jwks_url_override=jwks_url_override,
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"Cognito settings: {exc}") from exc


def machine_client_ids() -> frozenset[str]:
    """App clients (client-credentials) allowed to call the JSON API."""
    return frozenset(_setting_list("INTAKE_MACHINE_CLIENT_IDS"))


_caches: dict[str, JwksCache] = {}
_caches_lock = threading.Lock()


def jwks_cache_for(pool: CognitoPool) -> JwksCache:
    """One cache per JWKS URL for the whole process, so every request shares its keys."""
    with _caches_lock:
        cache = _caches.get(pool.jwks_url)
        if cache is None:
            cache = _caches[pool.jwks_url] = JwksCache(
                pool.jwks_url,
                timeout=float(getattr(settings, "INTAKE_JWKS_TIMEOUT_SECONDS", JWKS_TIMEOUT_SECONDS)),
                ttl_seconds=float(getattr(settings, "INTAKE_JWKS_CACHE_SECONDS", JWKS_CACHE_SECONDS)),
                min_refresh_seconds=float(
                    getattr(settings, "INTAKE_JWKS_MIN_REFRESH_SECONDS", JWKS_MIN_REFRESH_SECONDS)
                ),
            )
        return cache

