"""The stats page: totals, days (in the business's time zone, zeros included), portals,
kinds, states and rejection reasons, each from aggregate queries over real rows."""

from __future__ import annotations

import datetime
import json
import uuid
import zoneinfo
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from dashboard.stats import selectors as stats_selectors
from tests.support.people import signed_in as _client
from tests.support.rollup import count_in_rollup
from uploader.access.accounts import user_set_role
from uploader.access.roles import Role
from uploader.portals.models import Portal
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.state import Move, uploads_move

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

UTC = datetime.UTC


def _portal(name: str) -> Portal:
    return Portal.objects.create(
        name=name,
        slug=f"p-{uuid.uuid4().hex[:10]}",
        token_nonce=uuid.uuid4().hex,
        token_digest=uuid.uuid4().hex,
        title=name,
    )


def _upload(
    *,
    at: datetime.datetime,
    size: int = 100,
    content_type: str = "application/pdf",
    state: str = UploadState.STORED,
    portal: Portal | None = None,
    reason: str = "",
) -> Upload:
    """A row as the services would leave it, back-dated: `created_at` is auto_now_add,
    so it is set with an update after the insert."""
    upload_id = uuid.uuid4()
    upload = Upload.objects.create(
        id=upload_id,
        scope=portal.slug if portal else "staff",
        original_filename="file",
        key=f"uploads/test/{upload_id}/file",
        declared_size=size,
        declared_content_type=content_type,
        state=state,
        stored_size=size if state == UploadState.STORED else None,
        stored_at=at if state == UploadState.STORED else None,
        rejection_reason=reason,
        portal=portal,
    )
    Upload.objects.filter(pk=upload_id).update(created_at=at)
    count_in_rollup(upload)
    return upload


def _now() -> datetime.datetime:
    return timezone.now()


def _earlier_today(now: datetime.datetime, share: float) -> datetime.datetime:
    """A moment of the business's day before `now`, `share` of the way from midnight: a
    file counted as today's must stay today's when the test runs just after midnight
    (minutes before `now` were yesterday then)."""
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + (now - midnight) * share


def _stats(client: Client, **params: str) -> stats_selectors.UploadStats:
    response = client.get("/stats/", params)
    assert response.status_code == 200
    return response.context["stats"]


def test_totals_and_days_count_files_that_arrived_with_empty_days_as_zero() -> None:
    now = _now()
    _upload(at=_earlier_today(now, 0.9), size=1000)
    _upload(at=_earlier_today(now, 0.8), size=24)
    _upload(at=now - datetime.timedelta(days=3), size=5)
    _upload(at=now - datetime.timedelta(days=1), state=UploadState.REJECTED, reason="too big")
    _upload(at=now - datetime.timedelta(days=1), state=UploadState.UPLOADING)
    _upload(at=now - datetime.timedelta(days=45), size=7)  # outside 30 days, inside 90

    stats = _stats(_client(Role.VIEWER))
    assert (stats.period.days, stats.files, stats.bytes) == (30, 3, 1029)
    assert len(stats.by_day) == 30
    today = timezone.localdate(now)
    by_day = {day.day: (day.files, day.bytes) for day in stats.by_day}
    assert by_day[today] == (2, 1024)
    assert by_day[timezone.localdate(now - datetime.timedelta(days=3))] == (1, 5)
    assert sum(files for files, _ in by_day.values()) == 3
    assert list(by_day.values()).count((0, 0)) == 28
    assert stats.by_day[0].day == today - datetime.timedelta(days=29)
    assert stats.by_day[-1].day == today

    longer = _stats(_client(Role.VIEWER), days="90")
    assert (longer.files, longer.bytes, len(longer.by_day)) == (4, 1036, 90)


def test_the_page_shows_the_numbers_as_tables_and_carries_the_chart_data_as_json() -> None:
    now = _now()
    _upload(at=_earlier_today(now, 0.9), size=2048, content_type="image/png")
    response = _client(Role.VIEWER).get("/stats/", {"days": "7"})
    html = response.content.decode()
    assert "data-total-files>1<" in html
    assert 'data-total-bytes data-bytes="2048"' in html
    assert f'data-day="{timezone.localdate(now).isoformat()}"' in html
    assert html.count("<tr data-day=") == 7
    assert 'src="/static/vendor/chart.js-4.6.1/chart.umd.min.js"' in html
    assert 'src="/static/intake/stats.js"' in html
    start = html.index('<script id="intake-stats-data" type="application/json">') + len(
        '<script id="intake-stats-data" type="application/json">'
    )
    data = json.loads(html[start : html.index("</script>", start)])
    assert data["byDay"]["files"] == [0, 0, 0, 0, 0, 0, 1]
    assert data["byDay"]["bytes"][-1] == 2048
    assert data["byKind"] == {"labels": ["Images"], "files": [1]}
    # Every chart canvas has a text alternative, and the page offers all three periods.
    assert html.count('role="img" aria-label="Chart of') == 3
    assert 'href="?days=7" aria-current="page"' in html


@pytest.mark.parametrize(
    ("zone", "day_offset"),
    [("UTC", 0), ("Pacific/Auckland", 1), ("America/Los_Angeles", 0)],
)
def test_a_late_evening_utc_upload_lands_on_the_business_day(settings: Any, zone: str, day_offset: int) -> None:
    settings.TIME_ZONE = zone
    utc_day = (timezone.now() - datetime.timedelta(days=2)).astimezone(UTC).date()
    late = datetime.datetime.combine(utc_day, datetime.time(23, 30), tzinfo=UTC)
    _upload(at=late, size=10)

    stats = _stats(_client(Role.VIEWER), days="7")
    expected_day = utc_day + datetime.timedelta(days=day_offset)
    assert expected_day == late.astimezone(zoneinfo.ZoneInfo(zone)).date()
    assert [day.day for day in stats.by_day if day.files] == [expected_day]
    assert stats.by_day[-1].day == timezone.localdate(timezone.now(), zoneinfo.ZoneInfo(zone))


def test_by_portal_keeps_the_ten_busiest_and_staff_uploads_as_their_own_row() -> None:
    now = _now() - datetime.timedelta(hours=1)
    for index in range(12):
        portal = _portal(f"Portal {index:02d}")
        for _ in range(index + 1):
            _upload(at=now, portal=portal, size=10)
    for _ in range(5):
        _upload(at=now, size=1)
    _upload(at=now, portal=_portal("Quiet <b>client</b>"), state=UploadState.REJECTED)

    response = _client(Role.VIEWER).get("/stats/")
    stats = response.context["stats"]
    labels = [row.label for row in stats.by_portal]
    assert len(labels) == 11
    assert labels[0] == "Portal 11"
    assert "Portal 00" not in labels
    assert "Portal 01" not in labels
    staff = next(row for row in stats.by_portal if row.label == stats_selectors.STAFF_UPLOADS_LABEL)
    assert (staff.files, staff.bytes) == (5, 5)
    assert [row.files for row in stats.by_portal] == sorted((row.files for row in stats.by_portal), reverse=True)
    assert next(row for row in stats.by_portal if row.label == "Portal 11").bytes == 120


def test_portal_names_are_escaped() -> None:
    _upload(at=_now(), portal=_portal("<script>alert(1)</script>"))
    html = _client(Role.VIEWER).get("/stats/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_by_kind_sorts_content_types_into_kinds() -> None:
    now = _now()
    for content_type in [
        "image/png",
        "IMAGE/JPEG",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain; charset=utf-8",
        "application/msword",
        "video/mp4",
        "audio/mpeg",
        "application/zip",
        "",
    ]:
        _upload(at=now, content_type=content_type, size=3)
    stats = _stats(_client(Role.VIEWER))
    assert [(row.label, row.files, row.bytes) for row in stats.by_kind] == [
        ("Images", 2, 6),
        ("PDF", 1, 3),
        ("Documents", 3, 9),
        ("Video", 1, 3),
        ("Audio", 1, 3),
        ("Other", 2, 6),
    ]


def test_by_state_and_the_rejection_reasons_most_seen() -> None:
    now = _now() - datetime.timedelta(hours=2)
    _upload(at=now)
    _upload(at=now, state=UploadState.REGISTERED)
    _upload(at=now, state=UploadState.UPLOADING)
    _upload(at=now, state=UploadState.ABORTED)
    _upload(at=now, state=UploadState.REJECTED, reason="stored object is 12 MB, over the 10 MB limit")
    _upload(at=now, state=UploadState.REJECTED, reason="stored object is 15.5 MB, over the 10 MB limit")
    _upload(at=now, state=UploadState.REJECTED, reason="the file was replaced after it arrived")
    _upload(at=now - datetime.timedelta(days=40), state=UploadState.REJECTED, reason="long ago")

    stats = _stats(_client(Role.VIEWER))
    assert [(row.label, row.files) for row in stats.by_state] == [
        ("Stored", 1),
        ("Rejected", 3),
        ("Aborted", 1),
        ("In progress", 2),
        ("Deleted", 0),
    ]
    assert [(row.label, row.files) for row in stats.rejection_reasons] == [
        ("stored object is … MB, over the … MB limit", 2),
        ("the file was replaced after it arrived", 1),
    ]


@pytest.mark.parametrize(
    ("value", "days", "noted"),
    [
        ("7", 7, False),
        ("30", 30, False),
        ("90", 90, False),
        ("", 30, False),
        ("14", 30, True),
        ("abc", 30, True),
        ("-7", 30, True),
        ("९०", 30, True),
        ("07", 30, True),
        # More digits than Python's int() converts: compared as text, never converted.
        ("9" * 4301, 30, True),
    ],
)
def test_the_period_is_one_of_the_offered_ones_or_the_default_with_a_note(value: str, days: int, noted: bool) -> None:
    response = _client(Role.VIEWER).get("/stats/", {"days": value})
    assert response.status_code == 200
    assert response.context["period"].days == days
    assert ("data-period-note" in response.content.decode()) is noted


def test_a_file_received_then_deleted_or_replaced_still_counts_on_the_day_it_arrived() -> None:
    """Received means it arrived: a later delete or replacement changes the file's state,
    not the past. The rows are changed by the state writer, as the services change them
    (state changed, `stored_at` kept)."""
    client = _client(Role.VIEWER)
    arrived = _now() - datetime.timedelta(days=3)
    deleted = _upload(at=arrived, size=5000)
    replaced = _upload(at=arrived, size=700)
    before = _stats(client, days="7")
    uploads_move(moves=[Move(upload_id=deleted.pk)], to=UploadState.DELETED)
    uploads_move(
        moves=[Move(upload_id=replaced.pk, values={"rejection_reason": "the file was replaced after it arrived"})],
        to=UploadState.REJECTED,
    )
    after = _stats(client, days="7")

    day = timezone.localdate(arrived)
    for stats in (before, after):
        assert (stats.files, stats.bytes) == (2, 5700)
        assert [(row.files, row.bytes) for row in stats.by_day if row.day == day] == [(2, 5700)]
        assert [(row.label, row.files) for row in stats.by_kind] == [("PDF", 2)]
    assert [(row.label, row.files) for row in after.by_state if row.files] == [("Rejected", 1), ("Deleted", 1)]


def test_a_bad_period_is_shown_back_escaped() -> None:
    html = _client(Role.VIEWER).get("/stats/", {"days": "<img src=x>"}).content.decode()
    assert "<img src=x>" not in html
    assert "&lt;img src=x&gt;" in html


def test_the_query_count_does_not_grow_with_the_data(
    django_assert_num_queries: Any, django_assert_max_num_queries: Any
) -> None:
    viewer = User.objects.create_user(username="counter", password="x" * 20)
    user_set_role(user=viewer, role=Role.VIEWER, source="test")
    period = stats_selectors.period_from("90")
    _upload(at=_now())
    with django_assert_num_queries(5):
        stats_selectors.upload_stats(user=viewer, period=period)

    now = _now()
    portals = [_portal(f"P{index}") for index in range(15)]
    for index in range(200):
        _upload(
            at=now - datetime.timedelta(days=index % 80, minutes=index),
            portal=portals[index % 16] if index % 16 < 15 else None,
            content_type=["image/png", "application/pdf", "text/csv", "video/mp4"][index % 4],
            state=[UploadState.STORED, UploadState.REJECTED, UploadState.ABORTED][index % 3],
            reason=f"reason {index % 7}",
        )
    with django_assert_num_queries(5):
        stats = stats_selectors.upload_stats(user=viewer, period=period)
    assert stats.files > 60

    client = Client()
    client.force_login(viewer)
    with django_assert_max_num_queries(10):
        assert client.get("/stats/", {"days": "90"}).status_code == 200


@pytest.mark.parametrize(("role", "status"), [(Role.ADMIN, 200), (Role.STAFF, 200), (Role.VIEWER, 200), (None, 403)])
def test_who_may_see_the_stats(role: Role | None, status: int) -> None:
    assert _client(role).get("/stats/").status_code == status


def test_signed_out_people_are_sent_to_sign_in(client: Client, db: None) -> None:
    response = client.get("/stats/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
