"""Reminders of a document request: which slot is due, sending it once, and "I'll
send it later".

A request's schedule (its `remind_*` fields) makes a timeline of slots, each current
from its day until the next one starts: "before-due:<due>" from N days before the due
date, "due:<due>" on the due date, "overdue:<due>:<first day>" every K days after it
(named by the day the round starts, so a changed K makes new rounds instead of
matching old ones). Besides that, "nothing-received" once, N days after the request
was made, while no item has a file. Beat (`send_request_reminders`) runs every few minutes; within working hours in
INTAKE_BUSINESS_TIME_ZONE it sends each request's current slots that were not sent
yet. A slot's row (RequestReminder, unique per request and slot) is inserted and
committed before the e-mail goes: a retried task or a second beat finds it and sends
nothing (at most once: a process killed between the two loses that reminder).

Reminders go only while a required item waits for the client (outstanding or sent
back), so they stop when every required item is accepted, while it is paused, and
when staff switch them off (`send_reminders`).

Staff may change the schedule (and the due date) at any time; the next run uses it.
The slot rows stay the guard against sending a slot twice, and a timeline slot that
began on or before the day of the last reminder sent counts as sent: the client was
reminded within it, so a change never brings a second reminder the same day or
repeats the one just sent under a new name. The next slot goes as usual.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from uploader.audit.services import audit_record
from uploader.requests import emails, tokens
from uploader.requests.models import (
    DocumentRequest,
    ItemState,
    ReminderOutcome,
    RequestItem,
    RequestReminder,
    RequestState,
)
from uploader.uploads.models import Upload

logger = logging.getLogger(__name__)

WAITING_FOR_CLIENT = (ItemState.OUTSTANDING, ItemState.CHANGES_REQUESTED)
LATER_SALT = "intake.request-later.v1"
# How far ahead "next reminder" looks on the staff page.
LOOKAHEAD_DAYS = 400
# The most days any part of a schedule may be (0 or none switches that part off).
MAX_SCHEDULE_DAYS = 365


@dataclass(frozen=True)
class Schedule:
    days_before_due: int | None
    on_due_date: bool
    overdue_every_days: int | None
    nothing_received_days: int | None


def schedule_of(request: DocumentRequest) -> Schedule:
    return Schedule(
        days_before_due=request.remind_days_before_due or None,
        on_due_date=request.remind_on_due_date,
        overdue_every_days=request.remind_overdue_every_days or None,
        nothing_received_days=request.remind_nothing_received_days or None,
    )


def default_schedule() -> Schedule:
    """A new request's schedule, from the settings (0 is off)."""
    return Schedule(
        days_before_due=settings.INTAKE_REMINDER_DAYS_BEFORE_DUE or None,
        on_due_date=settings.INTAKE_REMINDER_ON_DUE_DATE,
        overdue_every_days=settings.INTAKE_REMINDER_OVERDUE_EVERY_DAYS or None,
        nothing_received_days=settings.INTAKE_REMINDER_NOTHING_RECEIVED_DAYS or None,
    )


SCHEDULE_DAYS_FIELDS = {
    "days_before_due": "remind_days_before_due",
    "overdue_every_days": "remind_overdue_every_days",
    "nothing_received_days": "remind_nothing_received_days",
}


def schedule_check(schedule: Schedule) -> Schedule:
    """The schedule with 0 as off, or ValidationError naming the model field of each
    number out of range (so a form can put it beside its box)."""
    errors = {}
    for name, field in SCHEDULE_DAYS_FIELDS.items():
        days = getattr(schedule, name)
        if days is not None and not 0 <= days <= MAX_SCHEDULE_DAYS:
            errors[field] = f"From 0 (no) to {MAX_SCHEDULE_DAYS} days."
    if errors:
        raise ValidationError(errors)
    return Schedule(
        days_before_due=schedule.days_before_due or None,
        on_due_date=schedule.on_due_date,
        overdue_every_days=schedule.overdue_every_days or None,
        nothing_received_days=schedule.nothing_received_days or None,
    )


def business_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.INTAKE_BUSINESS_TIME_ZONE)


def within_working_hours(local: dt.datetime) -> bool:
    first, last = settings.INTAKE_REMINDER_HOURS
    if local.weekday() >= 5 and not settings.INTAKE_REMINDER_ON_WEEKENDS:
        return False
    return first <= local.hour < last


def due_slots(
    schedule: Schedule,
    *,
    due_date: dt.date | None,
    made_on: dt.date,
    today: dt.date,
    received_any: bool,
    reminded_on: dt.date | None = None,
) -> list[str]:
    """The slots current on `today` (local date). No slot starts on the day the request
    was made (the client has just been sent the link), nor a timeline slot that began
    on or before `reminded_on`, the last day a reminder was sent (the client was
    reminded within it: this matters only after the schedule or the due date changed)."""
    slots: list[str] = []
    timeline: list[tuple[dt.date, str]] = []  # (first day, slot), in order
    if due_date is not None:
        if schedule.days_before_due:
            timeline.append((due_date - dt.timedelta(days=schedule.days_before_due), f"before-due:{due_date}"))
        if schedule.on_due_date:
            timeline.append((due_date, f"due:{due_date}"))
        if schedule.overdue_every_days and today > due_date:
            rounds = (today - due_date).days // schedule.overdue_every_days
            if rounds >= 1:
                start = due_date + dt.timedelta(days=rounds * schedule.overdue_every_days)
                timeline.append((start, f"overdue:{due_date}:{start}"))
        # A slot lasts until the next one starts (beat may miss a weekend); without a
        # next one, "before-due" ends on the due date, "due" a week after it, and an
        # overdue round when the next round starts.
        current = [(start, slot) for start, slot in timeline if made_on < start <= today]
        if current:
            start, slot = current[-1]
            later = [first for first, _ in timeline if first > start]
            ends: dt.date | None = None
            if later:
                ends = later[0]
            elif slot.startswith("before-due"):
                ends = due_date
            elif slot.startswith("due"):
                ends = start + dt.timedelta(days=7)
            if (ends is None or today < ends) and (reminded_on is None or start > reminded_on):
                slots.append(slot)
    nothing_days = schedule.nothing_received_days
    if nothing_days and not received_any and today >= made_on + dt.timedelta(days=nothing_days):
        slots.append("nothing-received")
    return slots


def _received_any(request: DocumentRequest) -> bool:
    return (
        request.items.exclude(state=ItemState.OUTSTANDING).exists()
        or Upload.objects.filter(request_item__request=request).exists()
    )


def _waits_for_client(request: DocumentRequest) -> bool:
    return request.items.filter(required=True, state__in=WAITING_FOR_CLIENT).exists()


def _reminded_on(request: DocumentRequest) -> dt.date | None:
    """The local day the request's last reminder was sent (none: never)."""
    last = (
        RequestReminder.objects.filter(request=request, outcome=ReminderOutcome.SENT, sent_at__isnull=False)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    return timezone.localtime(last, business_zone()).date() if last else None


def _slots_now(request: DocumentRequest, today: dt.date) -> list[str]:
    made_on = timezone.localtime(request.created_at, business_zone()).date()
    return due_slots(
        schedule_of(request),
        due_date=request.due_date,
        made_on=made_on,
        today=today,
        received_any=_received_any(request),
        reminded_on=_reminded_on(request),
    )


# --- sending ------------------------------------------------------------------------------------


def later_token(request: DocumentRequest) -> str:
    return signing.dumps({"request": request.pk, "action": "later"}, salt=LATER_SALT)


def later_link(request: DocumentRequest) -> str:
    path = reverse(
        "requests:later",
        kwargs={"request_token": tokens.token_for(request.token_nonce), "signed": later_token(request)},
    )
    return settings.INTAKE_PUBLIC_BASE_URL.rstrip("/") + path


def _claim(request_id: int, slots: list[str]) -> list[RequestReminder]:
    """Insert a row per slot and commit; the slots another run holds already are left
    out. The request's row lock makes a second process wait and then find every slot
    taken (so a client gets one e-mail, not one per process); the unique constraint is
    what guarantees a slot once, also without the lock."""
    claimed = []
    with transaction.atomic():
        DocumentRequest.objects.select_for_update().filter(pk=request_id).first()
        for slot in slots:
            try:
                with transaction.atomic():
                    claimed.append(RequestReminder.objects.create(request_id=request_id, slot=slot))
            except IntegrityError:
                continue
    return claimed


def reminder_send(request: DocumentRequest, *, now: dt.datetime) -> bool:
    """Send the request's current slots not sent yet (one e-mail for all); False when
    there was nothing to send."""
    from uploader.requests.services import request_link  # services import this module

    today = timezone.localtime(now, business_zone()).date()
    slots = _slots_now(request, today)
    if not slots:
        return False
    claimed = _claim(request.pk, slots)
    if not claimed:
        return False
    items = list(RequestItem.objects.filter(request=request))
    sent = emails.reminder_email(request, items, link=request_link(request), later_link=later_link(request))
    outcome = ReminderOutcome.SENT if sent else ReminderOutcome.FAILED
    # sent_at is the run's clock, the one its slots were read by (_reminded_on reads it back).
    RequestReminder.objects.filter(pk__in=[row.pk for row in claimed]).update(
        outcome=outcome, sent_at=now if sent else None
    )
    audit_record(
        action="request.reminder_sent" if sent else "request.reminder_not_sent",
        detail={
            "request": request.pk,
            "slots": [row.slot for row in claimed],
            "to": list(request.client_emails),
            "outstanding": sum(1 for item in items if item.state in WAITING_FOR_CLIENT),
        },
    )
    return sent


def reminders_send_due(*, now: dt.datetime | None = None) -> int:
    """Beat's run: the reminders due now, for every open request that still waits for
    the client; the number of e-mails sent. Nothing outside working hours."""
    now = now or timezone.now()
    if not within_working_hours(timezone.localtime(now, business_zone())):
        return 0
    candidates = (
        DocumentRequest.objects.filter(
            state=RequestState.OPEN,
            send_reminders=True,
            items__required=True,
            items__state__in=WAITING_FOR_CLIENT,
        )
        .exclude(reminders_paused_until__gt=now)
        .distinct()
        .order_by("pk")
    )
    sent = 0
    for request in candidates.iterator():
        try:
            sent += reminder_send(request, now=now)
        except Exception:  # one request's failure must not hold back the others
            logger.exception("reminder of request %s failed", request.pk)
    return sent


# --- "I'll send it later" -----------------------------------------------------------------------


class LaterLinkInvalid(Exception):
    pass


@dataclass(frozen=True)
class LinkHolder:
    """Whoever holds the request's link, as the audit trail names them."""

    audit_label: str


def later_check(request: DocumentRequest, signed: str) -> None:
    """LaterLinkInvalid unless `signed` was made for this request and is not too old."""
    max_age = dt.timedelta(days=settings.INTAKE_REMINDER_LINK_MAX_AGE_DAYS)
    try:
        value = signing.loads(signed, salt=LATER_SALT, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is one
        raise LaterLinkInvalid("This link is not valid, or too old.") from None
    if not isinstance(value, dict) or value.get("request") != request.pk or value.get("action") != "later":
        raise LaterLinkInvalid("This link is not valid, or too old.")


def reminders_pause(request: DocumentRequest, signed: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """Pause the request's reminders INTAKE_REMINDER_LATER_DAYS from now (audited)."""
    later_check(request, signed)
    until = (now or timezone.now()) + dt.timedelta(days=settings.INTAKE_REMINDER_LATER_DAYS)
    DocumentRequest.objects.filter(pk=request.pk).update(reminders_paused_until=until)
    request.reminders_paused_until = until
    audit_record(
        action="request.reminders_paused",
        user=None,
        detail={"request": request.pk, "until": until.isoformat(), "why": "the client will send it later"},
    )
    return until


# --- what staff see -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NextReminder:
    when: dt.datetime | None  # the first working hour it may go, business time zone
    why_none: str = ""
    paused_until: dt.datetime | None = None  # while "I'll send it later" holds them


def next_reminder(request: DocumentRequest, *, now: dt.datetime | None = None) -> NextReminder:
    """When the next reminder will go, if nothing changes meanwhile."""
    if request.state != RequestState.OPEN:
        return NextReminder(None, "the request is closed")
    if not request.send_reminders:
        return NextReminder(None, "staff switched them off")
    if not _waits_for_client(request):
        return NextReminder(None, "no required item waits for the client")
    zone = business_zone()
    now = now or timezone.now()
    start, paused_until = now, None
    if request.reminders_paused_until and request.reminders_paused_until > now:
        start = paused_until = request.reminders_paused_until
    sent = set(RequestReminder.objects.filter(request=request).values_list("slot", flat=True))
    made_on = timezone.localtime(request.created_at, zone).date()
    received = _received_any(request)
    reminded_on = _reminded_on(request)
    first_hour = settings.INTAKE_REMINDER_HOURS[0]
    local_start = timezone.localtime(start, zone)
    for offset in range(LOOKAHEAD_DAYS):
        day = local_start.date() + dt.timedelta(days=offset)
        slots = due_slots(
            schedule_of(request),
            due_date=request.due_date,
            made_on=made_on,
            today=day,
            received_any=received,
            reminded_on=reminded_on,
        )
        if not [slot for slot in slots if slot not in sent]:
            continue
        when = dt.datetime.combine(day, dt.time(first_hour), zone)
        if offset == 0 and local_start > when:
            when = local_start
        if within_working_hours(when):
            return NextReminder(when, paused_until=paused_until)
    return NextReminder(None, "no reminder is scheduled", paused_until=paused_until)
