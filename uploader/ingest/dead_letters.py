"""Dead letters and stuck ledger rows: what the events page shows admins, and its repairs.

SQS moves a message the consumer failed `INTAKE_SQS_MAX_RECEIVES` times to the event
queue's dead-letter queue (`setup_bucket --create-queue` sets that up). Here an admin
can look at those messages, send one (or all) back to the event queue, or discard
one; and retry ledger rows that stayed pending (their task was lost or kept failing).

Looking cannot be done without receiving: SQS has no "peek". The listing receives
with a short visibility timeout and releases every message at once afterwards
(visibility 0), so nothing is consumed; it does add one to each receive count. A
replay or discard receives again to find the message by id (receipt handles never
reach the page) and only deletes it from the dead-letter queue after the send to the
event queue succeeded: a failure in between leaves a copy in both, which the ledger
makes harmless. Every replay, discard and retry is audited.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from uploader import s3
from uploader.access.roles import Permission, require_permission
from uploader.audit.services import audit_record
from uploader.ingest.events import parse_s3_message
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.ingest.tasks import events_apply_enqueue

logger = logging.getLogger(__name__)

PREVIEW_CHARS = 600
KEY_CHARS = 300
LIST_LIMIT = 100
REPLAY_ALL_LIMIT = 1000
STUCK_LIMIT = 200
# How long a listed (or about to be replayed) message stays hidden from other readers
# if releasing it fails; normally it is released at once.
HOLD_SECONDS = 30


class DeadLettersUnavailable(Exception):
    """The queues are not configured or cannot be reached; the message says which, for people."""


@dataclass(frozen=True)
class MessageSummary:
    """What a message is about: its events (bucket, key, event name) or why it has none."""

    events: tuple[tuple[str, str, str], ...] = ()
    reasons: tuple[str, ...] = ()
    is_test_event: bool = False

    @property
    def keys(self) -> list[str]:
        return [key for _, key, _ in self.events]


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receive_count: int
    sent_at: dt.datetime | None
    first_received_at: dt.datetime | None
    size: int
    summary: MessageSummary
    preview: str
    preview_truncated: bool


@dataclass(frozen=True)
class DeadLetterListing:
    queue_url: str
    dead_letter_url: str
    messages: list[DeadLetter]
    more: bool  # the listing stopped at LIST_LIMIT


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    kept_in_dlq: list[str] = field(default_factory=list)  # sent, but the delete failed
    error: str = ""


# --- Reading a message (no side effects) -------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def message_summarize(body: str) -> MessageSummary:
    """The events a body carries as the consumer would read them, or the reasons it
    would drop it. Never raises, whatever the body."""
    try:
        parsed = parse_s3_message(body)
    except RecursionError:  # json's decoder on a deeply nested body
        return MessageSummary(reasons=("message is nested too deeply to read",))
    return MessageSummary(
        events=tuple(
            (_clip(e.bucket, KEY_CHARS), _clip(e.key, KEY_CHARS), _clip(e.event_name, 80)) for e in parsed.events
        ),
        reasons=tuple(_clip(reason, KEY_CHARS) for reason in parsed.skipped),
        is_test_event=parsed.is_test_event,
    )


def body_preview(body: str, *, limit: int = PREVIEW_CHARS) -> tuple[str, bool]:
    """The first `limit` characters, control characters shown as escapes; and
    whether it was cut. (The template escapes HTML.)"""
    head = body[:limit]
    shown = "".join(c if c.isprintable() or c in "\n\t" else c.encode("unicode_escape").decode("ascii") for c in head)
    return shown, len(body) > limit


def _when(milliseconds: int | None) -> dt.datetime | None:
    if milliseconds is None:
        return None
    return dt.datetime.fromtimestamp(milliseconds / 1000, tz=dt.UTC)


def _dead_letter(message: s3.ReceivedMessage) -> DeadLetter:
    preview, truncated = body_preview(message.body)
    return DeadLetter(
        message_id=message.message_id,
        receive_count=message.receive_count,
        sent_at=_when(message.sent_at_ms),
        first_received_at=_when(message.first_received_at_ms),
        size=len(message.body.encode("utf-8", "replace")),
        summary=message_summarize(message.body),
        preview=preview,
        preview_truncated=truncated,
    )


# --- The queues ----------------------------------------------------------------------------


def event_queues() -> tuple[str, str]:
    """(event queue URL, dead-letter queue URL): INTAKE_S3_EVENTS_DLQ_URL, or the
    queue named in the event queue's RedrivePolicy."""
    queue_url = settings.INTAKE_S3_EVENTS_QUEUE_URL
    if not queue_url:
        raise DeadLettersUnavailable("No SQS event queue is configured (INTAKE_S3_EVENTS_QUEUE_URL is empty).")
    try:
        if settings.INTAKE_S3_EVENTS_DLQ_URL:
            return queue_url, settings.INTAKE_S3_EVENTS_DLQ_URL
        policy = s3.queue_redrive_policy(queue_url)
        if policy is None:
            raise DeadLettersUnavailable(
                "The event queue has no dead-letter queue (no RedrivePolicy); run setup_bucket --create-queue "
                "or set INTAKE_S3_EVENTS_DLQ_URL."
            )
        return queue_url, s3.queue_url_from_arn(policy["deadLetterTargetArn"])
    except s3.StorageError as exc:
        raise DeadLettersUnavailable(f"SQS cannot be reached or refused the request ({exc}).") from exc


def _gather(dlq_url: str, *, limit: int) -> list[s3.ReceivedMessage]:
    """Receive (and hide for HOLD_SECONDS) up to `limit` distinct messages; the
    caller releases or deletes each."""
    seen: dict[str, s3.ReceivedMessage] = {}
    empty_answers = 0
    for _ in range(limit // 10 + 3):
        # A 1-second long poll asks every SQS server; a short poll may miss messages.
        batch = s3.queue_receive(
            dlq_url, visibility_seconds=HOLD_SECONDS, max_messages=min(10, limit - len(seen)), wait_seconds=1
        )
        if not batch:
            empty_answers += 1
            if empty_answers >= 2:
                break
            continue
        for message in batch:
            # The newest receipt handle is the one a delete or release must use.
            seen[message.message_id] = message
        if len(seen) >= limit:
            break
    return list(seen.values())


def _release(dlq_url: str, messages: list[s3.ReceivedMessage]) -> None:
    if not messages:
        return
    try:
        s3.queue_release(dlq_url, [m.receipt_handle for m in messages])
    except s3.StorageError as exc:
        # They come back by themselves after HOLD_SECONDS.
        logger.warning("dead letters not released (%s); visible again in %s s", exc, HOLD_SECONDS)


def dead_letters_list(*, actor: Any) -> DeadLetterListing:
    """Up to LIST_LIMIT messages of the dead-letter queue, oldest receive first,
    left in the queue. Raises DeadLettersUnavailable with a message for the page."""
    require_permission(actor, Permission.MANAGE_EVENTS)
    queue_url, dlq_url = event_queues()
    try:
        messages = _gather(dlq_url, limit=LIST_LIMIT + 1)
    except s3.StorageError as exc:
        raise DeadLettersUnavailable(f"The dead-letter queue cannot be read ({exc}).") from exc
    _release(dlq_url, messages)
    letters = sorted(
        (_dead_letter(m) for m in messages), key=lambda d: d.sent_at or dt.datetime.max.replace(tzinfo=dt.UTC)
    )
    return DeadLetterListing(
        queue_url=queue_url, dead_letter_url=dlq_url, messages=letters[:LIST_LIMIT], more=len(letters) > LIST_LIMIT
    )


# --- Replay and discard ----------------------------------------------------------------------


def _audit(action: str, actor: Any, message: s3.ReceivedMessage, **extra: Any) -> None:
    summary = message_summarize(message.body)
    keys = summary.keys
    audit_record(
        action=action,
        user=actor,
        detail={"message_id": message.message_id, "key": keys[0] if keys else "", "keys": keys[:20], **extra},
    )


def _replay(queue_url: str, dlq_url: str, message: s3.ReceivedMessage, actor: Any, report: ReplayReport) -> None:
    new_id = s3.queue_send(queue_url, message.body)  # raises: nothing deleted
    try:
        s3.queue_delete(dlq_url, message.receipt_handle)
        removed = True
    except s3.StorageError as exc:
        logger.warning("dead letter %s replayed but not deleted: %s", message.message_id, exc)
        removed = False
    _audit("events.dlq_replayed", actor, message, new_message_id=new_id, removed_from_dlq=removed)
    (report.replayed if removed else report.kept_in_dlq).append(message.message_id)


def dead_letters_replay(*, actor: Any, message_ids: list[str] | None) -> ReplayReport:
    """Send the named messages (None: all, up to REPLAY_ALL_LIMIT) back to the event
    queue, deleting each from the dead-letter queue only after its send succeeded."""
    require_permission(actor, Permission.MANAGE_EVENTS)
    queue_url, dlq_url = event_queues()
    report = ReplayReport()
    wanted = set(message_ids) if message_ids is not None else None
    try:
        gathered = _gather(dlq_url, limit=REPLAY_ALL_LIMIT)
    except s3.StorageError as exc:
        raise DeadLettersUnavailable(f"The dead-letter queue cannot be read ({exc}).") from exc
    chosen = [m for m in gathered if wanted is None or m.message_id in wanted]
    untouched = [m for m in gathered if m not in chosen]
    for index, message in enumerate(chosen):
        try:
            _replay(queue_url, dlq_url, message, actor, report)
        except s3.StorageError as exc:
            report.error = f"Stopped: the event queue refused or could not be reached ({exc}). The rest stay in the dead-letter queue."
            untouched.extend(chosen[index:])
            break
    _release(dlq_url, untouched)
    if wanted is not None:
        found = {m.message_id for m in chosen}
        report.not_found = sorted(wanted - found)
    return report


def dead_letter_discard(*, actor: Any, message_id: str, confirmed: bool) -> bool:
    """Delete one message from the dead-letter queue for good. False if it was not
    there (already replayed or discarded, or held by another reader)."""
    require_permission(actor, Permission.MANAGE_EVENTS)
    if not confirmed:
        raise ValidationError("Tick the confirmation: a discarded message cannot be brought back.")
    _, dlq_url = event_queues()
    try:
        gathered = _gather(dlq_url, limit=REPLAY_ALL_LIMIT)
    except s3.StorageError as exc:
        raise DeadLettersUnavailable(f"The dead-letter queue cannot be read ({exc}).") from exc
    target = next((m for m in gathered if m.message_id == message_id), None)
    _release(dlq_url, [m for m in gathered if m is not target])
    if target is None:
        return False
    try:
        s3.queue_delete(dlq_url, target.receipt_handle)
    except s3.StorageError as exc:
        _release(dlq_url, [target])
        raise DeadLettersUnavailable(f"The message could not be deleted ({exc}); it is still there.") from exc
    _audit("events.dlq_discarded", actor, target, receive_count=target.receive_count)
    return True


# --- Stuck ledger rows -------------------------------------------------------------------------


def _stuck(now: dt.datetime | None = None) -> QuerySet[UploadEvent]:
    cutoff = (now or timezone.now()) - dt.timedelta(minutes=settings.INTAKE_EVENTS_STUCK_MINUTES)
    return UploadEvent.objects.filter(outcome=EventOutcome.PENDING, received_at__lt=cutoff)


def stuck_events_list(*, actor: Any, now: dt.datetime | None = None) -> list[UploadEvent]:
    """Ledger rows still pending INTAKE_EVENTS_STUCK_MINUTES after they arrived, oldest first.
    (The ledger has no "failed" outcome: a row whose task failed for good stays pending.)"""
    require_permission(actor, Permission.MANAGE_EVENTS)
    return list(_stuck(now).order_by("received_at", "pk")[:STUCK_LIMIT])


def stuck_events_retry(*, actor: Any, event_ids: list[int] | None) -> list[int]:
    """Enqueue `apply_object_events` again for the named stuck rows (None: all shown).
    Applying is idempotent, so a row that is applied meanwhile is left as it is."""
    require_permission(actor, Permission.MANAGE_EVENTS)
    rows = _stuck()
    if event_ids is not None:
        rows = rows.filter(pk__in=event_ids)
    found = list(rows.order_by("received_at", "pk").values_list("pk", "key")[:STUCK_LIMIT])
    ids = [pk for pk, _ in found]
    if not ids:
        return []
    try:
        events_apply_enqueue(ids)
    except OperationalError as exc:
        raise DeadLettersUnavailable("The task queue (broker) cannot be reached; nothing was retried.") from exc
    audit_record(
        action="events.ledger_retried", user=actor, detail={"event_ids": ids, "keys": [k for _, k in found][:20]}
    )
    return ids
