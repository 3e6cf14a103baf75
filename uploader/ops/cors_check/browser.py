"""Asking a server the way a browser asks: preflights, and what a browser would object
to in their answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import requests

from uploader.ops.cors_check.results import CHECK_ADDRESS, REFUSED_ORIGIN, CheckResult, Timeout, failed, passed


class Unreachable(Exception):
    """The server did not answer; the message names the host, never the URL (a signed
    URL's query string is a credential)."""


def where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def send(
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
        raise Unreachable(f"no answer from {urlsplit(url).netloc} ({type(exc).__name__})") from None


def preflight(
    session: requests.Session, url: str, *, origin: str, method: str, request_headers: Iterable[str], timeout: Timeout
) -> requests.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if wanted := ",".join(request_headers):
        headers["Access-Control-Request-Headers"] = wanted
    return send(session, "OPTIONS", url, headers=headers, timeout=timeout)


def header_list(response: requests.Response, name: str) -> set[str]:
    return {item.strip().lower() for item in response.headers.get(name, "").split(",") if item.strip()}


def origin_allowed(response: requests.Response, origin: str) -> bool:
    return response.headers.get("Access-Control-Allow-Origin") in {origin, "*"}


def preflight_problems(
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
    methods = header_list(response, "Access-Control-Allow-Methods")
    if method.lower() not in methods and "*" not in methods:
        problems.append(f"Access-Control-Allow-Methods lacks {method} (has {', '.join(sorted(methods)) or 'nothing'})")
    allowed_headers = header_list(response, "Access-Control-Allow-Headers")
    if missing := [h for h in request_headers if h.lower() not in allowed_headers and "*" not in allowed_headers]:
        problems.append(f"Access-Control-Allow-Headers lacks {', '.join(missing)}")
    return problems


def preflight_result(
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
        answer = preflight(session, url, origin=origin, method=method, request_headers=request_headers, timeout=timeout)
    except Unreachable as exc:
        return failed(part, name, str(exc), CHECK_ADDRESS)
    if problems := preflight_problems(answer, origin=origin, method=method, request_headers=request_headers):
        return failed(part, name, "; ".join(problems), fix)
    asked = f" with {', '.join(request_headers)}" if request_headers else ""
    return passed(part, name, f"{method}{asked} allowed at {where(url)}")


def refusal_result(
    session: requests.Session, *, part: str, name: str, url: str, method: str, timeout: Timeout, fix: str
) -> CheckResult:
    try:
        answer = preflight(session, url, origin=REFUSED_ORIGIN, method=method, request_headers=[], timeout=timeout)
    except Unreachable as exc:
        return failed(part, name, str(exc), CHECK_ADDRESS)
    if origin_allowed(answer, REFUSED_ORIGIN):
        seen = answer.headers["Access-Control-Allow-Origin"]
        return failed(part, name, f"allowed (Access-Control-Allow-Origin: {seen}): any site may call it", fix)
    return passed(part, name, f"refused (HTTP {answer.status_code}, no Access-Control-Allow-Origin)")
