"""Staff change a document request's reminder schedule after it is made, on its edit
page: a valid change is saved and audited (`request.edited`, old and new), a bad one
is a clear 400 that writes nothing, and beat (run with `now` passed in) uses the new
schedule at its next run without sending again a slot already sent, while a slot the
change creates goes once. Reminders switched off send nothing until switched on."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from tests.integration.test_document_requests import make_request
from tests.integration.test_request_editing import edit_form
from tests.integration.test_request_reminders import at, business_hours, made_at, schedule, slots_of, smtp  # noqa: F401
from tests.support.smtp import SmtpSink
from uploader.audit.models import AuditEntry
from uploader.requests import editing, reminders
from uploader.requests.models import DocumentRequest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("generous_rates")]

DUE = dt.date(2030, 1, 31)  # a Thursday


def edited(document_request: DocumentRequest) -> list[dict[str, list[object]]]:
    return [
        entry.detail["changes"]
        for entry in AuditEntry.objects.filter(action="request.edited", detail__request=document_request.pk).order_by(
            "id"
        )
    ]


def change_schedule(staff_client: Client, document_request: DocumentRequest, **fields: str | None) -> None:
    """Post the edit page back with these reminder boxes changed (None unticks a box)."""
    data = edit_form(staff_client, document_request)
    for name, value in fields.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    answer = staff_client.post(f"/requests/{document_request.pk}/edit", data)
    assert answer.status_code == 302, answer.content.decode()[:2000]


def test_staff_change_the_schedule_on_the_edit_page_and_it_is_audited(staff_user: User, staff_client: Client) -> None:
    document_request, _ = make_request(staff_user, due_date=DUE, reminders=schedule())
    page = staff_client.get(f"/requests/{document_request.pk}/edit")
    assert b'name="remind_days_before_due" value="3"' in page.content
    assert re.search(r'<input[^>]*name="send_reminders"[^>]*checked', page.content.decode())
    # The page sent back as it is changes nothing.
    change_schedule(staff_client, document_request)
    assert edited(document_request) == []

    change_schedule(
        staff_client,
        document_request,
        remind_days_before_due="5",
        remind_on_due_date=None,
        remind_overdue_every_days="0",
        remind_nothing_received_days="",
    )
    document_request.refresh_from_db()
    assert reminders.schedule_of(document_request) == reminders.Schedule(
        days_before_due=5, on_due_date=False, overdue_every_days=None, nothing_received_days=None
    )
    assert edited(document_request) == [
        {
            "remind_days_before_due": [3, 5],
            "remind_on_due_date": [True, False],
            "remind_overdue_every_days": [7, None],
            "remind_nothing_received_days": [5, None],
        }
    ]
    shown = staff_client.get(f"/requests/{document_request.pk}/").content.decode()
    assert '<dd id="reminder-schedule">5 days before the due date</dd>' in shown

    change_schedule(staff_client, document_request, send_reminders=None)
    document_request.refresh_from_db()
    assert not document_request.send_reminders
    assert edited(document_request)[-1] == {"send_reminders": [True, False]}
    shown = staff_client.get(f"/requests/{document_request.pk}/").content.decode()
    assert '<dd id="reminder-schedule">Switched off</dd>' in shown
    assert "None: staff switched them off" in shown
    # The schedule is kept for when they are switched on again.
    assert (
        b'name="remind_days_before_due" value="5"' in staff_client.get(f"/requests/{document_request.pk}/edit").content
    )


def test_a_bad_schedule_is_a_clear_400_and_writes_nothing(staff_user: User, staff_client: Client) -> None:
    document_request, _ = make_request(staff_user, due_date=DUE, reminders=schedule())
    data = edit_form(staff_client, document_request)
    for change, message in [
        ({"remind_days_before_due": "-1"}, b"Ensure this value is greater than or equal to 0."),
        ({"remind_overdue_every_days": "366"}, b"Ensure this value is less than or equal to 365."),
        ({"remind_nothing_received_days": "soon"}, b"Enter a whole number."),
        ({"remind_days_before_due": "99999999999999999999"}, b"Ensure this value is less than or equal to 365."),
    ]:
        answer = staff_client.post(f"/requests/{document_request.pk}/edit", {**data, **change, "client_name": "X"})
        assert answer.status_code == 400, change
        assert message in answer.content, change
    # The service checks the numbers too (for callers other than the page).
    with pytest.raises(ValidationError) as refused:
        editing.request_edit(
            actor=staff_user,
            request_id=document_request.pk,
            changes=editing.RequestChanges(
                client_name="X",
                client_emails=["ann@example.test"],
                due_date=DUE,
                reminders=schedule(days_before_due=-2),
            ),
        )
    assert list(refused.value.message_dict) == ["remind_days_before_due"]
    document_request.refresh_from_db()
    assert document_request.client_name == "Ann Client"
    assert reminders.schedule_of(document_request) == schedule()
    assert edited(document_request) == []


def test_a_changed_schedule_sends_no_slot_twice_and_a_new_slot_once(
    staff_user: User,
    staff_client: Client,
    smtp: SmtpSink,  # noqa: F811 - the fixture
    business_hours: None,  # noqa: F811 - the fixture
) -> None:
    # Overdue every 7 days; made Sunday 20 January 2030, due Thursday the 31st.
    document_request, _ = make_request(
        staff_user,
        due_date=DUE,
        reminders=schedule(days_before_due=3, on_due_date=False, nothing_received_days=None),
    )
    made_at(document_request, at(2030, 1, 20, 10))
    run = reminders.reminders_send_due
    assert run(now=at(2030, 1, 28, 10)) == 1
    assert slots_of(document_request) == ["before-due:2030-01-31"]

    # Three days before becomes two: the slot before the due date was sent, and is not again.
    change_schedule(staff_client, document_request, remind_days_before_due="2")
    assert run(now=at(2030, 1, 29, 10)) == 0
    assert run(now=at(2030, 1, 30, 10)) == 0

    # The first overdue round (Thursday 7 February) goes; the same day staff ask for
    # every 3 days: the round that began on the 6th is not sent as well ...
    assert run(now=at(2030, 2, 7, 10)) == 1
    change_schedule(staff_client, document_request, remind_overdue_every_days="3")
    assert run(now=at(2030, 2, 7, 15)) == 0
    assert run(now=at(2030, 2, 8, 10)) == 0
    # ... the new round of Saturday the 9th goes on Monday the 11th (no weekends), once.
    assert run(now=at(2030, 2, 9, 12)) == 0
    assert run(now=at(2030, 2, 11, 10)) == 1
    assert run(now=at(2030, 2, 11, 11)) == 0
    assert slots_of(document_request) == [
        "before-due:2030-01-31",
        "overdue:2030-01-31:2030-02-07",
        "overdue:2030-01-31:2030-02-09",
    ]
    # Back to every 7 days: the round of the 14th is a round of its own, not one sent.
    change_schedule(staff_client, document_request, remind_overdue_every_days="7")
    assert run(now=at(2030, 2, 13, 10)) == 0
    assert run(now=at(2030, 2, 14, 10)) == 1
    assert slots_of(document_request)[-1] == "overdue:2030-01-31:2030-02-14"
    assert len(smtp.wait_for(4)) == 4
    time.sleep(0.3)
    assert len(smtp.messages) == 4


def test_a_kind_switched_on_later_sends_its_new_slot_once(
    staff_user: User,
    staff_client: Client,
    smtp: SmtpSink,  # noqa: F811 - the fixture
    business_hours: None,  # noqa: F811 - the fixture
) -> None:
    document_request, token = make_request(
        staff_user,
        due_date=DUE,
        reminders=schedule(days_before_due=None, on_due_date=True, overdue_every_days=None, nothing_received_days=None),
    )
    made_at(document_request, at(2030, 1, 20, 10))
    run = reminders.reminders_send_due
    assert run(now=at(2030, 1, 24, 10)) == 0
    assert reminders.next_reminder(document_request, now=at(2030, 1, 24, 10)).when == at(2030, 1, 31, 9)

    # "Nothing received after 3 days" and "3 days before": the first is due at once
    # (the next run), the second on Monday the 28th; each goes once.
    change_schedule(staff_client, document_request, remind_nothing_received_days="3", remind_days_before_due="3")
    document_request.refresh_from_db()
    assert reminders.next_reminder(document_request, now=at(2030, 1, 24, 10)).when == at(2030, 1, 24, 10)
    assert run(now=at(2030, 1, 24, 10, 5)) == 1
    assert run(now=at(2030, 1, 24, 10, 10)) == 0
    assert run(now=at(2030, 1, 28, 10)) == 1
    assert run(now=at(2030, 1, 28, 11)) == 0
    assert slots_of(document_request) == ["nothing-received", "before-due:2030-01-31"]
    first, _ = smtp.wait_for(2)
    assert f"/r/{token}/" in first.get_content()

    # Switched off: the due date passes with no reminder; switched on, the next slot goes.
    change_schedule(staff_client, document_request, send_reminders=None)
    assert run(now=at(2030, 1, 31, 10)) == 0
    document_request.refresh_from_db()
    assert reminders.next_reminder(document_request, now=at(2030, 1, 31, 10)).why_none == "staff switched them off"
    change_schedule(staff_client, document_request, send_reminders="on")
    assert run(now=at(2030, 2, 1, 10)) == 1
    assert slots_of(document_request)[-1] == "due:2030-01-31"
    assert [sorted(changes) for changes in edited(document_request)] == [
        ["remind_days_before_due", "remind_nothing_received_days"],
        ["send_reminders"],
        ["send_reminders"],
    ]
