"""The doctor's own logic, without servers: the clock skew arithmetic, settings that do
not fit together, and the redaction of secrets."""

from __future__ import annotations

from email.utils import formatdate
from types import SimpleNamespace
from typing import Any

import pytest

from uploader.ops.doctor import redact
from uploader.ops.doctor.clock import MAX_SKEW_SECONDS, UnreadableDate, clock_skew, skew_result
from uploader.ops.doctor.settings_fit import settings_checks

NOW = 1_800_000_000.0  # a whole second


def test_a_date_stamped_during_the_request_is_no_skew() -> None:
    skew, uncertainty = clock_skew(formatdate(NOW, usegmt=True), local_before=NOW, local_after=NOW + 0.2)
    # S3 truncates to the second: its true time was in [NOW, NOW + 1).
    assert skew == pytest.approx(0.4)
    assert uncertainty == pytest.approx(0.6)
    assert skew_result(formatdate(NOW, usegmt=True), local_before=NOW, local_after=NOW + 0.2).status == "passed"


@pytest.mark.parametrize(("shift", "words"), [(600, "behind"), (-600, "ahead of")])
def test_a_server_ten_minutes_off_is_skew_in_the_right_direction(shift: int, words: str) -> None:
    skew, _ = clock_skew(formatdate(NOW + shift, usegmt=True), local_before=NOW, local_after=NOW)
    assert skew == pytest.approx(shift + 0.5)
    result = skew_result(formatdate(NOW + shift, usegmt=True), local_before=NOW, local_after=NOW)
    assert result.status == "failed"
    assert f"600 s {words} S3" in result.detail
    assert "NTP" in result.fix


def test_skew_within_the_uncertainty_of_a_slow_answer_is_not_blamed_on_the_clock() -> None:
    # The answer took 70 s: S3's Date could be from any moment in it.
    date = formatdate(NOW + 65, usegmt=True)
    assert skew_result(date, local_before=NOW, local_after=NOW + 70).status == "passed"
    assert (
        skew_result(formatdate(NOW + MAX_SKEW_SECONDS + 2, usegmt=True), local_before=NOW, local_after=NOW).status
        == "failed"
    )


@pytest.mark.parametrize("date", ["", "yesterday", "Mon, 32 Foo 2026 99:00:00"])
def test_an_unreadable_date_is_a_failure_not_a_crash(date: str) -> None:
    with pytest.raises(UnreadableDate):
        clock_skew(date, local_before=NOW, local_after=NOW)
    assert skew_result(date, local_before=NOW, local_after=NOW).status == "failed"


def _conf(**overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "INTAKE_PUBLIC_BASE_URL": "https://files.example.test",
        "INTAKE_CORS_ALLOWED_ORIGINS": ["https://files.example.test"],
        "INTAKE_S3_EVENTS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/intake-events",
        "INTAKE_S3_EVENTS_QUEUE_ARN": "arn:aws:sqs:eu-west-1:123456789012:intake-events",
        "INTAKE_SNS_TOPIC_ARNS": [],
        "INTAKE_EVENTS_WEBHOOK_TOKEN": "",
        "CELERY_TASK_SOFT_TIME_LIMIT": 120,
        "CELERY_TASK_TIME_LIMIT": 180,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {"visibility_timeout": 3600},
        "INTAKE_PROCESSING_TIME_LIMIT_SECONDS": 120,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "DEBUG": False,
        "PROMETHEUS_MULTIPROC_DIR": "",
    }
    return SimpleNamespace(**{**values, **overrides})


def _failed(conf: SimpleNamespace) -> dict[str, str]:
    return {result.name: result.fix for result in settings_checks(conf) if result.status == "failed"}


def test_settings_that_fit_pass() -> None:
    assert _failed(_conf()) == {}


def test_each_misfit_is_named_with_its_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert (
        "add https://files.example.test to INTAKE_CORS_ALLOWED_ORIGINS"
        in _failed(_conf(INTAKE_CORS_ALLOWED_ORIGINS=["https://other.example.test"]))[
            "the site's origin may upload to the bucket"
        ]
    )
    assert "browser origins" in _failed(_conf(INTAKE_CORS_ALLOWED_ORIGINS=[]))
    assert (
        "INTAKE_S3_EVENTS_QUEUE_URL"
        in _failed(_conf(INTAKE_S3_EVENTS_QUEUE_URL="", INTAKE_S3_EVENTS_QUEUE_ARN=""))["S3 events reach the app"]
    )
    assert "the notified queue is the consumed queue" in _failed(
        _conf(INTAKE_S3_EVENTS_QUEUE_ARN="arn:aws:sqs:eu-west-1:123456789012:old-events")
    )
    assert (
        "CELERY_VISIBILITY_TIMEOUT above 630"
        in _failed(
            _conf(CELERY_BROKER_TRANSPORT_OPTIONS={"visibility_timeout": 400}, INTAKE_PROCESSING_TIME_LIMIT_SECONDS=600)
        )["task time limits fit the broker's redelivery"]
    )
    assert (
        "soft limit" in _failed(_conf(CELERY_TASK_SOFT_TIME_LIMIT=180))["task time limits fit the broker's redelivery"]
    )
    assert "smtp" in _failed(_conf(EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend"))["e-mail is sent"]
    assert _failed(_conf(EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend", DEBUG=True)) == {}
    assert "metrics directory" in _failed(_conf(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "missing")))
    assert _failed(_conf(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))) == {}


def test_redaction_replaces_every_secret_longest_first() -> None:
    assert redact("key abcdefgh12 and abcdefgh", ["abcdefgh12", "abcdefgh"]) == "key [redacted] and [redacted]"
