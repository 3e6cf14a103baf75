"""The image's entrypoint outside a container: each command's command line, the
refusal of an unknown one, and the strict env file it reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import entrypoint
from deploy.envfile import EnvFileError, parse_env_file

ROOT = Path(__file__).resolve().parents[2]


def _entrypoint(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.entrypoint", *args],
        cwd=ROOT, env=env or dict(os.environ), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("argv", [["bogus"], [], ["WEB"]])
def test_an_unknown_command_is_refused_with_the_valid_ones(argv: list[str]) -> None:
    result = _entrypoint(*argv)
    assert result.returncode == 2
    assert "valid commands: web, worker, beat, consumer, migrate, manage, healthcheck" in result.stderr
    assert result.stdout == ""


def test_each_process_type_runs_its_own_program() -> None:
    env = {"INTAKE_VAR_DIR": "/tmp/intake-x", "DJANGO_LOG_LEVEL": "WARNING"}
    python = sys.executable
    assert entrypoint.command_line(["web"], env) == [
        python,
        "-m",
        "gunicorn",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
    ]
    assert entrypoint.command_line(["worker", "--without-gossip"], env) == [
        python, "-m", "celery", "--quiet", "--app", "config", "worker", "--loglevel", "WARNING", "--max-memory-per-child", "600000",
        "--without-gossip",
    ]  # fmt: skip
    assert entrypoint.command_line(["worker"], {**env, "CELERY_WORKER_CONCURRENCY": "3"})[-2:] == ["--concurrency", "3"]
    assert entrypoint.command_line(["beat"], env)[-2:] == ["--schedule", "/tmp/intake-x/celerybeat-schedule"]
    assert entrypoint.command_line(["consumer"], env) == [
        python,
        str(ROOT / "manage.py"),
        "consume_s3_events",
        "--verbosity",
        "0",
    ]
    assert entrypoint.command_line(["migrate"], env) == [python, str(ROOT / "manage.py"), "migrate_locked"]
    assert entrypoint.command_line(["manage", "check"], env) == [python, str(ROOT / "manage.py"), "check"]


def test_the_entrypoint_runs_the_command_in_place_with_the_env_files_values(tmp_path: Path) -> None:
    env_file = tmp_path / "intake.env"
    env_file.write_text("# a comment\n\nDJANGO_SETTINGS_MODULE=config.settings.local\nINTAKE_S3_BUCKET=from-the-file\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_"))}
    env.update(INTAKE_ENV_FILE=str(env_file), INTAKE_VAR_DIR=str(tmp_path))
    code = "from django.conf import settings; print(settings.INTAKE_S3_BUCKET)"
    result = _entrypoint("manage", "shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "from-the-file"
    # The environment wins over the file (an explicit `-e` beats the file).
    result = _entrypoint("manage", "shell", "-c", code, env={**env, "INTAKE_S3_BUCKET": "from-the-environment"})
    assert result.stdout.splitlines()[-1] == "from-the-environment"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("A=1\nthis is not a setting\n", 2, "expected NAME=value"),
        ("export DATABASE_URL=postgres://x\n", 1, "is not a variable name"),
        ("database_url=postgres://x\n", 1, "is not a variable name"),
        ("A=1\nDJANGO_SECRET_KEY = abc\n", 2, "is not a variable name"),
        ('DJANGO_SECRET_KEY="abc"\n', 1, "is quoted"),
        ("A=1\nB=2\nA=3\n", 3, "A is set again (first on line 1)"),
        ("A=trailing \n", 1, "starts or ends with a space"),
    ],
)
def test_a_malformed_env_file_is_refused_naming_the_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    env_file = tmp_path / "intake.env"
    env_file.write_text(text)
    with pytest.raises(EnvFileError, match=f"line {line}: .*{re.escape(reason)}"):
        parse_env_file(env_file)


def test_the_entrypoint_refuses_a_malformed_env_file_before_starting_anything(tmp_path: Path) -> None:
    env_file = tmp_path / "intake.env"
    env_file.write_text("DJANGO_SETTINGS_MODULE=config.settings.production\nexport REDIS_URL=redis://x\n")
    result = _entrypoint("web", env={**os.environ, "INTAKE_ENV_FILE": str(env_file)})
    assert result.returncode == 2
    assert result.stderr.startswith(f"entrypoint: {env_file}, line 2: 'export REDIS_URL' is not a variable name")
    assert "Traceback" not in result.stderr


def test_a_refused_line_without_a_name_is_not_echoed(tmp_path: Path) -> None:
    """A line without `=` may be a secret pasted on its own: the message names the
    line, not its content."""
    env_file = tmp_path / "intake.env"
    env_file.write_text("s3cr3t-pasted-on-its-own-line\n")
    result = _entrypoint("web", env={**os.environ, "INTAKE_ENV_FILE": str(env_file)})
    assert result.returncode == 2
    assert "line 1" in result.stderr
    assert "s3cr3t" not in result.stderr


def test_a_missing_env_file_is_refused_naming_it(tmp_path: Path) -> None:
    result = _entrypoint("web", env={**os.environ, "INTAKE_ENV_FILE": str(tmp_path / "nowhere.env")})
    assert result.returncode == 2
    assert f"cannot read {tmp_path / 'nowhere.env'}" in result.stderr


def test_the_healthcheck_fails_when_nothing_answers() -> None:
    from tests.support.processes import free_port

    result = _entrypoint("healthcheck", env={**os.environ, "PORT": str(free_port())})
    assert result.returncode == 1
    assert "healthcheck:" in result.stderr


def test_the_metrics_directory_exists_before_the_command_starts(tmp_path: Path) -> None:
    """prometheus-client's multiprocess mode writes into PROMETHEUS_MULTIPROC_DIR from
    the first signed URL on; on a new task's /tmp it does not exist yet."""
    metrics_dir = tmp_path / "tmp" / "prometheus"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local", INTAKE_VAR_DIR=str(tmp_path),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )  # fmt: skip
    code = "import os; print(os.path.isdir(os.environ['PROMETHEUS_MULTIPROC_DIR']))"
    result = _entrypoint("manage", "shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True"
