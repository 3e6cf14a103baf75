"""The admins' CORS check page runs the real check (the emulator's bucket and the app on
a live server) and shows each result with its fix."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.integration.test_cors_chain import BROWSER_ORIGIN, objects_left
from tests.support.people import signed_in as _client
from uploader import s3
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]




def _admin() -> Client:
    return _client(Role.ADMIN)


def _statuses(html: str) -> list[str]:
    return re.findall(r'<tr data-status="(\w+)">', html)


def test_a_get_only_explains_and_checks_nothing(chain: str) -> None:
    page = _admin().get("/events/cors")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Run the check" in html
    assert BROWSER_ORIGIN in html
    assert _statuses(html) == []
    assert not AuditEntry.objects.filter(action="cors.checked").exists()


def test_running_it_shows_every_check_passing_and_is_audited(chain: str) -> None:
    page = _admin().post("/events/cors")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-cors-summary="ok"' in html
    statuses = _statuses(html)
    assert statuses.count("passed") >= 8
    assert "failed" not in statuses
    assert objects_left() == []
    [entry] = AuditEntry.objects.filter(action="cors.checked")
    assert entry.detail["ok"] is True
    assert entry.detail["failed"] == 0


def test_a_bucket_without_cors_rules_shows_the_failures_and_their_fix(chain: str) -> None:
    s3.boto3_client().delete_bucket_cors(Bucket=chain)
    html = _admin().post("/events/cors").content.decode()
    assert 'data-cors-summary="failed"' in html
    assert "failed" in _statuses(html)
    assert "setup_bucket" in html
    assert AuditEntry.objects.get(action="cors.checked").detail["ok"] is False


@pytest.mark.parametrize("role", [Role.STAFF, Role.VIEWER])
def test_only_admins_may_run_it(chain: str, role: Role) -> None:
    assert _client(role).post("/events/cors").status_code == 403
    assert not AuditEntry.objects.filter(action="cors.checked").exists()
