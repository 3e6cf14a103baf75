"""Document requests, issue 16 items 4 and 5: reminders on the right local days and
hours (the clock is passed in as `now`), never twice (a repeat, a retried run, two
beat processes at once on PostgreSQL), stopped when accepted; "I'll send it later"
from the e-mail; the completion receipt with each file's size and SHA-256 computed
from S3 (the emulator); a request that waits for staff to close it."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
import zoneinfo
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from tests.integration.test_document_requests import actions, item, make_request, send, visitor
from tests.support.smtp import SmtpSink
from uploader.audit.models import AuditEntry
from uploader.requests import receipts, reminders
from uploader.requests.models import (
    DocumentRequest,
    ItemState,
    RequestReminder,
    RequestState,
    UploadDigest,
)
from uploader.requests.services import ItemSpec, request_accept_all
from uploader.requests.state import item_move
from uploader.uploads.sizes import format_bytes

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("generous_rates")]

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def smtp(settings) -> Iterator[SmtpSink]:  # type: ignore[no-untyped-def]
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        settings.EMAIL_TIMEOUT = 5
        settings.INTAKE_PUBLIC_BASE_URL = "https://files.example.test"
        yield sink


@pytest.fixture
def business_hours(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_BUSINESS_TIME_ZONE = "America/New_York"
    settings.INTAKE_REMINDER_HOURS = (9, 17)
    settings.INTAKE_REMINDER_ON_WEEKENDS = False


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in the business's time zone (New York), as the aware datetime beat sees."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def made_at(request: DocumentRequest, moment: dt.datetime) -> DocumentRequest:
    DocumentRequest.objects.filter(pk=request.pk).update(created_at=moment)
    request.refresh_from_db()
    return request


def schedule(**kwargs: object) -> reminders.Schedule:
    values: dict[str, object] = {
        "days_before_due": 3,
        "on_due_date": True,
        "overdue_every_days": 7,
        "nothing_received_days": 5,
    }
    values.update(kwargs)
    return reminders.Schedule(**values)  # type: ignore[arg-type]


def slots_of(request: DocumentRequest) -> list[str]:
    return list(RequestReminder.objects.filter(request=request).order_by("id").values_list("slot", flat=True))


# --- the right days, the right hours ------------------------------------------------------------


def test_reminders_go_on_their_days_within_working_hours_in_the_business_time_zone(
    staff_user: User, smtp: SmtpSink, business_hours: None
) -> None:
    # Due Thursday 31 January 2030; made Sunday the 20th.
    request, token = make_request(staff_user, due_date=dt.date(2030, 1, 31), reminders=schedule())
    made_at(request, at(2030, 1, 20, 10))
    run = reminders.reminders_send_due

    assert run(now=at(2030, 1, 24, 12)) == 0  # nothing is due yet
    # Nothing received 5 days after it was made: Friday the 25th, from 9:00 New York
    # (14:00 UTC), not at 8:59.
    assert run(now=at(2030, 1, 25, 8, 59)) == 0
    assert run(now=at(2030, 1, 25, 9, 0)) == 1
    assert slots_of(request) == ["nothing-received"]
    [first] = smtp.wait_for(1)
    assert smtp.recipients[0] == ["ann@example.test"]
    body = first.get_content()
    assert "P60 for 2025" in body
    assert "Photo ID" in body
    assert "Anything else (optional)" in body
    assert f"https://files.example.test/r/{token}/" in body
    assert f"https://files.example.test/r/{token}/later/" in body
    # Saturday and Sunday: nothing, at any hour.
    assert run(now=at(2030, 1, 26, 12)) == 0
    # Three days before the due date: Monday the 28th (once).
    assert run(now=at(2030, 1, 28, 9, 30)) == 1
    assert run(now=at(2030, 1, 28, 16, 45)) == 0
    # The due date: not at 17:00 (the end is not working time), yes at 16:59.
    assert run(now=at(2030, 1, 31, 17, 0)) == 0
    assert run(now=at(2030, 1, 31, 16, 59)) == 1
    assert run(now=at(2030, 2, 1, 10)) == 0
    # Overdue every 7 days: the 7th and the 14th.
    assert run(now=at(2030, 2, 6, 10)) == 0
    assert run(now=at(2030, 2, 7, 10)) == 1
    assert run(now=at(2030, 2, 14, 10)) == 1
    assert slots_of(request) == [
        "nothing-received",
        "before-due:2030-01-31",
        "due:2030-01-31",
        "overdue:2030-01-31:2030-02-07",
        "overdue:2030-01-31:2030-02-14",
    ]
    assert len(smtp.wait_for(5)) == 5
    assert actions(request).count("request.reminder_sent") == 5
    entry = AuditEntry.objects.filter(action="request.reminder_sent", detail__request=request.pk).order_by("id").last()
    assert entry is not None
    assert entry.detail["slots"] == ["overdue:2030-01-31:2030-02-14"]


def test_a_slot_on_a_weekend_goes_on_the_next_working_day(
    staff_user: User, smtp: SmtpSink, business_hours: None
) -> None:
    # Due Saturday 2 February 2030, a reminder on the due date only.
    request, _ = make_request(
        staff_user,
        due_date=dt.date(2030, 2, 2),
        reminders=schedule(days_before_due=None, overdue_every_days=None, nothing_received_days=None),
    )
    made_at(request, at(2030, 1, 20, 10))
    assert reminders.reminders_send_due(now=at(2030, 2, 2, 10)) == 0
    assert reminders.reminders_send_due(now=at(2030, 2, 4, 9, 15)) == 1
    assert slots_of(request) == ["due:2030-02-02"]
    # A week after the due date the slot is over.
    late, _ = make_request(
        staff_user,
        due_date=dt.date(2030, 2, 2),
        reminders=schedule(days_before_due=None, overdue_every_days=None, nothing_received_days=None),
    )
    made_at(late, at(2030, 1, 20, 10))
    assert reminders.reminders_send_due(now=at(2030, 2, 11, 10)) == 0


def test_the_staff_page_shows_the_next_reminder_and_each_one_sent(
    staff_user: User, staff_client: Client, smtp: SmtpSink, business_hours: None
) -> None:
    request, _ = make_request(staff_user, due_date=dt.date(2030, 1, 31), reminders=schedule(nothing_received_days=None))
    made_at(request, at(2030, 1, 20, 10))
    upcoming = reminders.next_reminder(request, now=at(2030, 1, 21, 10))
    assert upcoming.when == at(2030, 1, 28, 9)
    reminders.reminders_send_due(now=at(2030, 1, 28, 10))
    assert reminders.next_reminder(request, now=at(2030, 1, 28, 10)).when == at(2030, 1, 31, 9)
    page = staff_client.get(f"/requests/{request.pk}/")
    assert page.status_code == 200
    assert b'id="next-reminder"' in page.content
    assert b"Reminder sent" in page.content
    assert b"request.reminder_sent" in page.content


# --- never twice --------------------------------------------------------------------------------


def test_a_repeated_or_retried_run_sends_nothing_more(staff_user: User, smtp: SmtpSink, business_hours: None) -> None:
    request, _ = make_request(staff_user, due_date=dt.date(2030, 1, 31), reminders=schedule())
    made_at(request, at(2030, 1, 20, 10))
    now = at(2030, 1, 31, 11)
    assert reminders.reminders_send_due(now=now) == 1
    assert reminders.reminders_send_due(now=now) == 0
    assert reminders.reminders_send_due(now=now + dt.timedelta(minutes=15)) == 0
    # A run killed after claiming its slot (the row is there, the e-mail never went):
    # a retry finds the row and sends nothing (at most once).
    other, _ = make_request(staff_user, due_date=dt.date(2030, 1, 31), reminders=schedule())
    made_at(other, at(2030, 1, 20, 10))
    RequestReminder.objects.create(request=other, slot="due:2030-01-31")
    RequestReminder.objects.create(request=other, slot="nothing-received")
    assert reminders.reminders_send_due(now=now) == 0
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(smtp.messages) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_two_beat_processes_at_once_send_each_slot_once(
    staff_user: User, smtp: SmtpSink, business_hours: None, transactional_db: None
) -> None:
    made = []
    for number in range(3):
        request, _ = make_request(
            staff_user,
            client_emails=[f"client{number}@example.test"],
            due_date=dt.date(2030, 1, 31),
            reminders=schedule(),
        )
        made.append(made_at(request, at(2030, 1, 20, 10)))
    now = at(2030, 1, 31, 11)
    start = threading.Barrier(4)
    sent: list[int] = []
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            start.wait(timeout=10)
            sent.append(reminders.reminders_send_due(now=now))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(sent) == 3  # one e-mail per request, whichever process sent it
    assert len(smtp.wait_for(3)) == 3
    time.sleep(0.3)
    assert len(smtp.messages) == 3
    assert sorted(r[0] for r in smtp.recipients) == [f"client{n}@example.test" for n in range(3)]
    for request in made:
        # Both current slots (the due date, nothing received) went in one e-mail, once.
        assert sorted(slots_of(request)) == ["due:2030-01-31", "nothing-received"]
        assert actions(request).count("request.reminder_sent") == 1


# --- when they stop -----------------------------------------------------------------------------


def test_reminders_stop_when_every_required_item_is_accepted(
    staff_user: User, smtp: SmtpSink, business_hours: None
) -> None:
    request, _ = make_request(staff_user, due_date=dt.date(2030, 1, 31), reminders=schedule())
    made_at(request, at(2030, 1, 20, 10))
    for title in ("P60 for 2025", "Photo ID"):
        found = item(request, title)
        item_move(found, ItemState.SUBMITTED, action="test.submitted")
    # Sent, waiting for review: nothing is asked of the client.
    assert reminders.reminders_send_due(now=at(2030, 1, 28, 10)) == 0
    item_move(
        item(request, "Photo ID"),
        ItemState.CHANGES_REQUESTED,
        action="test.back",
        values={"changes_reason": "Blurred <b>"},
    )
    assert reminders.reminders_send_due(now=at(2030, 1, 28, 10)) == 1
    [message] = smtp.wait_for(1)
    assert "Photo ID: Blurred <b>" in message.get_content()  # what was sent back, with the reason
    item_move(item(request, "Photo ID"), ItemState.SUBMITTED, action="test.again")
    request_accept_all(actor=staff_user, request_id=request.pk)
    request.refresh_from_db()
    assert request.state == RequestState.CLOSED  # "Anything else" is optional
    assert reminders.reminders_send_due(now=at(2030, 1, 31, 10)) == 0
    assert reminders.reminders_send_due(now=at(2030, 2, 7, 10)) == 0
    assert reminders.next_reminder(request).when is None


# --- "I'll send it later" -----------------------------------------------------------------------


def later_link_from(message_text: str) -> str:
    match = re.search(r"https://files\.example\.test(/r/\S+/later/\S+/)", message_text)
    assert match, message_text
    return match.group(1)


def test_send_it_later_pauses_reminders_for_a_week(
    staff_user: User, staff_client: Client, smtp: SmtpSink, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_REMINDER_HOURS = (0, 24)
    settings.INTAKE_REMINDER_ON_WEEKENDS = True
    today = timezone.localdate()
    # Overdue for a month, reminded every day.
    request, _token = make_request(
        staff_user,
        due_date=today - dt.timedelta(days=30),
        reminders=schedule(overdue_every_days=1, nothing_received_days=None),
    )
    made_at(request, timezone.now() - dt.timedelta(days=40))
    assert reminders.reminders_send_due() == 1
    [message] = smtp.wait_for(1)
    path = later_link_from(message.get_content())

    client = visitor()
    asked = client.get(path)  # a link scanner following it changes nothing
    assert asked.status_code == 200
    assert b"later-confirm" in asked.content
    assert DocumentRequest.objects.get(pk=request.pk).reminders_paused_until is None
    done = client.post(path)
    assert done.status_code == 200
    assert b"later-done" in done.content
    paused_until = DocumentRequest.objects.get(pk=request.pk).reminders_paused_until
    assert paused_until is not None
    assert abs(paused_until - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    paused = AuditEntry.objects.get(action="request.reminders_paused", detail__request=request.pk)
    assert paused.actor_label == f"request:{request.pk}"

    assert reminders.next_reminder(DocumentRequest.objects.get(pk=request.pk)).when == paused_until
    # Tomorrow's slot waits until the pause ends.
    assert reminders.reminders_send_due(now=paused_until - dt.timedelta(hours=1)) == 0
    assert reminders.reminders_send_due(now=paused_until + dt.timedelta(minutes=1)) == 1
    page = staff_client.get(f"/requests/{request.pk}/")
    assert b"paused until" in page.content
    assert b"Client will send it later" in page.content


def test_a_forged_expired_or_borrowed_later_link_is_refused(staff_user: User, settings) -> None:  # type: ignore[no-untyped-def]
    request, token = make_request(staff_user)
    _other, other_token = make_request(staff_user, client_name="Bob")
    good = reminders.later_token(request)
    client = visitor()
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert client.get(f"/r/{token}/later/{forged}/").status_code == 400
    assert client.post(f"/r/{token}/later/{forged}/").status_code == 400
    # Signed for another request.
    assert client.post(f"/r/{other_token}/later/{good}/").status_code == 400

    class Old(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - 31 * 86400)

    expired = Old(salt=reminders.LATER_SALT).sign_object({"request": request.pk, "action": "later"})
    assert client.post(f"/r/{token}/later/{expired}/").status_code == 400
    # An unknown request link is a 404 before the signature is looked at.
    assert client.get(f"/r/{'A' * 32}/later/{good}/").status_code == 404
    assert DocumentRequest.objects.filter(reminders_paused_until__isnull=False).count() == 0
    assert client.post(f"/r/{token}/later/{good}/").status_code == 200


# --- the receipt --------------------------------------------------------------------------------


def test_the_receipt_lists_each_file_with_its_size_and_sha256(
    staff_user: User, staff_client: Client, s3_bucket: str, smtp: SmtpSink, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_SCAN_CHUNK_BYTES = 4096  # several chunks per file
    request, token = make_request(staff_user)
    client = visitor(request)
    p60_bytes = b"%PDF-1.7\n" + bytes(range(256)) * 40
    photo_bytes = b"\xff\xd8\xff\xe0" + b"photo" * 3000
    p60 = send(client, token, item(request, "P60 for 2025").pk, body=p60_bytes)
    photo = send(client, token, item(request, "Photo ID").pk, body=photo_bytes, filename="id.jpg", type_="image/jpeg")
    assert staff_client.post(f"/requests/{request.pk}/accept-all").status_code == 302
    request.refresh_from_db()
    assert request.state == RequestState.CLOSED
    assert request.receipt_sent_at is not None

    _staff, receipt = smtp.wait_for(2)
    assert smtp.recipients[1] == ["ann@example.test"]
    body = receipt.get_content()
    for upload, data in ((p60, p60_bytes), (photo, photo_bytes)):
        assert upload.original_filename in body
        assert f"{format_bytes(len(data))}, SHA-256 {hashlib.sha256(data).hexdigest()}" in body
        assert UploadDigest.objects.get(upload=upload).sha256 == hashlib.sha256(data).hexdigest()
    assert "request.receipt_sent" in actions(request)

    # Idempotent: a repeated task sends nothing, a digest is computed once.
    assert receipts.receipt_send(request.pk) is False
    assert receipts.upload_digest(str(p60.pk)).sha256 == hashlib.sha256(p60_bytes).hexdigest()  # type: ignore[union-attr]
    assert UploadDigest.objects.count() == 2
    time.sleep(0.3)
    assert len(smtp.messages) == 2
    page = staff_client.get(f"/requests/{request.pk}/")
    assert hashlib.sha256(photo_bytes).hexdigest().encode() in page.content
    assert b"Receipt sent to the client" in page.content


# --- waits for staff ----------------------------------------------------------------------------


def test_a_request_that_waits_for_staff_stays_open_until_staff_close_it(
    staff_user: User, staff_client: Client, s3_bucket: str, smtp: SmtpSink, business_hours: None
) -> None:
    request, token = make_request(
        staff_user,
        waits_for_staff=True,
        items=[ItemSpec(title="P60 for 2025"), ItemSpec(title="Photo ID")],
        due_date=dt.date(2030, 1, 31),
    )
    client = visitor(request)
    send(client, token, item(request, "P60 for 2025").pk)
    # Not complete yet: closing is refused.
    staff_client.post(f"/requests/{request.pk}/close")
    assert DocumentRequest.objects.get(pk=request.pk).state == RequestState.OPEN
    send(client, token, item(request, "Photo ID").pk, filename="id.pdf")
    assert staff_client.post(f"/requests/{request.pk}/accept-all").status_code == 302
    request.refresh_from_db()
    assert request.state == RequestState.OPEN  # complete, waiting for staff
    [told] = smtp.wait_for(1)
    assert "waiting for you" in told["Subject"]
    assert "request.complete_waiting" in actions(request)
    assert reminders.reminders_send_due(now=at(2030, 1, 31, 10)) == 0  # nothing waits for the client
    page = staff_client.get(f"/requests/{request.pk}/")
    assert b'id="close-request"' in page.content
    assert client.get(f"/r/{token}/").status_code == 200  # the link still opens

    assert staff_client.post(f"/requests/{request.pk}/close").status_code == 302
    request.refresh_from_db()
    assert request.state == RequestState.CLOSED
    closed = AuditEntry.objects.get(action="request.closed", detail__request=request.pk)
    assert closed.detail["why"] == "closed by staff"
    assert closed.actor_id == staff_user.pk
    _staff, receipt = smtp.wait_for(3)[1:]
    assert receipt["Subject"].startswith("Receipt")
    assert client.get(f"/r/{token}/").status_code == 410


def test_staff_set_the_schedule_and_waits_for_staff_when_making_a_request(staff_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_REMINDER_DAYS_BEFORE_DUE = 2
    settings.INTAKE_REMINDER_NOTHING_RECEIVED_DAYS = 0
    form = staff_client.get("/requests/new")
    assert form.status_code == 200
    assert b'name="remind_days_before_due" value="2"' in form.content  # the settings' defaults
    response = staff_client.post(
        "/requests/new",
        {
            "client_name": "Bob",
            "client_emails": "bob@example.test",
            "due_date": "2030-01-31",
            "remind_days_before_due": "5",
            "remind_overdue_every_days": "0",
            "remind_nothing_received_days": "10",
            "waits_for_staff": "on",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "50",
            "items-0-title": "P60",
            "items-0-required": "on",
        },
    )
    assert response.status_code == 302
    made = DocumentRequest.objects.get(client_name="Bob")
    assert reminders.schedule_of(made) == reminders.Schedule(
        days_before_due=5, on_due_date=False, overdue_every_days=None, nothing_received_days=10
    )
    assert made.waits_for_staff is True
