"""Schemathesis over the OpenAPI document (/api/openapi.json), in process through the
WSGI application: every operation, with valid and invalid input, as a signed-in staff
member and as a portal visitor. Every answer must be a documented status with a body
of the documented schema and content type; a 5xx for any input is a bug.

Deterministic (a fixed seed, derandomized) and small, so CI fails the same way twice
and the file stays well under a minute and a half on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

# `one_process`: schemathesis gives each operation's test the same node id, and
# pytest-xdist would run only one of them (tests/conftest.py refuses that).
pytestmark = [pytest.mark.integration, pytest.mark.one_process, pytest.mark.usefixtures("generous_rates")]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# FUZZ_EXAMPLES / FUZZ_SEQUENCES raise the budget for a deeper run by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SEQUENCES = int(os.environ.get("FUZZ_SEQUENCES", "10"))
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20260601,
        "generation": {
            "mode": "all",  # valid and invalid input
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",  # nothing replayed from earlier runs: CI runs what the seed says
            "with-security-parameters": False,  # the session is ours, not a generated cookie
        },
        # Examples and fuzzing, plus the coverage phase's boundary values (lengths, ranges, patterns).
        "phases": {"coverage": {"enabled": True}},
    }
)

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=CONFIG)
# What a portal mounts: the /s3 calls and reading one's own upload (uploader.portals.urls).
contract_schema = schema.include(path_regex=r"^/(s3/|uploads/\{id\}$)")
# The document requests API (uploader.requests.api), staff only.
requests_schema = schema.include(path_regex=r"^/requests")


@contextlib.contextmanager
def _in_process() -> Iterator[None]:
    """The WSGI handler closes the database connection after each request, which would
    end the test's transaction: unhook that as Django's test client does (and as it
    does, only around a call, since that client hooks it back after each of its own)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _call(case, **kwargs):  # type: ignore[no-untyped-def]
    with _in_process():
        return case.call_and_validate(checks=CHECKS, **kwargs)


def _run_sequences(call_kwargs: dict[str, Any], *, of: Any = contract_schema) -> None:
    """Follow the document's links (create multipart → sign parts → list → complete or
    abort; sign single → complete → read; make a request → read it, review its first
    item, accept all, close) with generated values at each step."""

    class Sequences(of.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            return call_kwargs

        def call(self, case, **kwargs):  # type: ignore[no-untyped-def]
            with _in_process():
                return case.call(**kwargs)

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Sequences.run(
        settings=settings(
            max_examples=SEQUENCES,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def _session(client: Client, page: str) -> tuple[dict[str, str], dict[str, str]]:
    """The cookies and header a page of ours would send: session, csrftoken, X-CSRFToken."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    csrf = client.cookies["csrftoken"].value
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf}, {"X-CSRFToken": csrf}


@pytest.fixture
def staff_session(staff_client, s3_bucket):  # type: ignore[no-untyped-def]
    return _session(staff_client, "/")


@pytest.fixture
def portal_session(make_portal):  # type: ignore[no-untyped-def]
    _portal, token = make_portal()
    client = Client()
    response = client.post(f"/p/{token}/identify", {"name": "Ann Client", "email": "ann@example.test"})
    assert response.status_code == 302, response.content
    cookies, headers = _session(client, f"/p/{token}/")
    return token, cookies, headers


# The session is shared by the examples of one operation on purpose: what they create piles up as it would.
SHARED_SESSION = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@schema.parametrize()
@SHARED_SESSION
def test_staff_api(case, staff_session) -> None:  # type: ignore[no-untyped-def]
    cookies, headers = staff_session
    _call(case, cookies=cookies, headers=headers)


@contract_schema.parametrize()
@SHARED_SESSION
def test_portal_api(case, portal_session) -> None:  # type: ignore[no-untyped-def]
    token, cookies, headers = portal_session
    _call(case, base_url=f"http://localhost/p/{token}/api", cookies=cookies, headers=headers)


def test_staff_upload_sequences(staff_session) -> None:  # type: ignore[no-untyped-def]
    cookies, headers = staff_session
    _run_sequences({"cookies": cookies, "headers": headers})


def test_portal_upload_sequences(portal_session) -> None:  # type: ignore[no-untyped-def]
    token, cookies, headers = portal_session
    _run_sequences({"base_url": f"http://localhost/p/{token}/api", "cookies": cookies, "headers": headers})


def test_staff_request_sequences(staff_session) -> None:  # type: ignore[no-untyped-def]
    cookies, headers = staff_session
    _run_sequences({"cookies": cookies, "headers": headers}, of=requests_schema)
