"""The operations settings: the backlog's beat entry follows INTAKE_STACK_NAME, and a
metrics token too short to be a secret stops start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = (
    "import django; django.setup(); from django.conf import settings; "
    "entry = settings.CELERY_BEAT_SCHEDULE.get('publish-celery-backlog'); "
    "print(entry['task'] if entry else 'none', entry['schedule'] if entry else '-')"
)


def _load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_", "CELERY_"))}
    return subprocess.run(
        [sys.executable, "-c", CODE],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_beat_publishes_the_backlog_only_for_a_named_stack() -> None:
    assert _load({}).stdout.split() == ["none", "-"]
    named = _load({"INTAKE_STACK_NAME": "intake-prod", "INTAKE_BACKLOG_METRIC_SECONDS": "30"})
    assert named.stdout.split() == ["uploader.tasks.publish_celery_backlog", "30.0"], named.stderr


def test_a_short_metrics_token_stops_start_up_naming_the_variable() -> None:
    result = _load({"INTAKE_METRICS_TOKEN": "too-short"})
    assert result.returncode != 0
    assert "INTAKE_METRICS_TOKEN" in result.stderr
    assert "too-short" not in result.stderr
