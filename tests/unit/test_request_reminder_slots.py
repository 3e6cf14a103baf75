"""Which reminder slot of a document request is current on a day (pure logic;
tests/integration/test_request_reminders.py sends them)."""

from __future__ import annotations

import datetime as dt

import pytest

from uploader.requests.reminders import Schedule, due_slots, within_working_hours

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
        (dt.date(2030, 2, 7), ["overdue:2030-01-31:1"]),
        (dt.date(2030, 2, 13), ["overdue:2030-01-31:1"]),
        (dt.date(2030, 2, 14), ["overdue:2030-01-31:2"]),
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
