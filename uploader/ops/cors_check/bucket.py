"""The bucket: preflights and a signed probe PUT at the URLs the app signs, a foreign
origin refused, and the rules compared with what setup_bucket writes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import requests
from django.conf import settings

from uploader import s3
from uploader.ops.bucket_setup import CORS_RULE_ID, desired_cors_rule
from uploader.ops.cors_check.browser import (
    Unreachable,
    header_list,
    origin_allowed,
    preflight_result,
    refusal_result,
    send,
)
from uploader.ops.cors_check.results import (
    CHECK_S3,
    REFUSED_ORIGIN,
    SETUP_BUCKET,
    CheckResult,
    Timeout,
    failed,
    passed,
    skipped,
)

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
        return [failed("bucket", f"sign a probe PUT for {origin}", str(exc), CHECK_S3)]
    preflights = [
        (f"preflight single PUT from {origin}", put_url, SINGLE_PUT_HEADERS),
        (f"preflight multipart part PUT from {origin}", part_url, PART_PUT_HEADERS),
    ]
    results = [
        preflight_result(
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
        answer = send(session, "PUT", url, headers=headers, data=PROBE_BODY, timeout=timeout)
    except Unreachable as exc:
        unreachable = str(exc)
    finally:
        # Always, even when the PUT seemed to fail: S3 may have stored it anyway.
        left_behind = _delete_probe(key)
    if answer is None:
        return failed("bucket", name, unreachable, "check INTAKE_S3_ENDPOINT_URL and the network")
    if left_behind:
        return failed("bucket", name, left_behind, f"delete s3://{settings.INTAKE_S3_BUCKET}/{key} by hand")
    if answer.status_code != 200:
        fix = "check the bucket policy, the app's credentials and the clock (signed URLs expire)"
        return failed("bucket", name, f"the PUT was refused (HTTP {answer.status_code})", fix)
    if not origin_allowed(answer, origin):
        return failed("bucket", name, "the PUT's answer has no Access-Control-Allow-Origin for this origin", fix)
    if "etag" not in header_list(answer, "Access-Control-Expose-Headers"):
        detail = "Access-Control-Expose-Headers lacks ETag: multipart uploads cannot complete"
        return failed("bucket", name, detail, SETUP_BUCKET)
    return passed("bucket", name, "stored, ETag exposed, probe deleted")


def _delete_probe(key: str) -> str:
    """Empty when the probe is gone, else what went wrong."""
    try:
        s3.delete_object(key=key)
    except s3.ObjectNotFound:
        return ""
    except s3.StorageError as exc:
        return f"the probe object could not be deleted ({exc})"
    return ""


def rule_differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
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
        return [failed("rules", "read the bucket's CORS rules", str(exc), CHECK_S3)]
    name = "bucket rules match setup_bucket"
    ours = next((rule for rule in rules if rule.get("ID") == CORS_RULE_ID), None)
    if not origins:
        drift = skipped("rules", name, "no browser origins, nothing to compare")
    elif ours is None:
        detail = f"no rule {CORS_RULE_ID!r} on the bucket" + ("" if rules else " (it has no CORS rules at all)")
        drift = failed("rules", name, detail, SETUP_BUCKET)
    elif differences := rule_differences(ours, desired_cors_rule(origins)):
        drift = failed("rules", name, "; ".join(differences), SETUP_BUCKET)
    else:
        drift = passed("rules", name, f"rule {CORS_RULE_ID!r} is current")
    open_rules = [
        str(rule.get("ID") or f"#{i + 1}") for i, rule in enumerate(rules) if "*" in rule.get("AllowedOrigins", [])
    ]
    name = "no rule allows every origin"
    if open_rules:
        fix = "remove the wildcard rule from the bucket's CORS configuration"
        return [drift, failed("rules", name, f"rule(s) {', '.join(open_rules)} allow origin *", fix)]
    return [drift, passed("rules", name, f"{len(rules)} rule(s), none with *")]


def bucket_checks(session: requests.Session, origins: list[str], timeout: Timeout) -> list[CheckResult]:
    results: list[CheckResult] = []
    if not origins:
        fix = "set INTAKE_CORS_ALLOWED_ORIGINS (or pass --origin) and run manage.py setup_bucket"
        results.append(failed("bucket", "browser origins", "none configured: no browser can upload to the bucket", fix))
    for origin in origins:
        results.extend(_bucket_origin_checks(session, origin, timeout))
    try:
        refusal_url = _probe_put_url(_probe_key())
    except s3.StorageError as exc:
        results.append(failed("bucket", "sign a probe PUT", str(exc), CHECK_S3))
    else:
        results.append(
            refusal_result(
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
