"""The operations settings: the backlog's beat entry follows INTAKE_STACK_NAME, and a
metrics token too short to be a secret stops start-up."""

from __future__ import annotations

import subprocess

from tests.support.settings_process import settings_in_new_process

CODE = (
    "import django; django.setup(); from django.conf import settings; "
    "entry = settings.CELERY_BEAT_SCHEDULE.get('publish-celery-backlog'); "
    "print(entry['task'] if entry else 'none', entry['schedule'] if entry else '-')"
)


def _load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return settings_in_new_process(CODE, {"DJANGO_SETTINGS_MODULE": "config.settings.test", **env})


def test_beat_publishes_the_backlog_only_for_a_named_stack() -> None:
    assert _load({}).stdout.split() == ["none", "-"]
    named = _load({"INTAKE_STACK_NAME": "intake-prod", "INTAKE_BACKLOG_METRIC_SECONDS": "30"})
    assert named.stdout.split() == ["uploader.tasks.publish_celery_backlog", "30.0"], named.stderr


def test_a_short_metrics_token_stops_start_up_naming_the_variable() -> None:
    result = _load({"INTAKE_METRICS_TOKEN": "too-short"})
    assert result.returncode != 0
    assert "INTAKE_METRICS_TOKEN" in result.stderr
    assert "too-short" not in result.stderr
