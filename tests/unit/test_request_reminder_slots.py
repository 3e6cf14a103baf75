"""Which reminder slot of a document request is current on a day (pure logic;
tests/integration/test_request_reminders.py sends them)."""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from uploader.requests.reminders import Schedule, due_slots, schedule_check, within_working_hours

DUE = dt.date(2030, 1, 31)
MADE = dt.date(2030, 1, 20)
FULL = Schedule(days_before_due=3, on_due_date=True, overdue_every_days=7, nothing_received_days=5)


def slots(day: dt.date, schedule: Schedule = FULL, *, received: bool = True, made: dt.date = MADE) -> list[str]:
    return due_slots(schedule, due_date=DUE, made_on=made, today=day, received_any=received)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2030, 1, 27), []),
        (dt.date(2030, 1, 28), ["before-due:2030-01-31"]),
        (dt.date(2030, 1, 30), ["before-due:2030-01-31"]),
        (dt.date(2030, 1, 31), ["due:2030-01-31"]),
        (dt.date(2030, 2, 6), ["due:2030-01-31"]),
        (dt.date(2030, 2, 7), ["overdue:2030-01-31:2030-02-07"]),
        (dt.date(2030, 2, 13), ["overdue:2030-01-31:2030-02-07"]),
        (dt.date(2030, 2, 14), ["overdue:2030-01-31:2030-02-14"]),
    ],
)
def test_one_timeline_slot_is_current_until_the_next_one_starts(day: dt.date, expected: list[str]) -> None:
    assert slots(day) == expected


def test_nothing_received_comes_once_n_days_after_the_request_was_made_while_nothing_arrived() -> None:
    assert slots(dt.date(2030, 1, 24), received=False) == []
    assert slots(dt.date(2030, 1, 25), received=False) == ["nothing-received"]
    assert slots(dt.date(2030, 1, 28), received=False) == ["before-due:2030-01-31", "nothing-received"]
    assert slots(dt.date(2030, 1, 25), received=True) == []


def test_no_slot_starts_on_or_before_the_day_the_request_was_made() -> None:
    assert slots(dt.date(2030, 1, 30), made=dt.date(2030, 1, 29)) == []
    assert slots(dt.date(2030, 1, 31), made=dt.date(2030, 1, 31)) == []


def test_switched_off_kinds_send_nothing() -> None:
    off = Schedule(days_before_due=None, on_due_date=False, overdue_every_days=None, nothing_received_days=None)
    assert all(slots(DUE + dt.timedelta(days=n), off, received=False) == [] for n in range(-5, 30))
    only_before = Schedule(days_before_due=2, on_due_date=False, overdue_every_days=None, nothing_received_days=None)
    assert slots(dt.date(2030, 1, 29), only_before) == ["before-due:2030-01-31"]
    assert slots(DUE, only_before) == []  # it ends on the due date
    undated = due_slots(FULL, due_date=None, made_on=MADE, today=dt.date(2030, 3, 1), received_any=False)
    assert undated == ["nothing-received"]


def test_overdue_rounds_are_named_by_their_first_day_so_a_new_interval_makes_new_rounds() -> None:
    every_three = Schedule(days_before_due=None, on_due_date=False, overdue_every_days=3, nothing_received_days=None)
    assert slots(dt.date(2030, 2, 9), every_three) == ["overdue:2030-01-31:2030-02-09"]
    # Rounds 1-3 of every three days were the 3rd, 6th and 9th; every seven days the
    # 14th is a round of its own, not "round 2" already sent.
    every_seven = Schedule(days_before_due=None, on_due_date=False, overdue_every_days=7, nothing_received_days=None)
    assert slots(dt.date(2030, 2, 14), every_seven) == ["overdue:2030-01-31:2030-02-14"]


def test_a_timeline_slot_that_began_by_the_last_reminders_day_counts_as_sent() -> None:
    # Overdue every 7 days, reminded on the 7th; changed to every 3 days the same day:
    # the round that began on the 6th is not sent as well; the one of the 9th is.
    every_three = Schedule(days_before_due=None, on_due_date=False, overdue_every_days=3, nothing_received_days=None)

    def after(reminded: dt.date, day: dt.date, schedule: Schedule, *, received: bool = True) -> list[str]:
        return due_slots(schedule, due_date=DUE, made_on=MADE, today=day, received_any=received, reminded_on=reminded)

    assert slots(dt.date(2030, 2, 7), every_three) == ["overdue:2030-01-31:2030-02-06"]
    assert after(dt.date(2030, 2, 7), dt.date(2030, 2, 7), every_three) == []
    assert after(dt.date(2030, 2, 7), dt.date(2030, 2, 9), every_three) == ["overdue:2030-01-31:2030-02-09"]
    # "Nothing received" is apart from the timeline: a reminder that day does not hold it.
    assert after(dt.date(2030, 1, 25), dt.date(2030, 1, 25), FULL, received=False) == ["nothing-received"]


def test_a_schedule_takes_days_from_0_off_to_365() -> None:
    checked = schedule_check(replace(FULL, days_before_due=0, overdue_every_days=365))
    assert checked == replace(FULL, days_before_due=None, overdue_every_days=365)
    with pytest.raises(ValidationError) as refused:
        schedule_check(replace(FULL, days_before_due=-1, overdue_every_days=366))
    assert set(refused.value.message_dict) == {"remind_days_before_due", "remind_overdue_every_days"}


def test_working_hours_are_weekdays_from_the_first_hour_up_to_the_last(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_REMINDER_HOURS = (9, 17)
    settings.INTAKE_REMINDER_ON_WEEKENDS = False
    monday = dt.datetime(2030, 1, 28, 9, 0)
    assert within_working_hours(monday)
    assert not within_working_hours(monday.replace(hour=8, minute=59))
    assert within_working_hours(monday.replace(hour=16, minute=59))
    assert not within_working_hours(monday.replace(hour=17))
    assert not within_working_hours(dt.datetime(2030, 1, 26, 12))  # Saturday
    settings.INTAKE_REMINDER_ON_WEEKENDS = True
    assert within_working_hours(dt.datetime(2030, 1, 26, 12))


def test_the_migration_names_overdue_rounds_already_sent_by_their_first_day() -> None:
    # Found by name: the migration's number may change when branches are merged.
    migration = next((Path(__file__).parents[2] / "uploader" / "migrations").glob("*_request_reminder_edits.py"))
    renamed = importlib.import_module(f"uploader.migrations.{migration.stem}")._renamed
    assert renamed("overdue:2030-01-31:2", 7, to_days=True) == "overdue:2030-01-31:2030-02-14"
    assert renamed("overdue:2030-01-31:2030-02-14", 7, to_days=False) == "overdue:2030-01-31:2"
    assert renamed("overdue:2030-01-31:2030-02-14", 7, to_days=True) is None  # already named so
    assert renamed("overdue:2030-01-31:2", None, to_days=True) is None
    assert renamed("due:2030-01-31", 7, to_days=True) is None
