"""Cognito, when staff sign in through it: the pool's discovery document (its issuer
and hosted UI are the configured ones) and its signing keys (JWKS)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from uploader.access.cognito_pool import pool_from_settings
from uploader.ops.cors_check.results import CheckResult, Timeout, failed, passed, skipped

PART = "cognito"
POOL_FIX = "check INTAKE_COGNITO_REGION and INTAKE_COGNITO_USER_POOL_ID (the stack's outputs)"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _fetch_json(url: str, timeout: Timeout) -> Any:
    """The document, or a short reason (status or exception type, never a body)."""
    try:
        answer = requests.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return f"no answer from {urlsplit(url).netloc} ({type(exc).__name__})"
    if answer.status_code != 200:
        return f"HTTP {answer.status_code} from {_origin(url)}{urlsplit(url).path}"
    try:
        return answer.json()
    except ValueError:
        return f"{_origin(url)}{urlsplit(url).path} is not JSON"


def cognito_checks(timeout: Timeout) -> list[CheckResult]:
    if not settings.INTAKE_OIDC_ENABLED:
        return [skipped(PART, "Cognito", "not configured (INTAKE_COGNITO_USER_POOL_ID is empty)")]
    try:
        pool = pool_from_settings()
    except ValueError as exc:
        return [failed(PART, "pool settings", str(exc), POOL_FIX)]
    assert pool is not None  # enabled means a pool id is set
    name = "discovery document"
    discovery = _fetch_json(f"{pool.issuer.rstrip('/')}/.well-known/openid-configuration", timeout)
    if not isinstance(discovery, dict):
        return [failed(PART, name, str(discovery), POOL_FIX)]
    results = []
    if discovery.get("issuer") != pool.issuer:
        detail = (
            f"the pool calls itself {discovery.get('issuer')!r}, tokens would be refused (expected {pool.issuer!r})"
        )
        results.append(failed(PART, name, detail, POOL_FIX))
    else:
        results.append(passed(PART, name, f"issuer {pool.issuer}"))
    results.append(_hosted_ui(discovery, pool.authorize_url))
    results.append(_jwks(pool.jwks_url, timeout))
    return results


def _hosted_ui(discovery: dict[str, Any], authorize_url: str | None) -> CheckResult:
    name = "hosted UI domain"
    announced = str(discovery.get("authorization_endpoint") or "")
    if not announced or not authorize_url:
        return skipped(PART, name, "the pool announces no hosted UI")
    if _origin(announced) != _origin(authorize_url):
        detail = (
            f"the pool's sign-in pages are at {_origin(announced)}, INTAKE_COGNITO_DOMAIN says {_origin(authorize_url)}"
        )
        return failed(PART, name, detail, "set INTAKE_COGNITO_DOMAIN to the pool's domain (the stack's output)")
    return passed(PART, name, _origin(announced))


def _jwks(url: str, timeout: Timeout) -> CheckResult:
    name = "signing keys (JWKS)"
    document = _fetch_json(url, timeout)
    if not isinstance(document, dict):
        return failed(PART, name, str(document), POOL_FIX)
    keys = [
        key for key in document.get("keys", []) if isinstance(key, dict) and key.get("kid") and key.get("kty") == "RSA"
    ]
    if not keys:
        return failed(PART, name, "the key set has no RSA key with a kid: no token can be verified", POOL_FIX)
    return passed(PART, name, f"{len(keys)} RSA key(s)")
