"""`manage.py doctor`: every link Intake depends on, checked from where it runs, each
failure with its fix (and the admin page that runs the same).

The parts, in the order a request meets them: settings that do not fit together, the
database, the Celery broker, the bucket (credentials, public access, encryption,
lifecycle, notifications), CORS end to end (`manage.py check_cors`, uploader.ops.cors_check),
the events queue and its dead-letter queue, the clock against S3's, the malware scanner, Cognito, e-mail
and CloudFront. Parts for things not configured say so ("skipped").

No secret is ever part of a result: checks report names, codes and exception types,
and every line is passed through `redact` against the configured secrets as well.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

from django.conf import settings

from uploader.ops.cors_check import cors_chain_check_from_settings
from uploader.ops.cors_check.results import (
    DEFAULT_TIMEOUT,
    CheckReport,
    CheckResult,
    Status,
    Timeout,
    failed,
    format_result,
)
from uploader.ops.doctor.bucket import bucket_checks
from uploader.ops.doctor.cdn import cloudfront_checks
from uploader.ops.doctor.clock import clock_checks
from uploader.ops.doctor.mail import mail_checks
from uploader.ops.doctor.platform import broker_checks, database_checks
from uploader.ops.doctor.queues import queue_checks
from uploader.ops.doctor.scanner import scanner_checks
from uploader.ops.doctor.settings_fit import settings_checks
from uploader.ops.doctor.signin import cognito_checks

__all__ = ["PARTS", "CheckReport", "CheckResult", "Status", "doctor_run", "format_result", "redact"]

logger = logging.getLogger(__name__)

# Settings whose values are secrets: none may appear in what the doctor says.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "INTAKE_S3_SECRET_ACCESS_KEY",
    "INTAKE_CLOUDFRONT_PRIVATE_KEY",
    "INTAKE_COGNITO_CLIENT_SECRET",
    "EMAIL_HOST_PASSWORD",
    "INTAKE_WEBHOOK_SIGNING_KEY",
    "INTAKE_PORTAL_TOKEN_KEY",
    "INTAKE_EVENTS_WEBHOOK_TOKEN",
    "INTAKE_METRICS_TOKEN",
)
REDACTED = "[redacted]"


def _cors(base_url: str | None, timeout: Timeout) -> list[CheckResult]:
    report = cors_chain_check_from_settings(base_url=base_url, timeout=timeout)
    # One part for the doctor; the chain's own parts (bucket, rules, api, cdn) lead each name.
    return [dataclasses.replace(result, part="cors", name=f"{result.part}: {result.name}") for result in report.results]


Part = Callable[[str | None, Timeout], list[CheckResult]]
PARTS: dict[str, Part] = {
    "settings": lambda base_url, timeout: settings_checks(),
    "database": lambda base_url, timeout: database_checks(),
    "broker": lambda base_url, timeout: broker_checks(),
    "s3": lambda base_url, timeout: bucket_checks(),
    "cors": _cors,
    "queue": lambda base_url, timeout: queue_checks(),
    "clock": lambda base_url, timeout: clock_checks(),
    "scanner": lambda base_url, timeout: scanner_checks(),
    "cognito": lambda base_url, timeout: cognito_checks(timeout),
    "e-mail": lambda base_url, timeout: mail_checks(),
    "cloudfront": lambda base_url, timeout: cloudfront_checks(),
}


def _secrets() -> list[str]:
    values = [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]
    values.append(str(settings.DATABASES.get("default", {}).get("PASSWORD", "") or ""))
    # A PEM key given inline with `\n` for newlines: its lines are secrets one by one too.
    values.extend(line for value in list(values) for line in value.replace("\\n", "\n").splitlines())
    return sorted({value.strip() for value in values if len(value.strip()) >= 8}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _run_part(name: str, part: Part, base_url: str | None, timeout: Timeout) -> list[CheckResult]:
    try:
        return part(base_url, timeout)
    except Exception as exc:
        logger.exception("doctor: the %s check failed", name)
        return [failed(name, "the check itself", f"stopped with {type(exc).__name__}", "see the log for the traceback")]


def doctor_run(
    *,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    base_url: str | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> CheckReport:
    """Run the parts (all, or `only` those, minus `skip`) in order; unknown names raise ValueError."""
    only, skip = list(only), list(skip)
    if unknown := sorted(set(only + skip) - set(PARTS)):
        raise ValueError(f"unknown part(s): {', '.join(unknown)} (known: {', '.join(PARTS)})")
    secrets = _secrets()
    results = []
    for name, part in PARTS.items():
        if (only and name not in only) or name in skip:
            continue
        for result in _run_part(name, part, base_url, timeout):
            results.append(
                dataclasses.replace(
                    result,
                    name=redact(result.name, secrets),
                    detail=redact(result.detail, secrets),
                    fix=redact(result.fix, secrets),
                )
            )
    return CheckReport(tuple(results))
