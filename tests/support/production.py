"""Intake's production process set, started the way the image starts it
(`python -m deploy.entrypoint web|worker|beat|consumer|migrate|manage`) with
`config.settings.production`, against a fresh PostgreSQL database of the machine's
server, a private Redis and the S3 emulator. Used by
tests/integration/test_production_processes.py and, with the processes in
containers, by scripts/image_smoke.sh."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests
from psycopg import sql

from tests.support.processes import ROOT, ManagedProcess, free_port

PROCESSES = ("web", "worker", "beat", "consumer")
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
SITE = "https://files.example.test"


def postgres_server_url() -> str:
    """The machine's PostgreSQL: DATABASE_URL's server when it is PostgreSQL, else the default."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else DEFAULT_POSTGRES


def _with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def fresh_database(prefix: str = "intake_prod") -> Iterator[str]:
    """A new, empty PostgreSQL database for the test, dropped afterwards."""
    server = postgres_server_url()
    base = urllib.parse.urlsplit(server).path.lstrip("/") or "intake"
    name = f"{base}_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = _with_database(server, "postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(server, name)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def production_environment(*, database_url: str, redis_url: str, s3_endpoint: str, var_dir: Path) -> dict[str, str]:
    """A complete production environment, as deploy/render_env.py would write it,
    pointed at the emulator (path-style, http) instead of AWS."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_", "CELERY_"))
    }
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "files.example.test,127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "INTAKE_S3_BUCKET": f"intake-prod-{uuid.uuid4().hex[:10]}",
        "INTAKE_S3_ENDPOINT_URL": s3_endpoint,
        "INTAKE_S3_ADDRESSING_STYLE": "path",
        "INTAKE_S3_REGION": "us-east-1",
        "INTAKE_CORS_ALLOWED_ORIGINS": SITE,
        "INTAKE_PUBLIC_BASE_URL": SITE,
        "INTAKE_WEBHOOK_SIGNING_KEY": secrets.token_urlsafe(32),
        "INTAKE_ALLOW_PASSWORD_SIGN_IN": "true",
        "INTAKE_SQS_VISIBILITY_SECONDS": "10",
        # No clamd beside these processes; scanning has its own tests (test_scanning.py).
        "INTAKE_SCANNER": "none",
        "INTAKE_VAR_DIR": str(var_dir),
        "PORT": str(free_port()),
        "GUNICORN_WORKERS": "1",
        "CELERY_WORKER_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
        # The tests may run as root, the image never does: Celery's warning about root
        # is not what this test is about.
        "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
    }


def entrypoint(*args: str) -> list[str]:
    return [sys.executable, "-m", "deploy.entrypoint", *args]


# What reaches a container: the app's settings, not this machine's environment.
_APP_VARIABLES = ("DJANGO_", "INTAKE_", "DATABASE_URL", "REDIS_URL", "CELERY_", "GUNICORN_", "PORT", "AWS_")


class Image:
    """The same commands inside the image (scripts/image_smoke.sh builds it): one
    container per process, on the host's network, configured only through the env file
    the entrypoint reads (INTAKE_ENV_FILE)."""

    def __init__(self, image: str, env_file: Path) -> None:
        self.image, self.env_file = image, env_file
        self.engine = os.environ.get("INTAKE_TEST_ENGINE", "podman")
        self.names: list[str] = []

    def write_env_file(self, env: dict[str, str]) -> None:
        lines = [f"{k}={v}" for k, v in sorted(env.items()) if k.startswith(_APP_VARIABLES) and k != "INTAKE_VAR_DIR"]
        self.env_file.write_text("\n".join(lines) + "\n")
        self.env_file.chmod(0o644)  # the image's user (10001) reads it; a test file, no real secret

    def command(self, *args: str, name: str | None = None) -> list[str]:
        container = name or f"intake-smoke-{uuid.uuid4().hex[:8]}"
        self.names.append(container)
        return [
            # The test runs the image's HEALTHCHECK itself (`healthy`). Without systemd,
            # podman says on every start that it cannot schedule it; that line is podman's,
            # not the app's, and would sit among the app's JSON lines.
            self.engine, "--log-level", "fatal", "run", "--rm", "--name", container, "--network", "host",
            "--volume", f"{self.env_file}:/run/intake/intake.env:ro", "--env", "INTAKE_ENV_FILE=/run/intake/intake.env",
            self.image, *args,
        ]  # fmt: skip

    def remove_all(self) -> None:
        for name in self.names:
            subprocess.run(
                [self.engine, "rm", "--force", "--ignore", name], capture_output=True, check=False, timeout=60
            )


def run(args: Sequence[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


class BehindTheProxy:
    """A browser as gunicorn sees it behind the TLS proxy: plain HTTP with
    `X-Forwarded-Proto: https`. The app's cookies are Secure, which an HTTP client
    would keep to itself, so this one sends them back by hand."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"X-Forwarded-Proto": "https", "Host": "files.example.test", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        answer = requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]
        self.cookies.update(answer.cookies.get_dict())
        return answer


@dataclass
class ProductionSet:
    env: dict[str, str]
    var_dir: Path
    queue_name: str
    image: Image | None = None
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    def command(self, *args: str, name: str | None = None) -> list[str]:
        """The entrypoint's command line here, or in a container of the image."""
        return self.image.command(*args, name=name) if self.image else entrypoint(*args)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        if self.image:
            self.image.write_env_file(self.env)
        return run(self.command(*args), self.env)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    def start(self, name: str, *args: str) -> ManagedProcess:
        if self.image:
            self.image.write_env_file(self.env)
        command = self.command(name, *args, name=f"intake-smoke-{name}-{uuid.uuid4().hex[:6]}")
        process = ManagedProcess(command, self.env, self.var_dir / f"{name}.log").start()
        self.processes[name] = process
        return process

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        if self.image:
            self.image.remove_all()

    def alive(self, name: str) -> bool:
        started = self.processes[name].process
        return started is not None and started.poll() is None

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{p.tail()}" for name, p in self.processes.items())

    def wait_live(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name in self.processes:
                assert self.alive(name), f"{name} exited\n{self.logs()}"
            if self.healthy():
                return
            time.sleep(0.5)
        raise AssertionError(f"the web process was not live after {seconds} s\n{self.logs()}")

    def healthy(self) -> bool:
        """The image's HEALTHCHECK command, run where the web process runs."""
        if self.image:
            web = self.image.names[-1] if self.image.names else ""
            web = next((n for n in self.image.names if n.startswith("intake-smoke-web-")), web)
            check = [self.image.engine, "healthcheck", "run", web]
            return subprocess.run(check, capture_output=True, check=False, timeout=30).returncode == 0
        return run(entrypoint("healthcheck"), self.env, timeout=10).returncode == 0

    def variant(self, env: dict[str, str], label: str) -> ProductionSet:
        """The same set-up with another environment, for one-off commands."""
        image = Image(self.image.image, self.var_dir / f"{label}.env") if self.image else None
        return ProductionSet(env=env, var_dir=self.var_dir, queue_name=self.queue_name, image=image)

    def browser(self) -> BehindTheProxy:
        return BehindTheProxy(self.base_url)

    def sign_in(self, browser: BehindTheProxy, username: str, password: str) -> None:
        browser.request("GET", "/accounts/login/").raise_for_status()
        answer = browser.request(
            "POST",
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Origin": SITE},
            allow_redirects=False,
        )
        assert answer.status_code == 302, (answer.status_code, answer.text[:500])

    def upload(self, browser: BehindTheProxy, body: bytes) -> str:
        """Sign a single PUT through the web process and send the bytes to S3; no
        complete call, so only the S3 event can make it `stored`. Returns its id."""
        signed = browser.request(
            "GET",
            "/api/s3/params",
            params={"filename": "contract.pdf", "type": "application/pdf", "metadata[size]": str(len(body))},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        assert signed.status_code == 200, (signed.status_code, signed.text[:500])
        answer = signed.json()
        requests.put(answer["url"], data=body, headers=answer["headers"], timeout=10).raise_for_status()
        return str(answer["id"])

    def upload_state(self, upload_id: str) -> str:
        url = self.env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT state FROM uploader_upload WHERE id = %s", [upload_id]).fetchone()
        return str(row[0]) if row else "missing"

    def json_lines(self, name: str, *, strict: bool = False) -> list[dict[str, object]]:
        """The process's JSON log lines; `strict`: every line must be one."""
        lines = []
        for number, line in enumerate(self.processes[name].log().splitlines(), start=1):
            if line.startswith("{"):
                lines.append(json.loads(line))
            elif strict:
                raise AssertionError(f"{name}'s line {number} is not JSON: {line[:200]!r}\n{self.logs()}")
        return lines
