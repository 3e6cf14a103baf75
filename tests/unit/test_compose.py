"""deploy/compose.yaml: one machine runs the entrypoint's commands from one image,
migrations first, and reads the env file deploy/render_env.py --compose writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import entrypoint
from deploy.envfile import parse_env_file

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat", "consumer")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_the_four_services_run_the_entrypoints_four_commands_from_one_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {services[name]["image"] for name in (*APP_SERVICES, "migrate")}
    assert images == {"${INTAKE_IMAGE:-intake:latest}"}
    for name in APP_SERVICES:
        assert services[name]["command"] == [name]
        assert name in entrypoint.COMMANDS
        assert "entrypoint" not in services[name]  # the image's own: python -m deploy.entrypoint


def test_migrations_run_once_before_the_app_starts(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_every_intake_container_reads_the_env_file_through_the_entrypoint(compose: dict[str, Any]) -> None:
    for name in (*APP_SERVICES, "migrate"):
        service = compose["services"][name]
        assert service["environment"] == {"INTAKE_ENV_FILE": "/run/intake/intake.env"}
        assert "./.env:/run/intake/intake.env:ro" in service["volumes"]
        assert "env_file" not in service  # compose's own reader would guess at bad lines
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]


def test_caddy_serves_the_sites_domain_in_front_of_web(compose: dict[str, Any]) -> None:
    caddy = compose["services"]["caddy"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert caddy["depends_on"] == {"web": {"condition": "service_healthy"}}
    # Nothing else is published: the database, Redis and gunicorn stay on the compose network.
    assert [name for name, service in compose["services"].items() if "ports" in service] == ["caddy"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert caddyfile.lstrip("#").find("{$INTAKE_SITE_DOMAIN} {") >= 0
    assert "reverse_proxy web:8000" in caddyfile
    assert "health_uri /healthz/live" in caddyfile


def test_render_env_compose_writes_every_value_compose_reads(compose: dict[str, Any], tmp_path: Path) -> None:
    outputs = {
        "IntakeS3Bucket": "acme-intake",
        "IntakeCognitoUserPoolId": "eu-west-1_AbCdEf123",
        "IntakeCognitoRegion": "eu-west-1",
        "IntakeCognitoClientId": "4s1mpl3cl13nt1d",
        "IntakePublicBaseUrl": "https://files.acme.example",
    }
    stack = {"Stacks": [{"StackName": "intake-acme", "StackStatus": "CREATE_COMPLETE",
                         "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}  # fmt: skip
    (tmp_path / "stack.json").write_text(json.dumps(stack))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_"))}
    result = subprocess.run(
        [sys.executable, "deploy/render_env.py", "--outputs-json", str(tmp_path / "stack.json"), "--compose",
         "--out", str(tmp_path / ".env")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    values = parse_env_file(tmp_path / ".env")  # the entrypoint's strict reader accepts it
    password = values["INTAKE_DB_PASSWORD"]
    assert len(password) >= 24
    assert values["DATABASE_URL"] == f"postgres://intake:{password}@db:5432/intake"
    assert values["REDIS_URL"] == "redis://redis:6379/0"
    assert values["INTAKE_SITE_DOMAIN"] == "files.acme.example"
    assert values["INTAKE_TRUSTED_PROXIES"] == "1"
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "deploy" / "compose.yaml").read_text()))
    assert interpolated - {"INTAKE_IMAGE"} <= values.keys()


def test_render_env_compose_refuses_outside_database_urls(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "deploy/render_env.py", "--outputs-json", "x.json", "--compose", "--database-url", "postgres://x"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--compose runs its own PostgreSQL and Redis" in result.stderr
