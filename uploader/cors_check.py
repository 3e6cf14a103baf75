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

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from uploader import s3
from uploader.bucket import CORS_RULE_ID, desired_cors_rule

# A name that can never be registered (RFC 2606 .invalid): whatever answers it with
# Access-Control-Allow-Origin allows every origin.
REFUSED_ORIGIN = "https://intake-cors-check.invalid"
PROBE_BODY = b"intake cors check\n"
PROBE_CONTENT_TYPE = "text/plain"
# A part URL is only preflighted, never used: S3 decides CORS before it looks at the
# upload id, so no multipart upload needs to be opened.
PROBE_UPLOAD_ID = "intake-cors-check"
PROBE_URL_SECONDS = 120
# What the upload page sends to S3: the content type and the MD5 of a single PUT, the
# MD5 of each part (ADR 0009).
SINGLE_PUT_HEADERS = ["content-type", "content-md5"]  # what upload.js sends with a single PUT
PART_PUT_HEADERS = ["content-md5"]  # and with each part (ADR 0009)
# What a browser app sends to the API with its Bearer token.
API_REQUEST_HEADERS = ["authorization", "content-type"]
API_PREFLIGHT_PATH = "/api/s3/params"
# (connect, read) seconds: every server asked here should answer at once.
DEFAULT_TIMEOUT = (3.0, 10.0)

SETUP_BUCKET = "run manage.py setup_bucket"
CHECK_ADDRESS = "check the address and that it is reachable from here"
CHECK_S3 = "check the S3 settings and credentials"

Timeout = tuple[float, float]


class Status(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    # Not configured: a reported state (the line says so), never a silent gap.
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    part: str  # bucket | rules | api | cdn
    name: str
    status: Status
    detail: str
    fix: str = ""


def _passed(part: str, name: str, detail: str) -> CheckResult:
    return CheckResult(part, name, Status.PASSED, detail)


def _failed(part: str, name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(part, name, Status.FAILED, detail, fix)


def _skipped(part: str, name: str, detail: str) -> CheckResult:
    return CheckResult(part, name, Status.SKIPPED, detail)


MARKS = {Status.PASSED: "✓", Status.FAILED: "✗", Status.SKIPPED: "-"}


def format_result(result: CheckResult) -> str:
    """One line: mark, part, what was checked, what was seen, and the fix if it failed."""
    line = f"{MARKS[result.status]} {result.part:<6} {result.name}: {result.detail}"
    if result.status is Status.FAILED and result.fix:
        line += f" — fix: {result.fix}"
    return line


@dataclass(frozen=True)
class CorsReport:
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.status is not Status.FAILED for result in self.results)

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    def lines(self) -> list[str]:
        return [format_result(result) for result in self.results]

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failed": sum(result.status is Status.FAILED for result in self.results),
            "checks": [{**asdict(result), "status": str(result.status)} for result in self.results],
        }


# --- HTTP, the way a browser asks ---------------------------------------------------------


class _Unreachable(Exception):
    """The server did not answer; the message names the host, never the URL (a signed
    URL's query string is a credential)."""


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: Timeout,
    data: bytes | None = None,
) -> requests.Response:
    try:
        # Browsers never follow a redirect on a preflight; neither do we.
        return session.request(method, url, headers=dict(headers), data=data, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise _Unreachable(f"no answer from {urlsplit(url).netloc} ({type(exc).__name__})") from None


def _preflight(
    session: requests.Session, url: str, *, origin: str, method: str, request_headers: Iterable[str], timeout: Timeout
) -> requests.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if wanted := ",".join(request_headers):
        headers["Access-Control-Request-Headers"] = wanted
    return _send(session, "OPTIONS", url, headers=headers, timeout=timeout)


def _header_list(response: requests.Response, name: str) -> set[str]:
    return {item.strip().lower() for item in response.headers.get(name, "").split(",") if item.strip()}


def _origin_allowed(response: requests.Response, origin: str) -> bool:
    return response.headers.get("Access-Control-Allow-Origin") in {origin, "*"}


def _preflight_problems(
    response: requests.Response, *, origin: str, method: str, request_headers: Iterable[str]
) -> list[str]:
    """What a browser would object to in this preflight answer (empty: it would go on)."""
    if 300 <= response.status_code < 400:
        return [f"answered HTTP {response.status_code} (a redirect; browsers do not follow one on a preflight)"]
    allowed_origin = response.headers.get("Access-Control-Allow-Origin")
    if allowed_origin is None:
        return [f"no Access-Control-Allow-Origin (HTTP {response.status_code})"]
    problems = []
    if allowed_origin not in {origin, "*"}:
        problems.append(f"Access-Control-Allow-Origin is {allowed_origin!r}, not this origin")
    methods = _header_list(response, "Access-Control-Allow-Methods")
    if method.lower() not in methods and "*" not in methods:
        problems.append(f"Access-Control-Allow-Methods lacks {method} (has {', '.join(sorted(methods)) or 'nothing'})")
    allowed_headers = _header_list(response, "Access-Control-Allow-Headers")
    if missing := [h for h in request_headers if h.lower() not in allowed_headers and "*" not in allowed_headers]:
        problems.append(f"Access-Control-Allow-Headers lacks {', '.join(missing)}")
    return problems


def _preflight_result(
    session: requests.Session,
    *,
    part: str,
    name: str,
    url: str,
    origin: str,
    method: str,
    request_headers: list[str],
    timeout: Timeout,
    fix: str,
) -> CheckResult:
    try:
        answer = _preflight(
            session, url, origin=origin, method=method, request_headers=request_headers, timeout=timeout
        )
    except _Unreachable as exc:
        return _failed(part, name, str(exc), CHECK_ADDRESS)
    if problems := _preflight_problems(answer, origin=origin, method=method, request_headers=request_headers):
        return _failed(part, name, "; ".join(problems), fix)
    asked = f" with {', '.join(request_headers)}" if request_headers else ""
    return _passed(part, name, f"{method}{asked} allowed at {_where(url)}")


def _refusal_result(
    session: requests.Session, *, part: str, name: str, url: str, method: str, timeout: Timeout, fix: str
) -> CheckResult:
    try:
        answer = _preflight(session, url, origin=REFUSED_ORIGIN, method=method, request_headers=[], timeout=timeout)
    except _Unreachable as exc:
        return _failed(part, name, str(exc), CHECK_ADDRESS)
    if _origin_allowed(answer, REFUSED_ORIGIN):
        seen = answer.headers["Access-Control-Allow-Origin"]
        return _failed(part, name, f"allowed (Access-Control-Allow-Origin: {seen}): any site may call it", fix)
    return _passed(part, name, f"refused (HTTP {answer.status_code}, no Access-Control-Allow-Origin)")


# --- the bucket ---------------------------------------------------------------------------


def _probe_key() -> str:
    # Under the uploads prefix, where browsers PUT (rules and policies may be per prefix);
    # the event pipeline ignores keys no upload was registered for.
    return f"{settings.INTAKE_S3_KEY_PREFIX.strip('/')}/.intake-cors-probe/{uuid.uuid4().hex}"


def _probe_put_url(key: str) -> str:
    return s3.presign_put_object(
        key=key, content_type=PROBE_CONTENT_TYPE, content_length=len(PROBE_BODY), expires_in=PROBE_URL_SECONDS
    )


def _bucket_origin_checks(session: requests.Session, origin: str, timeout: Timeout) -> list[CheckResult]:
    """The URLs our signer makes (virtual-host or path style, as configured), preflighted
    for a single PUT and a part PUT, then the single PUT done for real."""
    fix = f"add {origin} to INTAKE_CORS_ALLOWED_ORIGINS and {SETUP_BUCKET}"
    key = _probe_key()
    try:
        put_url = _probe_put_url(key)
        part_url = s3.presign_upload_part(
            key=key,
            upload_id=PROBE_UPLOAD_ID,
            part_number=1,
            expires_in=PROBE_URL_SECONDS,
            content_length=len(PROBE_BODY),
        )
    except s3.StorageError as exc:
        return [_failed("bucket", f"sign a probe PUT for {origin}", str(exc), CHECK_S3)]
    preflights = [
        (f"preflight single PUT from {origin}", put_url, SINGLE_PUT_HEADERS),
        (f"preflight multipart part PUT from {origin}", part_url, PART_PUT_HEADERS),
    ]
    results = [
        _preflight_result(
            session,
            part="bucket",
            name=name,
            url=url,
            origin=origin,
            method="PUT",
            request_headers=headers,
            timeout=timeout,
            fix=fix,
        )
        for name, url, headers in preflights
    ]
    results.append(_probe_put_result(session, origin=origin, key=key, url=put_url, timeout=timeout, fix=fix))
    return results


def _probe_put_result(
    session: requests.Session, *, origin: str, key: str, url: str, timeout: Timeout, fix: str
) -> CheckResult:
    """PUT a tiny object through the signed URL as the browser would, and read the
    answer's CORS headers: without ETag exposed, Uppy cannot complete a multipart upload."""
    name = f"signed PUT from {origin} exposes ETag"
    answer: requests.Response | None = None
    unreachable = ""
    try:
        headers = {"Origin": origin, "Content-Type": PROBE_CONTENT_TYPE}
        answer = _send(session, "PUT", url, headers=headers, data=PROBE_BODY, timeout=timeout)
    except _Unreachable as exc:
        unreachable = str(exc)
    finally:
        # Always, even when the PUT seemed to fail: S3 may have stored it anyway.
        left_behind = _delete_probe(key)
    if answer is None:
        return _failed("bucket", name, unreachable, "check INTAKE_S3_ENDPOINT_URL and the network")
    if left_behind:
        return _failed("bucket", name, left_behind, f"delete s3://{settings.INTAKE_S3_BUCKET}/{key} by hand")
    if answer.status_code != 200:
        fix = "check the bucket policy, the app's credentials and the clock (signed URLs expire)"
        return _failed("bucket", name, f"the PUT was refused (HTTP {answer.status_code})", fix)
    if not _origin_allowed(answer, origin):
        return _failed("bucket", name, "the PUT's answer has no Access-Control-Allow-Origin for this origin", fix)
    if "etag" not in _header_list(answer, "Access-Control-Expose-Headers"):
        detail = "Access-Control-Expose-Headers lacks ETag: multipart uploads cannot complete"
        return _failed("bucket", name, detail, SETUP_BUCKET)
    return _passed("bucket", name, "stored, ETag exposed, probe deleted")


def _delete_probe(key: str) -> str:
    """Empty when the probe is gone, else what went wrong."""
    try:
        s3.delete_object(key=key)
    except s3.ObjectNotFound:
        return ""
    except s3.StorageError as exc:
        return f"the probe object could not be deleted ({exc})"
    return ""


def _rule_differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    def normalised(field: str, value: Any) -> Any:
        if isinstance(value, list):
            # Header names are case-insensitive; origins and methods are not.
            return sorted(str(v).lower() if field.endswith("Headers") else str(v) for v in value)
        return value

    return [
        f"{field} is {current.get(field)!r}, setup_bucket writes {value!r}"
        for field, value in wanted.items()
        if field != "ID" and normalised(field, current.get(field)) != normalised(field, value)
    ]


def _rules_checks(origins: list[str]) -> list[CheckResult]:
    """Our rule against what setup_bucket would write, and no rule open to every origin."""
    try:
        rules = s3.get_cors_rules()
    except s3.StorageError as exc:
        return [_failed("rules", "read the bucket's CORS rules", str(exc), CHECK_S3)]
    name = "bucket rules match setup_bucket"
    ours = next((rule for rule in rules if rule.get("ID") == CORS_RULE_ID), None)
    if not origins:
        drift = _skipped("rules", name, "no browser origins, nothing to compare")
    elif ours is None:
        detail = f"no rule {CORS_RULE_ID!r} on the bucket" + ("" if rules else " (it has no CORS rules at all)")
        drift = _failed("rules", name, detail, SETUP_BUCKET)
    elif differences := _rule_differences(ours, desired_cors_rule(origins)):
        drift = _failed("rules", name, "; ".join(differences), SETUP_BUCKET)
    else:
        drift = _passed("rules", name, f"rule {CORS_RULE_ID!r} is current")
    open_rules = [
        str(rule.get("ID") or f"#{i + 1}") for i, rule in enumerate(rules) if "*" in rule.get("AllowedOrigins", [])
    ]
    name = "no rule allows every origin"
    if open_rules:
        fix = "remove the wildcard rule from the bucket's CORS configuration"
        return [drift, _failed("rules", name, f"rule(s) {', '.join(open_rules)} allow origin *", fix)]
    return [drift, _passed("rules", name, f"{len(rules)} rule(s), none with *")]


def _bucket_checks(session: requests.Session, origins: list[str], timeout: Timeout) -> list[CheckResult]:
    results: list[CheckResult] = []
    if not origins:
        fix = "set INTAKE_CORS_ALLOWED_ORIGINS (or pass --origin) and run manage.py setup_bucket"
        results.append(
            _failed("bucket", "browser origins", "none configured: no browser can upload to the bucket", fix)
        )
    for origin in origins:
        results.extend(_bucket_origin_checks(session, origin, timeout))
    try:
        refusal_url = _probe_put_url(_probe_key())
    except s3.StorageError as exc:
        results.append(_failed("bucket", "sign a probe PUT", str(exc), CHECK_S3))
    else:
        results.append(
            _refusal_result(
                session,
                part="bucket",
                name=f"preflight PUT from a foreign origin ({REFUSED_ORIGIN})",
                url=refusal_url,
                method="PUT",
                timeout=timeout,
                fix="the bucket allows every origin: remove the wildcard CORS rule and run manage.py setup_bucket",
            )
        )
    return results + _rules_checks(origins)


# --- the API and the CDN ------------------------------------------------------------------


def _api_checks(session: requests.Session, base_url: str, origins: list[str], timeout: Timeout) -> list[CheckResult]:
    """Each listed origin allowed, a foreign one not, and never with credentials."""
    url = f"{base_url.rstrip('/')}{API_PREFLIGHT_PATH}"
    results: list[CheckResult] = []
    if not origins:
        detail = "not configured (INTAKE_API_CORS_ALLOWED_ORIGINS is empty): the API answers its own origin only"
        results.append(_skipped("api", "browser apps on other origins", detail))
    answered: list[str] = []
    credentials_seen: list[str] = []
    for origin in origins:
        name = f"preflight {API_PREFLIGHT_PATH} from {origin}"
        try:
            answer = _preflight(
                session, url, origin=origin, method="GET", request_headers=API_REQUEST_HEADERS, timeout=timeout
            )
        except _Unreachable as exc:
            results.append(_failed("api", name, str(exc), f"is the app running at {base_url}? (--base-url)"))
            continue
        answered.append(origin)
        if answer.headers.get("Access-Control-Allow-Credentials", "").lower() == "true":
            credentials_seen.append(origin)
        if problems := _preflight_problems(answer, origin=origin, method="GET", request_headers=API_REQUEST_HEADERS):
            fix = (
                f"add {origin} to INTAKE_API_CORS_ALLOWED_ORIGINS on the app; if it is there, a proxy or CDN in "
                "front of the app drops OPTIONS requests or the CORS headers"
            )
            results.append(_failed("api", name, "; ".join(problems), fix))
        else:
            results.append(_passed("api", name, f"GET with {', '.join(API_REQUEST_HEADERS)} allowed"))
    results.append(
        _refusal_result(
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
        results.append(_failed("api", name, detail, fix))
    elif answered:
        results.append(_passed("api", name, "no Access-Control-Allow-Credentials"))
    return results


def _cdn_base(domain: str) -> str:
    domain = domain.strip().rstrip("/")
    return domain if domain.startswith(("https://", "http://")) else f"https://{domain}"


def _cdn_checks(session: requests.Session, domain: str, origins: list[str], timeout: Timeout) -> list[CheckResult]:
    if not domain:
        return [_skipped("cdn", "CloudFront", "not configured (INTAKE_CLOUDFRONT_DOMAIN is empty): files come from S3")]
    if not origins:
        return [_skipped("cdn", "CloudFront", "no browser origins to check")]
    fix = (
        "let the distribution forward OPTIONS and the Origin and Access-Control-Request-* headers to the bucket "
        "(an origin request policy such as CORS-S3Origin and a CORS response headers policy), then run setup_bucket"
    )
    return [
        _preflight_result(
            session,
            part="cdn",
            name=f"preflight GET from {origin}",
            url=f"{_cdn_base(domain)}/",
            origin=origin,
            method="GET",
            request_headers=[],
            timeout=timeout,
            fix=fix,
        )
        for origin in origins
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
            *_bucket_checks(session, browser_origins, timeout),
            *_api_checks(session, base_url, api_origins, timeout),
            *_cdn_checks(session, cdn_domain, browser_origins, timeout),
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
