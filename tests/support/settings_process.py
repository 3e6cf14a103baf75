"""Settings loaded in a fresh interpreter: start-up checks run once per process, so a
test of what an environment does to the settings needs its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a test's environment replaces rather than adds to.
APP_PREFIXES = ("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_", "CELERY_")


def settings_in_new_process(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `code` (which sets Django up) with this process's environment minus the app's
    own variables, plus `env`; stdout and stderr are captured as text."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(APP_PREFIXES)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
