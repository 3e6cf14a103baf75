"""The API (the business's other browser apps, and nobody else) and the CDN."""

from __future__ import annotations

import requests

from uploader.ops.cors_check.browser import Unreachable, preflight, preflight_problems, preflight_result, refusal_result
from uploader.ops.cors_check.results import REFUSED_ORIGIN, CheckResult, Timeout, failed, passed, skipped

# What a browser app sends to the API with its Bearer token.
API_REQUEST_HEADERS = ["authorization", "content-type"]
API_PREFLIGHT_PATH = "/api/s3/params"


def api_checks(session: requests.Session, base_url: str, origins: list[str], timeout: Timeout) -> list[CheckResult]:
    """Each listed origin allowed, a foreign one not, and never with credentials."""
    url = f"{base_url.rstrip('/')}{API_PREFLIGHT_PATH}"
    results: list[CheckResult] = []
    if not origins:
        detail = "not configured (INTAKE_API_CORS_ALLOWED_ORIGINS is empty): the API answers its own origin only"
        results.append(skipped("api", "browser apps on other origins", detail))
    answered: list[str] = []
    credentials_seen: list[str] = []
    for origin in origins:
        name = f"preflight {API_PREFLIGHT_PATH} from {origin}"
        try:
            answer = preflight(
                session, url, origin=origin, method="GET", request_headers=API_REQUEST_HEADERS, timeout=timeout
            )
        except Unreachable as exc:
            results.append(failed("api", name, str(exc), f"is the app running at {base_url}? (--base-url)"))
            continue
        answered.append(origin)
        if answer.headers.get("Access-Control-Allow-Credentials", "").lower() == "true":
            credentials_seen.append(origin)
        if problems := preflight_problems(answer, origin=origin, method="GET", request_headers=API_REQUEST_HEADERS):
            fix = (
                f"add {origin} to INTAKE_API_CORS_ALLOWED_ORIGINS on the app; if it is there, a proxy or CDN in "
                "front of the app drops OPTIONS requests or the CORS headers"
            )
            results.append(failed("api", name, "; ".join(problems), fix))
        else:
            results.append(passed("api", name, f"GET with {', '.join(API_REQUEST_HEADERS)} allowed"))
    results.append(
        refusal_result(
            session,
            part="api",
            name=f"preflight {API_PREFLIGHT_PATH} from a foreign origin ({REFUSED_ORIGIN})",
            url=url,
            method="GET",
            timeout=timeout,
            fix="the API answers every origin: set INTAKE_API_CORS_ALLOWED_ORIGINS to exact origins and check the proxy",
        )
    )
    # Only about answers actually seen: an app that did not answer has its own failures above.
    name = "no credentials across origins"
    if credentials_seen:
        detail = (
            f"Access-Control-Allow-Credentials: true for {', '.join(credentials_seen)}: a page there could act "
            "as whoever is signed in to the dashboard in that browser"
        )
        fix = "keep CORS_ALLOW_CREDENTIALS = False (ADR 0008) and remove the header at the proxy"
        results.append(failed("api", name, detail, fix))
    elif answered:
        results.append(passed("api", name, "no Access-Control-Allow-Credentials"))
    return results


def cdn_base(domain: str) -> str:
    domain = domain.strip().rstrip("/")
    return domain if domain.startswith(("https://", "http://")) else f"https://{domain}"


def cdn_checks(session: requests.Session, domain: str, origins: list[str], timeout: Timeout) -> list[CheckResult]:
    if not domain:
        return [skipped("cdn", "CloudFront", "not configured (INTAKE_CLOUDFRONT_DOMAIN is empty): files come from S3")]
    if not origins:
        return [skipped("cdn", "CloudFront", "no browser origins to check")]
    fix = (
        "let the distribution forward OPTIONS and the Origin and Access-Control-Request-* headers to the bucket "
        "(an origin request policy such as CORS-S3Origin and a CORS response headers policy), then run setup_bucket"
    )
    return [
        preflight_result(
            session,
            part="cdn",
            name=f"preflight GET from {origin}",
            url=f"{cdn_base(domain)}/",
            origin=origin,
            method="GET",
            request_headers=[],
            timeout=timeout,
            fix=fix,
        )
        for origin in origins
    ]
