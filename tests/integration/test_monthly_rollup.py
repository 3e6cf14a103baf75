"""The monthly breakdown (uploader.uploads.rollup, UploadMonthlyBreakdown): kept with
the daily one by the state writer, rebuilt by the recount, and what the stats page
reads for a long period's whole months, which must add up to counting the rows."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from dashboard.stats import selectors as stats_selectors
from tests.integration.test_dashboard_stats import _portal, _upload
from tests.support.people import person
from uploader.access.principals import signed_in_principal
from uploader.access.roles import Role
from uploader.uploads import recount, rollup
from uploader.uploads.models import Upload, UploadMonthlyBreakdown, UploadState
from uploader.uploads.services import upload_sign_single
from uploader.uploads.state import Move, uploads_move

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _month_row(month: dt.date, dimension: str, value: str) -> tuple[int, int, int, int]:
    row = UploadMonthlyBreakdown.objects.filter(month=month, dimension=dimension, value=value).first()
    return (0, 0, 0, 0) if row is None else (row.started_files, row.started_bytes, row.stored_files, row.stored_bytes)


def test_each_state_change_moves_the_monthly_rows_with_the_daily_ones(s3_bucket: str, settings: Any) -> None:
    # Far from UTC: an arrival's local month is not always its UTC month.
    settings.TIME_ZONE = "Pacific/Kiritimati"
    staff = signed_in_principal(person(Role.STAFF))
    upload, _ = upload_sign_single(principal=staff, filename="a.pdf", content_type="application/pdf", size=10)
    this_month = timezone.localdate().replace(day=1)
    assert _month_row(this_month, "state", "registered") == (1, 10, 0, 0)
    assert recount.rollup_differences() == []

    # It arrives, dated two months back: it counts as arrived in that month, begun in this one.
    arrived = timezone.now() - dt.timedelta(days=62)
    arrival_month = timezone.localtime(arrived).date().replace(day=1)
    uploads_move(moves=[Move(upload_id=upload.pk, values={"stored_size": 12, "stored_at": arrived})], to="stored")
    assert _month_row(this_month, "state", "registered") == (0, 0, 0, 0)
    assert _month_row(this_month, "state", "stored") == (1, 12, 0, 0)
    assert _month_row(arrival_month, "state", "stored") == (0, 0, 1, 12)
    assert recount.rollup_differences() == []

    uploads_move(moves=[Move(upload_id=upload.pk, values={})], to=UploadState.DELETED)
    assert _month_row(arrival_month, "state", "stored") == (0, 0, 0, 0)
    assert _month_row(arrival_month, "state", "deleted") == (0, 0, 1, 12)
    assert recount.rollup_differences() == []


def test_the_recount_rebuilds_the_months_as_they_were_kept_and_check_finds_a_damaged_one(s3_bucket: str) -> None:
    portal = _portal("Months")
    now = timezone.now()
    for index in range(40):
        _upload(
            at=now - dt.timedelta(days=index * 11),
            portal=portal if index % 2 else None,
            state=[UploadState.STORED, UploadState.REJECTED][index % 2],
            reason=f"over by {index} bytes",
        )
    kept = recount.stored_months()
    assert len({month for _, month, _ in kept}) > 12
    call_command("recount_upload_rollup", "--check")
    recount.rollup_recount()
    assert recount.stored_months() == kept

    UploadMonthlyBreakdown.objects.filter(dimension="portal").update(stored_files=99)
    with pytest.raises(CommandError, match="differ from a recount"):
        call_command("recount_upload_rollup", "--check")
    call_command("recount_upload_rollup")
    assert recount.stored_months() == kept


@pytest.mark.parametrize("days", [7, 30, 90, 365])
def test_stats_for_a_period_equal_counting_the_rows(days: int) -> None:
    portals = [_portal(f"Portal {n}") for n in range(3)]
    now = timezone.now()
    for index in range(150):
        _upload(
            at=now - dt.timedelta(days=index * 3, hours=index % 24),
            size=1000 + index,
            portal=portals[index % 4] if index % 4 < 3 else None,
            content_type=["image/png", "application/pdf", "video/mp4"][index % 3],
            state=[UploadState.STORED, UploadState.STORED, UploadState.REJECTED, UploadState.ABORTED][index % 4],
            reason=f"reason {index % 3} after {index} bytes",
        )
    period = stats_selectors.period_from(str(days))
    stats = stats_selectors.upload_stats(user=person(Role.VIEWER), period=period)

    def local_day(moment: dt.datetime | None) -> dt.date | None:
        return None if moment is None else timezone.localtime(moment).date()

    rows = list(Upload.objects.select_related("portal"))
    arrived = [u for u in rows if (day := local_day(u.stored_at)) and period.first_day <= day <= period.last_day]
    begun = [u for u in rows if period.first_day <= local_day(u.created_at) <= period.last_day]  # type: ignore[operator]
    assert stats.files == len(arrived) > 0
    assert stats.bytes == sum(u.stored_size or 0 for u in arrived)
    per_day = Counter(local_day(u.stored_at) for u in arrived)
    assert {day.day: day.files for day in stats.by_day if day.files} == dict(per_day)
    per_portal = Counter(u.portal.name if u.portal else stats_selectors.STAFF_UPLOADS_LABEL for u in arrived)
    assert {row.label: row.files for row in stats.by_portal} == dict(per_portal)
    per_state = Counter(u.state for u in begun)
    assert {row.label: row.files for row in stats.by_state} == {
        label: sum(per_state[state] for state in states) for label, states in stats_selectors.STATE_LABELS
    }
    reasons = Counter(rollup.fold_reason(u.rejection_reason) for u in begun if u.state == UploadState.REJECTED)
    assert {row.label: row.files for row in stats.rejection_reasons} == dict(reasons)


def test_the_months_read_are_whole_months_inside_the_period() -> None:
    for days in stats_selectors.PERIOD_DAYS_CHOICES:
        for offset in range(0, 400, 5):
            period = stats_selectors.period_from(str(days), now=timezone.now() - dt.timedelta(days=offset))
            start, end = stats_selectors.month_spans(period)
            assert start.day == 1
            assert end.day == 1
            assert start <= end
            if start < end:
                assert period.first_day <= start
                assert end <= period.last_day + dt.timedelta(days=1)
            if days == 365:
                assert start < end  # a year always has whole months
