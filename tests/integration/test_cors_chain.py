"""`manage.py check_cors` against the real chain: the emulator's bucket (which honours
its CORS rules, MOTO_DISABLE_GLOBAL_CORS=1) and the app served by a live server."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from emulator import free_port

from tests.integration.conftest import CORS_APP_ORIGIN as APP_ORIGIN
from tests.integration.conftest import CORS_BROWSER_ORIGIN as BROWSER_ORIGIN
from uploader import s3
from uploader.ops.bucket_setup import CORS_RULE_ID, desired_cors_rule
from uploader.ops.cors_check import REFUSED_ORIGIN

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def run_check(*args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    try:
        call_command("check_cors", "--json", *args, stdout=out)
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    return status, json.loads(out.getvalue())


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report["checks"]}


def failures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: check for name, check in by_name(report).items() if check["status"] == "failed"}


def objects_left() -> list[str]:
    return [item.key for item in s3.list_objects(prefix="")]


def test_a_configured_chain_passes_and_leaves_nothing_behind(chain: str) -> None:
    status, report = run_check()
    assert status == 0, failures(report)
    assert report["ok"] is True
    checks = by_name(report)
    for name in (
        f"preflight single PUT from {BROWSER_ORIGIN}",
        f"preflight multipart part PUT from {BROWSER_ORIGIN}",
        f"signed PUT from {BROWSER_ORIGIN} exposes ETag",
        f"preflight PUT from a foreign origin ({REFUSED_ORIGIN})",
        f"preflight /api/s3/params from a foreign origin ({REFUSED_ORIGIN})",
        "bucket rules match setup_bucket",
        "no rule allows every origin",
        f"preflight /api/s3/params from {APP_ORIGIN}",
        "no credentials across origins",
    ):
        assert checks[name]["status"] == "passed", checks[name]
    assert checks["CloudFront"]["status"] == "skipped"
    assert "not configured" in checks["CloudFront"]["detail"]
    assert objects_left() == []


def test_the_plain_output_has_one_line_per_check(chain: str) -> None:
    out = io.StringIO()
    call_command("check_cors", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "CORS chain OK"
    assert all(line[0] in "✓-" for line in lines[:-1])
    assert any(line.startswith("✓ bucket preflight single PUT from") for line in lines)
    # Signed URLs are credentials: neither output shows one.
    assert "X-Amz-Signature" not in out.getvalue()
    assert "X-Amz-Signature" not in json.dumps(run_check()[1])


def test_a_bucket_without_cors_rules_fails_with_setup_bucket_as_the_fix(chain: str) -> None:
    s3.boto3_client().delete_bucket_cors(Bucket=chain)
    status, report = run_check()
    assert status == 1
    failed = failures(report)
    preflight = failed[f"preflight single PUT from {BROWSER_ORIGIN}"]
    # AWS answers 403 here, the emulator 200: without the header a browser stops either way.
    assert preflight["detail"].startswith("no Access-Control-Allow-Origin (HTTP ")
    assert "setup_bucket" in preflight["fix"]
    assert f"preflight multipart part PUT from {BROWSER_ORIGIN}" in failed
    assert f"signed PUT from {BROWSER_ORIGIN} exposes ETag" in failed
    rules = failed["bucket rules match setup_bucket"]
    assert "it has no CORS rules at all" in rules["detail"]
    assert rules["fix"] == "run manage.py setup_bucket"
    # The API is fine: only the bucket's lines fail.
    assert {check["part"] for check in failed.values()} == {"bucket", "rules"}
    assert objects_left() == []


def test_an_origin_missing_from_the_rules_fails_and_says_which(chain: str) -> None:
    other = "https://other.example.test"
    status, report = run_check("--origin", other)
    assert status == 1
    failed = failures(report)
    preflight = failed[f"preflight single PUT from {other}"]
    assert "no Access-Control-Allow-Origin" in preflight["detail"]
    assert preflight["fix"] == f"add {other} to INTAKE_CORS_ALLOWED_ORIGINS and run manage.py setup_bucket"
    assert "AllowedOrigins is ['http://127.0.0.1:8000']" in failed["bucket rules match setup_bucket"]["detail"]
    assert objects_left() == []


def test_a_rule_without_etag_exposed_fails_the_probe_put(chain: str) -> None:
    rule = {k: v for k, v in desired_cors_rule([BROWSER_ORIGIN]).items() if k != "ExposeHeaders"}
    s3.put_cors_rules([rule])
    status, report = run_check()
    assert status == 1
    failed = failures(report)
    probe = failed[f"signed PUT from {BROWSER_ORIGIN} exposes ETag"]
    assert probe["detail"] == "Access-Control-Expose-Headers lacks ETag: multipart uploads cannot complete"
    assert "ExposeHeaders is None" in failed["bucket rules match setup_bucket"]["detail"]
    # Preflights themselves still pass: only the exposed headers are wrong.
    assert by_name(report)[f"preflight single PUT from {BROWSER_ORIGIN}"]["status"] == "passed"
    assert objects_left() == []


def test_drifted_rules_are_reported_even_when_browsers_still_get_through(chain: str) -> None:
    rule = {**desired_cors_rule([BROWSER_ORIGIN]), "MaxAgeSeconds": 60}
    s3.put_cors_rules([rule])
    status, report = run_check()
    assert status == 1
    assert list(failures(report)) == ["bucket rules match setup_bucket"]
    assert (
        failures(report)["bucket rules match setup_bucket"]["detail"] == "MaxAgeSeconds is 60, setup_bucket writes 3000"
    )


def test_a_wildcard_rule_lets_a_foreign_origin_in_and_fails(chain: str) -> None:
    # Hand-edited to "any origin" (the emulator evaluates one rule at a time, so the
    # wildcard replaces ours rather than joining it).
    s3.put_cors_rules([{**desired_cors_rule([BROWSER_ORIGIN]), "AllowedOrigins": ["*"]}])
    status, report = run_check()
    assert status == 1
    failed = failures(report)
    refused = failed[f"preflight PUT from a foreign origin ({REFUSED_ORIGIN})"]
    assert refused["part"] == "bucket"
    assert refused["detail"].endswith("any site may call it")
    assert "remove the wildcard" in refused["fix"]
    assert failed["no rule allows every origin"]["detail"] == f"rule(s) {CORS_RULE_ID} allow origin *"
    assert "AllowedOrigins is ['*']" in failed["bucket rules match setup_bucket"]["detail"]
    # Browsers on the configured origin still get through.
    assert by_name(report)[f"signed PUT from {BROWSER_ORIGIN} exposes ETag"]["status"] == "passed"


def test_an_app_that_does_not_answer_is_a_clear_failure(chain: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    status, report = run_check("--base-url", closed)
    assert status == 1
    api = failures(report)[f"preflight /api/s3/params from {APP_ORIGIN}"]
    assert api["detail"] == f"no answer from {closed.removeprefix('http://')} (ConnectionError)"
    assert "--base-url" in api["fix"]
    # Nothing answered, so nothing is claimed about credentials.
    assert "no credentials across origins" not in by_name(report)


def test_an_unreachable_bucket_endpoint_is_a_clear_failure(chain: str, settings) -> None:  # type: ignore[no-untyped-def]
    closed = f"127.0.0.1:{free_port()}"
    settings.INTAKE_S3_ENDPOINT_URL = f"http://{closed}"
    s3.reset_clients()
    status, report = run_check()
    assert status == 1
    failed = failures(report)
    for name in (f"preflight single PUT from {BROWSER_ORIGIN}", f"signed PUT from {BROWSER_ORIGIN} exposes ETag"):
        assert failed[name]["detail"] == f"no answer from {closed} (ConnectionError)"
    assert failed["read the bucket's CORS rules"]["part"] == "rules"
    # The app itself answers fine.
    assert by_name(report)[f"preflight /api/s3/params from {APP_ORIGIN}"]["status"] == "passed"


def test_an_api_origin_the_app_does_not_list_fails(chain: str, settings) -> None:  # type: ignore[no-untyped-def]
    # The check reads the setting; the running app answers from CORS_ALLOWED_ORIGINS.
    # They disagree when the app was deployed with another list than this shell's.
    settings.INTAKE_API_CORS_ALLOWED_ORIGINS = [APP_ORIGIN, "https://new-app.example.test"]
    status, report = run_check()
    assert status == 1
    failed = failures(report)
    assert list(failed) == ["preflight /api/s3/params from https://new-app.example.test"]
    assert (
        "INTAKE_API_CORS_ALLOWED_ORIGINS" in failed["preflight /api/s3/params from https://new-app.example.test"]["fix"]
    )


def test_an_api_that_allows_credentials_fails(chain: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CORS_ALLOW_CREDENTIALS = True  # what ADR 0008 forbids, e.g. set by a proxy
    status, report = run_check()
    assert status == 1
    failed = failures(report)
    assert list(failed) == ["no credentials across origins"]
    assert failed["no credentials across origins"]["detail"].startswith(
        f"Access-Control-Allow-Credentials: true for {APP_ORIGIN}"
    )


def test_a_configured_cdn_is_preflighted_for_each_origin(chain: str, settings) -> None:  # type: ignore[no-untyped-def]
    # The emulator's bucket stands in for the distribution's S3 origin.
    settings.INTAKE_CLOUDFRONT_DOMAIN = f"{settings.INTAKE_S3_ENDPOINT_URL}/{chain}"
    status, report = run_check()
    assert status == 0, failures(report)
    assert by_name(report)[f"preflight GET from {BROWSER_ORIGIN}"]["part"] == "cdn"
    s3.boto3_client().delete_bucket_cors(Bucket=chain)
    status, report = run_check()
    assert by_name(report)[f"preflight GET from {BROWSER_ORIGIN}"]["status"] == "failed"
    assert "forward OPTIONS" in by_name(report)[f"preflight GET from {BROWSER_ORIGIN}"]["fix"]
