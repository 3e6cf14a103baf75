"""The audit page and its CSV export: filters, pagination, escaping, formula-safe
cells, who may use them, and that using them is itself recorded."""

from __future__ import annotations

import csv
import datetime
import html as html_text
import io
import re
import uuid
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from dashboard.audit import views as audit_views
from tests.support.people import signed_in as _client
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.uploads.models import Upload

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


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
    assert {("portal.created", "Portal created"), ("upload.stored", "File stored")} <= set(response.context["actions"])
    assert '<datalist id="audit-actions">' in response.content.decode()
    assert '<option value="upload.stored">File stored</option>' in response.content.decode()


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


@pytest.mark.parametrize(
    ("zone", "params", "field"),
    [
        ("UTC", {"date_to": "9999-12-31"}, "date_to"),
        ("Pacific/Auckland", {"date_to": "9999-12-31"}, "date_to"),
        # East of UTC, local midnight of year 1 is before the first UTC instant.
        ("Asia/Tokyo", {"date_from": "0001-01-01"}, "date_from"),
        ("Pacific/Auckland", {"date_from": "0001-01-01"}, "date_from"),
        ("UTC", {"date_from": "1899-12-31"}, "date_from"),
        ("UTC", {"date_to": "3000-01-01"}, "date_to"),
    ],
)
def test_dates_outside_the_browse_forms_years_are_a_field_error(
    admin: Client, settings: Any, zone: str, params: dict[str, str], field: str
) -> None:
    settings.TIME_ZONE = zone
    _entry("upload.stored")
    page = admin.get("/audit/", params)
    assert page.status_code == 400
    assert page.context["form"].errors[field] == ["Choose a date between 1900 and 2999."]
    assert "Choose a date between 1900 and 2999." in page.content.decode()
    export = admin.get("/audit/export.csv", params)
    assert export.status_code == 400
    assert f"{field}: Choose a date between 1900 and 2999." in export.content.decode()
    # The bounds themselves are whole days that work.
    assert admin.get("/audit/", {"date_from": "1900-01-01", "date_to": "2999-12-31"}).status_code == 200
    both_ends = admin.get("/audit/export.csv", {"date_from": "1900-01-01", "date_to": "2999-12-31"})
    assert "upload.stored" in {row["action"] for row in _csv(both_ends)}


def _next_page_link(response: Any) -> str | None:
    found = re.search(r'<a href="(\?[^"]+)" rel="next">', response.content.decode())
    return html_text.unescape(found.group(1)) if found else None


def test_walking_every_page_shows_each_entry_exactly_once(admin: Client) -> None:
    """Each page view records `audit.viewed`, newest first: without a fixed end, every
    view would push the list one row down and the next page would repeat a row."""
    made = [_entry("portal.changed", detail={"n": index}).pk for index in range(250)]
    response = admin.get("/audit/")
    until = made[-1]
    assert f'href="/audit/export.csv?until={until}"' in response.content.decode()
    shown = _shown(response)
    pages = 1
    while (link := _next_page_link(response)) is not None:
        assert f"until={until}" in link
        response = admin.get(f"/audit/{link}")
        shown += _shown(response)
        pages += 1
    assert pages == 3
    # Every entry there was when the first page was shown (those made here, and any
    # the sign-in setup recorded before them), once each, newest first.
    there_were = AuditEntry.objects.filter(id__lte=until).order_by("-created_at", "-id")
    assert shown == list(there_were.values_list("id", flat=True))
    assert shown[:250] == list(reversed(made))
    assert AuditEntry.objects.filter(action="audit.viewed").count() == 3
    # The CSV from that page's link has the same frozen rows, not the views since.
    rows = _csv(admin.get("/audit/export.csv", {"until": str(until)}))
    assert len(rows) == len(shown)
    assert "audit.viewed" not in {row["action"] for row in rows}
    # Filtering again (the form has no `until`) starts a fresh list with the views in it.
    fresh = _shown(admin.get("/audit/", {"action": "audit.viewed"}))
    assert len(fresh) == 3


@pytest.mark.parametrize("until", ["0", "-3", "abc", "9" * 30, "9" * 5000])
def test_a_damaged_until_is_a_field_error(admin: Client, until: str) -> None:
    _entry("upload.stored")
    page = admin.get("/audit/", {"until": until})
    assert page.status_code == 400
    assert page.context["rows"] == []
    assert "This page link is damaged" in page.content.decode()
    assert 'role="alert"' in page.content.decode()
    export = admin.get("/audit/export.csv", {"until": until})
    assert export.status_code == 400
    assert "until: This page link is damaged" in export.content.decode()


def test_pages_of_a_hundred_keep_the_filters(admin: Client) -> None:
    start = timezone.now() - datetime.timedelta(hours=1)
    for index in range(230):
        _entry("portal.changed", at=start + datetime.timedelta(seconds=index), detail={"n": index})
    until = _entry("upload.stored").pk

    first = admin.get("/audit/", {"action": "portal."})
    assert len(_shown(first)) == 100
    html = first.content.decode()
    assert f'href="/audit/export.csv?action=portal.&amp;until={until}"' in html
    assert "230 entries." in html
    second_link = _next_page_link(first)
    assert second_link is not None
    assert second_link.startswith(f"?action=portal.&until={until}&after=")
    second = admin.get(f"/audit/{second_link}")
    third_link = _next_page_link(second)
    assert third_link is not None
    third = admin.get(f"/audit/{third_link}")
    rows = third.context["rows"]
    assert len(rows) == 30
    assert {row.entry.action for row in rows} == {"portal.changed"}
    assert rows[-1].entry.detail == {"n": 0}
    assert _next_page_link(third) is None
    # Back from the third page is the second page again.
    back = re.search(r'<a href="(\?[^"]+)" rel="prev">', third.content.decode())
    assert back is not None
    assert f"action=portal.&amp;until={until}&amp;before=" in back.group(1)
    assert _shown(admin.get(f"/audit/{html_text.unescape(back.group(1))}")) == _shown(second)
    # An old page number is ignored (the first page); a damaged cursor is a field error.
    assert _shown(admin.get("/audit/", {"action": "portal.", "page": "3"})) == _shown(first)
    damaged = admin.get("/audit/", {"action": "portal.", "after": "not-a-cursor"})
    assert damaged.status_code == 400
    assert "This page link is damaged" in damaged.content.decode()


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
    assert "<dt>Limits</dt><dd>{&quot;max_files&quot;: 3}</dd>" in html
    assert ">a.pdf</a>" in html  # the file by its name


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
    newest = AuditEntry.objects.latest("id")
    admin.get("/audit/", {"action": "upload.", "actor": "ali"})
    viewed = AuditEntry.objects.get(action="audit.viewed")
    assert (viewed.actor_label, viewed.detail) == (
        "auditor",
        {"action": "upload.", "actor": "ali", "until": str(newest.pk), "page": 1},
    )

    response = admin.get("/audit/export.csv", {"action": "upload.", "date_from": "2020-01-01"})
    exported = AuditEntry.objects.get(action="audit.exported")
    assert exported.actor_label == "auditor"
    assert exported.detail == {"action": "upload.", "date_from": "2020-01-01"}
    assert exported.ip_address == "127.0.0.1"
    assert [row["action"] for row in _csv(response)] == ["upload.stored"]


def test_the_export_has_every_row_newest_first_across_chunks(admin: Client) -> None:
    for index in range(25):
        _entry("bulk.entry", detail={"n": index})
    from dashboard.audit import views as audit_views

    original = audit_views.EXPORT_CHUNK_ROWS
    audit_views.EXPORT_CHUNK_ROWS = 10
    try:
        rows = _csv(admin.get("/audit/export.csv", {"action": "bulk.entry"}))
    finally:
        audit_views.EXPORT_CHUNK_ROWS = original
    assert [int(row["detail"].split(":")[1].rstrip("}")) for row in rows] == list(range(24, -1, -1))


def test_the_export_streams_rows_as_it_reads_them(admin: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a chunk of rows is read before the first one leaves: an export that loaded
    every row into memory first (`list(queryset)`) builds all of them before the first."""
    for index in range(25):
        _entry("bulk.entry", detail={"n": index})
    monkeypatch.setattr(audit_views, "EXPORT_CHUNK_ROWS", 10)
    built: list[int] = []
    from_db = AuditEntry.from_db.__func__  # type: ignore[attr-defined]

    def counting_from_db(cls: type[AuditEntry], *args: Any, **kwargs: Any) -> AuditEntry:
        entry = from_db(cls, *args, **kwargs)
        built.append(entry.pk)
        return entry

    monkeypatch.setattr(AuditEntry, "from_db", classmethod(counting_from_db))
    response = admin.get("/audit/export.csv", {"action": "bulk.entry"})
    lines = iter(response.streaming_content)
    assert next(lines).startswith(b"time,actor,action")
    assert b"bulk.entry" in next(lines)
    assert 1 <= len(built) <= 10
    rest = b"".join(lines)
    assert rest.count(b"bulk.entry") == 24
    assert len(built) == 25


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
