"""Production's log lines: JSON objects naming the request, the user, the upload and
the portal where they are known; portal links never in them."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from config.logs import JSON_FORMATTER, LOG_FILTERS
from config.request_context import ActorContext, acting, acting_as_system, log_about


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "filters": LOG_FILTERS,
        "formatters": {"json": JSON_FORMATTER},
        "handlers": {"out": {"class": "logging.StreamHandler", "stream": stream, "formatter": "json",
                             "filters": ["request_id", "redact_portal_links"]}},
        "loggers": {"intake.test": {"handlers": ["out"], "level": "INFO", "propagate": False}},
    })  # fmt: skip
    yield stream
    logging.getLogger("intake.test").handlers.clear()


def _read(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_line_names_the_request_user_upload_and_portal(lines: io.StringIO) -> None:
    user = SimpleNamespace(is_authenticated=True, get_username=lambda: "alice")
    request = SimpleNamespace(_cached_user=user)
    upload_id = uuid.uuid4()
    with acting(ActorContext(request_id="req-12345678", request=request)):
        log_about(upload_id=upload_id, portal=7)
        logging.getLogger("intake.test").info("upload %s registered", upload_id)
    logging.getLogger("intake.test").info("after the request")
    first, after = _read(lines)
    assert first == {
        "time": first["time"], "level": "INFO", "logger": "intake.test", "message": f"upload {upload_id} registered",
        "request_id": "req-12345678", "user": "alice", "upload_id": str(upload_id), "portal": "7",
    }  # fmt: skip
    # Nothing leaks into the next request or task.
    assert after["request_id"] == "-"
    assert not {"user", "upload_id", "portal"} & after.keys()


def test_a_user_not_yet_loaded_is_not_loaded_by_logging(lines: io.StringIO) -> None:
    with acting(ActorContext(request_id="req-12345678", request=SimpleNamespace())):
        logging.getLogger("intake.test").info("before authentication")
    (line,) = _read(lines)
    assert "user" not in line


def test_a_task_line_names_its_system_actor(lines: io.StringIO) -> None:
    with acting_as_system("s3-event"):
        logging.getLogger("intake.test").info("applied")
    (line,) = _read(lines)
    assert line["user"] == "system:s3-event"
    assert len(str(line["request_id"])) == 32


def test_portal_links_are_cut_out_of_json_lines(lines: io.StringIO) -> None:
    logging.getLogger("intake.test").warning("Bad Request: /p/%s/unlock", "A" * 22)
    (line,) = _read(lines)
    assert line["message"] == "Bad Request: /p/<link>/unlock"


def test_gunicorn_access_lines_are_fields_without_the_portal_link_or_query(lines: io.StringIO) -> None:
    import datetime as dt

    from gunicorn.config import Config

    from config.gunicorn_logs import JsonAccessLogger

    access = JsonAccessLogger.__new__(JsonAccessLogger)  # without setup(): it would configure the root logger
    access.cfg, access._access_log_enabled = Config(), True
    access.access_log = logging.getLogger("intake.test")
    token = "B" * 22
    environ = {
        "REQUEST_METHOD": "POST", "RAW_URI": f"/p/{token}/unlock?name=secret.pdf", "PATH_INFO": f"/p/{token}/unlock",
        "QUERY_STRING": "name=secret.pdf", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.9",
        "HTTP_USER_AGENT": "test-agent",
    }  # fmt: skip
    response = SimpleNamespace(status="302 Found", sent=0, headers=[("X-Request-ID", "abcdef1234567890")])
    access.access(response, SimpleNamespace(headers=[]), environ, dt.timedelta(milliseconds=12))
    (line,) = _read(lines)
    assert line["path"] == "/p/<link>/unlock"
    assert line["message"] == "POST /p/<link>/unlock 302"
    assert (line["status"], line["request_id"], line["duration_ms"]) == (302, "abcdef1234567890", 12.0)
    assert token not in json.dumps(line)
    assert "secret.pdf" not in json.dumps(line)
