"""The audit page and its CSV export: filters, pagination, escaping, formula-safe
cells, who may use them, and that using them is itself recorded."""

from __future__ import annotations

import csv
import datetime
import io
import uuid
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from dashboard.accounts import user_set_role
from dashboard.roles import Role
from uploader.models import AuditEntry, Upload

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _client(role: Role | None, username: str = "") -> Client:
    user = User.objects.create_user(username=username or f"u-{uuid.uuid4().hex[:8]}", password="x" * 20)
    user_set_role(user=user, role=role, source="test")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin() -> Client:
    return _client(Role.ADMIN, "auditor")


def _entry(
    action: str,
    *,
    actor: str = "alice",
    at: datetime.datetime | None = None,
    upload_id: uuid.UUID | None = None,
    request_id: str = "",
    ip: str | None = "192.0.2.1",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """An entry as audit_record leaves it, at a chosen time. `created_at` is
    auto_now_add and the trail refuses UPDATE (a PostgreSQL trigger), so the clock
    the field reads is set for the insert instead of back-dating afterwards."""
    entry = AuditEntry(
        action=action,
        actor_label=actor,
        upload_id=upload_id,
        request_id=request_id,
        ip_address=ip,
        detail=detail or {},
    )
    with mock.patch("django.utils.timezone.now", return_value=at or timezone.now()):
        entry.save()
    return entry


def _shown(response: Any) -> list[int]:
    assert response.status_code == 200, response.content.decode()[:500]
    return [row.entry.pk for row in response.context["rows"]]


def test_each_filter_narrows(admin: Client) -> None:
    upload_id = uuid.uuid4()
    now = timezone.now()
    registered = _entry("upload.registered", actor="alice@example.test", upload_id=upload_id, request_id="req-1")
    stored = _entry("upload.stored", actor="s3-event", upload_id=upload_id, request_id="req-2")
    portal_created = _entry("portal.created", actor="bob", at=now - datetime.timedelta(days=10))
    portal_changed = _entry("portal.changed", actor="Bob Smith", at=now - datetime.timedelta(days=3))
    signed_in = _entry("auth.signed_in", actor="carol", at=now - datetime.timedelta(days=20))

    assert _shown(admin.get("/audit/", {"action": "upload.stored"})) == [stored.pk]
    # Not an action present: a prefix, with or without its dot.
    assert _shown(admin.get("/audit/", {"action": "portal."})) == [portal_changed.pk, portal_created.pk]
    assert _shown(admin.get("/audit/", {"action": "portal"})) == [portal_changed.pk, portal_created.pk]
    assert _shown(admin.get("/audit/", {"actor": "BOB"})) == [portal_changed.pk, portal_created.pk]
    assert _shown(admin.get("/audit/", {"upload": str(upload_id)})) == [stored.pk, registered.pk]
    assert _shown(admin.get("/audit/", {"request_id": "req-1"})) == [registered.pk]
    local_today = timezone.localdate(now)
    window = {
        "date_from": (local_today - datetime.timedelta(days=11)).isoformat(),
        "date_to": (local_today - datetime.timedelta(days=2)).isoformat(),
    }
    assert _shown(admin.get("/audit/", window)) == [portal_changed.pk, portal_created.pk]
    assert _shown(admin.get("/audit/", {**window, "actor": "smith"})) == [portal_changed.pk]
    everything = _shown(admin.get("/audit/"))
    assert {registered.pk, stored.pk, portal_created.pk, portal_changed.pk, signed_in.pk} <= set(everything)


def test_the_action_suggestions_are_the_actions_present(admin: Client) -> None:
    _entry("portal.created")
    _entry("upload.stored")
    response = admin.get("/audit/")
    assert {"portal.created", "upload.stored"} <= set(response.context["actions"])
    assert '<datalist id="audit-actions">' in response.content.decode()


def test_dates_are_whole_days_in_the_business_time_zone(admin: Client, settings: Any) -> None:
    settings.TIME_ZONE = "Pacific/Auckland"
    day = timezone.localdate() - datetime.timedelta(days=5)
    zone = timezone.get_default_timezone()
    just_in = _entry("x.first", at=datetime.datetime.combine(day, datetime.time(0, 0, 1), tzinfo=zone))
    late = _entry("x.last", at=datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=zone))
    _entry(
        "x.before", at=datetime.datetime.combine(day, datetime.time.min, tzinfo=zone) - datetime.timedelta(seconds=1)
    )
    _entry("x.after", at=datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone))
    shown = _shown(admin.get("/audit/", {"date_from": day.isoformat(), "date_to": day.isoformat(), "action": "x."}))
    assert shown == [late.pk, just_in.pk]


@pytest.mark.parametrize(
    "params",
    [{"upload": "not-a-uuid"}, {"date_from": "2025-02-30"}, {"date_from": "2025-03-02", "date_to": "2025-03-01"}],
)
def test_bad_filters_are_explained_not_ignored(admin: Client, params: dict[str, str]) -> None:
    _entry("upload.stored")
    response = admin.get("/audit/", params)
    assert response.status_code == 400
    assert response.context["rows"] == []
    assert 'role="alert"' in response.content.decode()
    assert admin.get("/audit/export.csv", params).status_code == 400


def test_pages_of_a_hundred_keep_the_filters(admin: Client) -> None:
    start = timezone.now() - datetime.timedelta(hours=1)
    for index in range(230):
        _entry("portal.changed", at=start + datetime.timedelta(seconds=index), detail={"n": index})
    _entry("upload.stored")

    first = admin.get("/audit/", {"action": "portal."})
    assert len(_shown(first)) == 100
    html = first.content.decode()
    assert 'href="?action=portal.&amp;page=2" rel="next"' in html
    assert 'href="/audit/export.csv?action=portal."' in html
    third = admin.get("/audit/", {"action": "portal.", "page": "3"})
    rows = third.context["rows"]
    assert len(rows) == 30
    assert {row.entry.action for row in rows} == {"portal.changed"}
    assert rows[-1].entry.detail == {"n": 0}
    assert 'href="?action=portal.&amp;page=2" rel="prev"' in third.content.decode()
    # A page past the end or not a number shows a real page, not an error.
    assert admin.get("/audit/", {"action": "portal.", "page": "99"}).context["page"].number == 3
    assert admin.get("/audit/", {"action": "portal.", "page": "x"}).context["page"].number == 1


def test_rows_show_the_file_link_and_escape_what_people_typed(admin: Client) -> None:
    upload = Upload.objects.create(
        original_filename="a.pdf", key=f"uploads/staff/{uuid.uuid4()}/a.pdf", declared_content_type="application/pdf"
    )
    _entry(
        "portal.created",
        actor='<script>alert("actor")</script>',
        upload_id=upload.id,
        request_id="req-<i>",
        detail={"name": "<img src=x onerror=alert(1)>", "limits": {"max_files": 3}},
    )
    html = admin.get("/audit/", {"action": "portal.created"}).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;actor&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "req-&lt;i&gt;" in html
    assert f'href="/uploads/{upload.id}/"' in html
    assert "<dt>limits</dt><dd>{&quot;max_files&quot;:3}</dd>" in html


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="intake-audit-')
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body, newline="")))


def test_the_csv_export_streams_the_filtered_rows_with_proper_quoting(admin: Client) -> None:
    upload_id = uuid.uuid4()
    _entry("upload.stored", actor="s3-event")
    wanted = _entry(
        "portal.changed",
        actor='Smith, "Bob"',
        upload_id=upload_id,
        request_id="req-9",
        ip="2001:db8::1",
        detail={"note": "line one\nline two", "fields": ["title", "name"]},
    )
    rows = _csv(admin.get("/audit/export.csv", {"action": "portal.", "actor": "smith"}))
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == ["time", "actor", "action", "upload_id", "ip_address", "request_id", "detail"]
    assert row["actor"] == 'Smith, "Bob"'
    assert row["action"] == "portal.changed"
    assert row["upload_id"] == str(upload_id)
    assert row["ip_address"] == "2001:db8::1"
    assert row["request_id"] == "req-9"
    assert row["detail"] == '{"fields":["title","name"],"note":"line one\\nline two"}'
    created = datetime.datetime.fromisoformat(row["time"])
    assert abs(created - AuditEntry.objects.get(pk=wanted.pk).created_at) < datetime.timedelta(seconds=1)


def test_the_csv_export_neutralises_formulas(admin: Client) -> None:
    for actor in ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "plain"]:
        _entry("portal.created", actor=actor, detail={})
    _entry("portal.changed", actor="x", request_id="=1+1", detail={})
    rows = _csv(admin.get("/audit/export.csv", {"action": "portal."}))
    actors = {row["actor"] for row in rows}
    assert actors == {'\'=HYPERLINK("http://evil")', "'+1+1", "'-2+3", "'@SUM(A1)", "'\tcmd", "plain", "x"}
    assert {row["request_id"] for row in rows if row["action"] == "portal.changed"} == {"'=1+1"}


def test_viewing_and_exporting_are_audited_with_the_filters(admin: Client) -> None:
    _entry("upload.stored")
    admin.get("/audit/", {"action": "upload.", "actor": "ali"})
    viewed = AuditEntry.objects.get(action="audit.viewed")
    assert (viewed.actor_label, viewed.detail) == ("auditor", {"action": "upload.", "actor": "ali", "page": 1})

    response = admin.get("/audit/export.csv", {"action": "upload.", "date_from": "2020-01-01"})
    exported = AuditEntry.objects.get(action="audit.exported")
    assert exported.actor_label == "auditor"
    assert exported.detail == {"action": "upload.", "date_from": "2020-01-01"}
    assert exported.ip_address == "127.0.0.1"
    assert [row["action"] for row in _csv(response)] == ["upload.stored"]


def test_the_export_has_every_row_newest_first_across_chunks(admin: Client) -> None:
    for index in range(25):
        _entry("bulk.entry", detail={"n": index})
    from dashboard import audit_views

    original = audit_views.EXPORT_CHUNK_ROWS
    audit_views.EXPORT_CHUNK_ROWS = 10
    try:
        rows = _csv(admin.get("/audit/export.csv", {"action": "bulk.entry"}))
    finally:
        audit_views.EXPORT_CHUNK_ROWS = original
    assert [int(row["detail"].split(":")[1].rstrip("}")) for row in rows] == list(range(24, -1, -1))


@pytest.mark.parametrize("role", [Role.STAFF, Role.VIEWER, None])
@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv"])
def test_only_admins_may_read_the_trail(role: Role | None, path: str) -> None:
    response = _client(role).get(path)
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action__in=["audit.viewed", "audit.exported"]).exists()


@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv"])
def test_signed_out_people_are_sent_to_sign_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_nav_offers_audit_to_admins_only() -> None:
    assert 'href="/audit/"' in _client(Role.ADMIN).get("/").content.decode()
    staff_home = _client(Role.STAFF).get("/").content.decode()
    assert 'href="/audit/"' not in staff_home
    assert 'href="/stats/"' in staff_home
