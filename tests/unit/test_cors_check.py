"""The CORS check's pure parts: lines, JSON and exit status; what counts as a browser's
objection in a preflight answer; rule drift; and the origin setting's validation."""

from __future__ import annotations

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from config.settings import base
from tests.unit.test_settings import MINIMAL_PRODUCTION_ENV, _load
from uploader.ops.bucket_setup import desired_cors_rule
from uploader.ops.cors_check import CheckResult, CorsReport, Status, format_result
from uploader.ops.cors_check.browser import preflight_problems
from uploader.ops.cors_check.bucket import rule_differences
from uploader.ops.cors_check.endpoints import cdn_base

ORIGIN = "https://files.example.test"


def answer(status: int = 200, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update({name.replace("_", "-"): value for name, value in headers.items()})
    return response


def test_lines_mark_each_state_and_only_failures_carry_the_fix() -> None:
    assert (
        format_result(CheckResult("bucket", "preflight", Status.PASSED, "allowed", "unused"))
        == "✓ bucket preflight: allowed"
    )
    assert (
        format_result(
            CheckResult("rules", "drift", Status.FAILED, "MaxAgeSeconds differs", "run manage.py setup_bucket")
        )
        == "✗ rules  drift: MaxAgeSeconds differs — fix: run manage.py setup_bucket"
    )
    assert (
        format_result(CheckResult("cdn", "CloudFront", Status.SKIPPED, "not configured"))
        == "- cdn    CloudFront: not configured"
    )


def test_skips_do_not_fail_the_run_and_one_failure_does() -> None:
    passed = CheckResult("api", "a", Status.PASSED, "ok")
    skipped = CheckResult("cdn", "b", Status.SKIPPED, "not configured")
    failed = CheckResult("bucket", "c", Status.FAILED, "refused", "fix it")
    assert CorsReport((passed, skipped)).exit_status == 0
    report = CorsReport((passed, skipped, failed))
    assert report.exit_status == 1
    document = report.as_json()
    assert document["ok"] is False
    assert document["failed"] == 1
    assert document["checks"][2] == {
        "part": "bucket",
        "name": "c",
        "status": "failed",
        "detail": "refused",
        "fix": "fix it",
    }
    assert report.lines() == [format_result(r) for r in (passed, skipped, failed)]


def test_an_empty_report_passes() -> None:
    assert CorsReport(()).ok


def test_a_complete_preflight_answer_has_no_problems() -> None:
    response = answer(
        Access_Control_Allow_Origin=ORIGIN,
        Access_Control_Allow_Methods="GET, HEAD, POST, PUT",
        Access_Control_Allow_Headers="Content-Type, x-amz-checksum-sha256",
    )
    assert (
        preflight_problems(
            response, origin=ORIGIN, method="PUT", request_headers=["content-type", "x-amz-checksum-sha256"]
        )
        == []
    )


def test_wildcards_satisfy_a_browser() -> None:
    response = answer(
        Access_Control_Allow_Origin="*", Access_Control_Allow_Methods="*", Access_Control_Allow_Headers="*"
    )
    assert preflight_problems(response, origin=ORIGIN, method="PUT", request_headers=["content-type"]) == []


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (answer(403), "no Access-Control-Allow-Origin (HTTP 403)"),
        (
            answer(301, Location="https://x/"),
            "answered HTTP 301 (a redirect; browsers do not follow one on a preflight)",
        ),
        (
            answer(
                Access_Control_Allow_Origin="https://other.test",
                Access_Control_Allow_Methods="PUT",
                Access_Control_Allow_Headers="content-type",
            ),
            "Access-Control-Allow-Origin is 'https://other.test', not this origin",
        ),
        (
            answer(
                Access_Control_Allow_Origin=ORIGIN,
                Access_Control_Allow_Methods="GET, HEAD",
                Access_Control_Allow_Headers="content-type",
            ),
            "Access-Control-Allow-Methods lacks PUT (has get, head)",
        ),
        (
            answer(
                Access_Control_Allow_Origin=ORIGIN,
                Access_Control_Allow_Methods="PUT",
                Access_Control_Allow_Headers="content-md5",
            ),
            "Access-Control-Allow-Headers lacks content-type",
        ),
    ],
)
def test_what_a_browser_would_object_to(response: requests.Response, problem: str) -> None:
    assert preflight_problems(response, origin=ORIGIN, method="PUT", request_headers=["content-type"]) == [problem]


def test_rule_drift_ignores_order_and_header_case_but_not_origins() -> None:
    wanted = desired_cors_rule([ORIGIN])
    same = {
        **wanted,
        "AllowedHeaders": [h.upper() for h in reversed(wanted["AllowedHeaders"])],
        "AllowedMethods": list(reversed(wanted["AllowedMethods"])),
    }
    assert rule_differences(same, wanted) == []
    other = {**wanted, "AllowedOrigins": [ORIGIN.upper()], "MaxAgeSeconds": 60}
    assert rule_differences(other, wanted) == [
        "AllowedOrigins is ['HTTPS://FILES.EXAMPLE.TEST'], setup_bucket writes ['https://files.example.test']",
        "MaxAgeSeconds is 60, setup_bucket writes 3000",
    ]
    missing = {k: v for k, v in wanted.items() if k != "ExposeHeaders"}
    assert rule_differences(missing, wanted) == [
        "ExposeHeaders is None, setup_bucket writes ['ETag', 'Location', 'x-amz-version-id']"
    ]


def test_the_cdn_address_takes_a_domain_or_a_full_address() -> None:
    assert cdn_base("d111.cloudfront.net") == "https://d111.cloudfront.net"
    assert cdn_base("https://files-cdn.example.test/") == "https://files-cdn.example.test"


@pytest.mark.parametrize(
    "good", ["", "https://app.example.test", "https://app.example.test:8443,http://127.0.0.1:5173"]
)
def test_api_origins_accept_exact_origins(monkeypatch: pytest.MonkeyPatch, good: str) -> None:
    monkeypatch.setenv("INTAKE_API_CORS_ALLOWED_ORIGINS", good)
    assert base.env_origins("INTAKE_API_CORS_ALLOWED_ORIGINS") == [o for o in good.split(",") if o]


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        "https://*.example.test",
        "https://app.example.test/",
        "https://app.example.test/api",
        "app.example.test",
        "ftp://x.test",
    ],
)
def test_api_origins_refuse_anything_but_an_exact_origin(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("INTAKE_API_CORS_ALLOWED_ORIGINS", bad)
    with pytest.raises(ImproperlyConfigured, match=r"INTAKE_API_CORS_ALLOWED_ORIGINS: .* is not an exact origin"):
        base.env_origins("INTAKE_API_CORS_ALLOWED_ORIGINS")


def test_production_refuses_plain_http_api_origins() -> None:
    refused = _load(
        {**MINIMAL_PRODUCTION_ENV, "INTAKE_API_CORS_ALLOWED_ORIGINS": "https://a.example.test,http://b.example.test"}
    )
    assert refused.returncode != 0
    assert "INTAKE_API_CORS_ALLOWED_ORIGINS must list https:// origins in production" in refused.stderr
    accepted = _load({**MINIMAL_PRODUCTION_ENV, "INTAKE_API_CORS_ALLOWED_ORIGINS": "https://a.example.test"})
    assert accepted.returncode == 0, accepted.stderr
