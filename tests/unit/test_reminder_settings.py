"""The document request reminder settings: beat's entry, working hours and the business
time zone read from the environment, and bad values stopping start-up by name."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.settings_process import settings_in_new_process

CODE = (
    "import django; django.setup(); from django.conf import settings; "
    "entry = settings.CELERY_BEAT_SCHEDULE['send-request-reminders']; "
    "print(entry['task'], entry['schedule'], settings.INTAKE_REMINDER_HOURS, settings.INTAKE_BUSINESS_TIME_ZONE)"
)


def _load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return settings_in_new_process(CODE, {"DJANGO_SETTINGS_MODULE": "config.settings.test", **env})


def test_beat_looks_for_reminders_and_hours_and_zone_come_from_the_environment() -> None:
    default = _load({"DJANGO_TIME_ZONE": "Europe/London"})
    assert default.stdout.split() == [
        "uploader.tasks.send_request_reminders",
        "900.0",
        "(9,",
        "17)",
        "Europe/London",
    ], default.stderr
    chosen = _load(
        {
            "INTAKE_REMINDER_HOURS": "8-18",
            "INTAKE_BUSINESS_TIME_ZONE": "America/New_York",
            "INTAKE_REMINDER_INTERVAL_MINUTES": "5",
        }
    )
    assert chosen.stdout.split() == ["uploader.tasks.send_request_reminders", "300.0", "(8,", "18)", "America/New_York"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INTAKE_REMINDER_HOURS", "17-9"),
        ("INTAKE_REMINDER_HOURS", "nine"),
        ("INTAKE_REMINDER_HOURS", "9-25"),
        ("INTAKE_BUSINESS_TIME_ZONE", "Mars/Olympus"),
        ("INTAKE_REMINDER_OVERDUE_EVERY_DAYS", "366"),
        ("INTAKE_REMINDER_DAYS_BEFORE_DUE", "-1"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name: str, value: str) -> None:
    result = _load({name: value})
    assert result.returncode != 0
    assert name in result.stderr
