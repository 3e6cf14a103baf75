"""The production process set, as the image runs it: the entrypoint's `migrate`, then
`web` (gunicorn with gunicorn.conf.py), `worker`, `beat` and `consumer`, all with
`config.settings.production`, against a fresh database on the machine's PostgreSQL,
a private Redis and the S3 emulator. A file uploaded through the web process
becomes `stored` through its S3 event alone. The logs are JSON lines.

With INTAKE_TEST_IMAGE set (scripts/image_smoke.sh does it), every command runs in a
container of that image instead, configured only through the env file."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import RedisServer, free_port
from tests.support.production import PROCESSES, Image, ProductionSet, fresh_database, production_environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def production(s3_emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionSet]:  # type: ignore[no-untyped-def]
    var_dir = tmp_path_factory.mktemp("production")
    redis = RedisServer().start()
    try:
        with fresh_database() as database_url:
            env = production_environment(
                database_url=database_url, redis_url=redis.url, s3_endpoint=s3_emulator.endpoint_url, var_dir=var_dir
            )
            # createsuperuser --no-input reads these (a test account).
            env.update(DJANGO_SUPERUSER_USERNAME="owner", DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16))
            env["DJANGO_SUPERUSER_EMAIL"] = "owner@example.test"
            image = os.environ.get("INTAKE_TEST_IMAGE")
            prod = ProductionSet(
                env=env,
                var_dir=var_dir,
                queue_name=f"events-{uuid.uuid4().hex[:8]}",
                image=Image(image, var_dir / "intake.env") if image else None,
            )
            try:
                # The image collected its static files when it was built; here it is
                # production's deploy step.
                collect = [] if image else [["manage", "collectstatic", "--no-input", "-v", "0"]]
                for step in (
                    *collect,
                    ["migrate"],
                    ["manage", "setup_bucket", "--create", "--create-queue", prod.queue_name],
                    ["manage", "createsuperuser", "--no-input"],
                ):
                    done = prod.run(*step)
                    assert done.returncode == 0, (step, done.stdout[-2000:], done.stderr[-2000:])
                prod.start("web")
                prod.start("worker", "--without-gossip", "--without-mingle")
                prod.start("beat")
                prod.start("consumer", "--queue-name", prod.queue_name, "--wait", "2")
                prod.wait_live()
                yield prod
            finally:
                prod.stop()
    finally:
        redis.stop()


def test_an_upload_through_the_web_process_is_stored_by_its_s3_event(production: ProductionSet) -> None:
    browser = production.browser()
    production.sign_in(browser, "owner", production.env["DJANGO_SUPERUSER_PASSWORD"])
    upload_id = production.upload(browser, os.urandom(4096))

    deadline = time.monotonic() + 60
    while (state := production.upload_state(upload_id)) != "stored" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert state == "stored", production.logs()

    # Every process is still up: nothing crashed on the way.
    assert all(production.alive(name) for name in PROCESSES), production.logs()

    # The web process writes JSON lines: gunicorn's access line with the request id
    # the answer carried, and Django's lines naming the upload and the user.
    web = production.json_lines("web")
    access = [line for line in web if line.get("logger") == "gunicorn.access" and line.get("path") == "/api/s3/params"]
    assert access, web
    assert access[0]["status"] == 200
    assert len(str(access[0]["request_id"])) >= 8
    registered = [line for line in web if "registered" in str(line.get("message"))]
    assert registered, web
    assert registered[0]["upload_id"] == upload_id
    assert registered[0]["user"] == "owner"
    assert registered[0]["request_id"] == access[0]["request_id"]
    # WhiteNoise serves the collected static files, compressed.
    static = browser.request("GET", "/static/intake/stats.js", headers={"Accept-Encoding": "gzip"})
    assert static.status_code == 200
    assert static.headers["Content-Encoding"] == "gzip"

    # Every line each process wrote is a JSON object: no banner, no stray print.
    for name in PROCESSES:
        production.json_lines(name, strict=True)
    # The S3 event's work, in the worker or the consumer, names the upload too.
    background = production.json_lines("worker") + production.json_lines("consumer")
    assert any(line.get("upload_id") == upload_id for line in background), production.logs()


def test_check_deploy_passes_with_the_complete_production_environment(production: ProductionSet) -> None:
    done = production.run("manage", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "INTAKE_WEBHOOK_SIGNING_KEY"])
def test_a_missing_secret_stops_the_web_process_naming_the_variable(
    production: ProductionSet, tmp_path: Path, missing: str
) -> None:
    env = {k: v for k, v in production.env.items() if k != missing}
    env["PORT"] = str(free_port())
    done = production.variant(env, f"without-{missing}").run("web")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert f"{missing} is required in production" in output, output[-3000:]
