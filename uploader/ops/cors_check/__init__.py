"""Check CORS end to end, over real HTTP, from where the app runs (`manage.py check_cors`).

A browser upload crosses several CORS decisions, each made by a different server: the
bucket must answer the page's origin on the pre-signed PUT (preflight, then the PUT
itself, with ETag exposed so multipart uploads can complete), the API must answer the
business's other browser apps and nobody else, and the CDN must answer the origins
that load files through it. Each is asked here the way a browser asks it, at the
address a browser would use, so a proxy, a CDN behaviour or a hand-edited bucket rule
shows up in one run instead of in a client's console. Rules on the bucket are also
compared with what `setup_bucket` writes (drift).

Returns structured results; printing them is the command's job. Pre-signed URLs are
bearer credentials: no result, and no error message copied into one, contains one.
"""

from __future__ import annotations

import requests
from django.conf import settings

from uploader.ops.cors_check.bucket import bucket_checks
from uploader.ops.cors_check.endpoints import api_checks, cdn_checks
from uploader.ops.cors_check.results import (
    DEFAULT_TIMEOUT,
    REFUSED_ORIGIN,
    CheckResult,
    CorsReport,
    Status,
    Timeout,
    format_result,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "REFUSED_ORIGIN",
    "CheckResult",
    "CorsReport",
    "Status",
    "cors_chain_check",
    "cors_chain_check_from_settings",
    "format_result",
]


def cors_chain_check(
    *,
    browser_origins: list[str],
    api_origins: list[str],
    base_url: str,
    cdn_domain: str = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> CorsReport:
    """Every check, in the order a browser meets them: bucket, API, CDN."""
    with requests.Session() as session:
        # Proxy variables are honoured, as boto3 honours them: the check goes out the
        # way the app's own calls do.
        results = [
            *bucket_checks(session, browser_origins, timeout),
            *api_checks(session, base_url, api_origins, timeout),
            *cdn_checks(session, cdn_domain, browser_origins, timeout),
        ]
    return CorsReport(tuple(results))


def cors_chain_check_from_settings(
    *, browser_origins: list[str] | None = None, base_url: str | None = None, timeout: Timeout = DEFAULT_TIMEOUT
) -> CorsReport:
    return cors_chain_check(
        browser_origins=list(browser_origins or settings.INTAKE_CORS_ALLOWED_ORIGINS),
        api_origins=list(settings.INTAKE_API_CORS_ALLOWED_ORIGINS),
        base_url=base_url or settings.INTAKE_PUBLIC_BASE_URL,
        # Added with CloudFront downloads; absent in settings that predate them.
        cdn_domain=getattr(settings, "INTAKE_CLOUDFRONT_DOMAIN", ""),
        timeout=timeout,
    )
