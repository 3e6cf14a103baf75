"""Telling people that files arrived: a digest to a portal's notification targets, and a
receipt to a client who asks for one.

Digests are made by a periodic task rather than one e-mail per file: a client who
sends thirty scans makes one e-mail, not thirty. The work list is "stored portal
uploads not yet notified"; rows are locked with SKIP LOCKED while a digest is sent and
marked in the same transaction, so two workers never send the same files and a crash
before the commit sends them again (at least once, never silently lost).

E-mails are plain text: file names and client-given names are untrusted and are never
put into HTML.

Webhooks: the same run makes one signed JSON document per portal for each of its
webhook URLs, as a `WebhookDelivery` row saved in the digest's transaction (so the
files are marked notified exactly when their webhook deliveries exist). The POSTs are
made after the commit by `delivery_tasks.deliver_portal_webhook`, one delivery per task, so a
slow or failing receiver never holds up the e-mail digest; failures are retried with
backoff and audited (`portal.webhook_delivered`, `portal.webhook_failed`,
`portal.webhook_gave_up`). An e-mail digest that cannot be sent rolls the run back,
webhook deliveries included: they are made again by the next run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from uploader.access.roles import Permission, require_permission
from uploader.audit.services import audit_record
from uploader.notify import delivery_tasks
from uploader.notify import webhook_http as webhook_delivery
from uploader.notify.models import WebhookDelivery, WebhookDeliveryState
from uploader.portals.identity import client_title
from uploader.portals.models import Portal
from uploader.portals.selectors import webhook_target_shown
from uploader.uploads.models import SCAN_USABLE, ScanState, Upload, UploadState
from uploader.uploads.sizes import format_bytes

logger = logging.getLogger(__name__)

# One digest lists at most this many files; the rest go in the next run.
DIGEST_MAX_FILES = 200
# Portals handled per run; the rest wait for the next run.
DIGEST_MAX_PORTALS = 100


@dataclass(frozen=True)
class DigestReport:
    portals: int = 0
    files: int = 0
    emails: int = 0
    webhooks: int = 0

    def plus(self, other: DigestReport) -> DigestReport:
        return DigestReport(
            portals=self.portals + other.portals,
            files=self.files + other.files,
            emails=self.emails + other.emails,
            webhooks=self.webhooks + other.webhooks,
        )


def _file_line(upload: Upload) -> str:
    who = ", ".join(part for part in (upload.uploader_name, upload.uploader_email) if part)
    size = format_bytes(upload.stored_size or 0)
    return f"- {upload.original_filename} ({size})" + (f" from {who}" if who else "")


def _one_line(text: str) -> str:
    """Client-given text in a header: no line breaks (header injection), bounded."""
    return " ".join(text.split())[:120]


def _digest_message(portal: Portal, uploads: list[Upload]) -> EmailMessage:
    count = len(uploads)
    link = f"{settings.INTAKE_PUBLIC_BASE_URL}{reverse('dashboard:portal-detail', args=[portal.pk])}"
    body = "\n".join(
        [
            f"{count} new file{'s' if count != 1 else ''} arrived through the portal \"{portal.name}\":",
            "",
            *(_file_line(u) for u in uploads),
            "",
            f"See them in Intake: {link}",
        ]
    )
    subject = f"{count} new file{'s' if count != 1 else ''} from {_one_line(portal.name)}"
    return EmailMessage(subject=subject, body=body, to=list(portal.notify_emails))


def portal_notify_pending() -> DigestReport:
    """Send one digest per portal for its newly stored files, and mark them notified.
    Safe to run concurrently and repeatedly (each file is in one digest).

    Each portal has its own transaction: one portal's refused address cannot hold up
    (or re-send) the others. A mail server that cannot be reached stops the run (the
    task retries); an address the server refuses for good is audited and given up."""
    portal_ids = list(
        Upload.objects.filter(state=UploadState.STORED, portal__isnull=False, notified_at__isnull=True)
        .filter(scan_state__in=SCAN_USABLE)  # a file is announced once its scan releases it
        .values_list("portal_id", flat=True)
        .distinct()[:DIGEST_MAX_PORTALS]
    )
    report = DigestReport()
    for portal_id in portal_ids:
        report = report.plus(_notify_portal(portal_id))
    if report.files:
        logger.info(
            "notified %d file(s) of %d portal(s) in %d e-mail(s) and %d webhook delivery(ies)",
            report.files, report.portals, report.emails, report.webhooks,
        )
    return report


def _notify_portal(portal_id: int) -> DigestReport:
    now = timezone.now()
    with transaction.atomic():
        uploads = list(
            Upload.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(portal_id=portal_id, state=UploadState.STORED, notified_at__isnull=True)
            .filter(scan_state__in=SCAN_USABLE)
            .select_related("portal")
            .order_by("stored_at")[:DIGEST_MAX_FILES]
        )
        if not uploads:
            return DigestReport()  # another worker has them
        portal = uploads[0].portal
        assert portal is not None
        emails = 1 if portal.notify_emails and _send_digest(portal, uploads) else 0
        deliveries = _webhook_deliveries(portal, uploads, now=now)
        WebhookDelivery.objects.bulk_create(deliveries)
        Upload.objects.filter(pk__in=[u.pk for u in uploads]).update(notified_at=now)
        if deliveries:
            delivery_ids = [str(delivery.pk) for delivery in deliveries]
            transaction.on_commit(lambda: delivery_tasks.deliveries_enqueue(delivery_ids), robust=True)
    return DigestReport(portals=1, files=len(uploads), emails=emails, webhooks=len(deliveries))


def _send_digest(portal: Portal, uploads: list[Upload]) -> bool:
    """Send inside the portal's transaction: if the server cannot be reached, nothing
    is marked and the next run tries again. A permanent refusal (5xx: unknown
    recipients, a sender it will not relay for) would fail forever: it is audited and
    the files count as notified."""
    try:
        _digest_message(portal, uploads).send()
    except smtplib.SMTPRecipientsRefused as exc:
        reason = f"every recipient was refused ({len(exc.recipients)})"
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        if exc.smtp_code < 500:
            raise  # temporary: try again on the next run
        reason = f"the mail server refused the message ({exc.smtp_code})"
    else:
        audit_record(
            action="portal.notified",
            detail={"portal": portal.pk, "recipients": list(portal.notify_emails), "files": len(uploads)},
        )
        return True
    logger.warning("portal %s: digest not sent: %s", portal.pk, reason)
    audit_record(
        action="portal.notify_failed",
        detail={"portal": portal.pk, "recipients": list(portal.notify_emails), "files": len(uploads), "reason": reason},
    )
    return False


# --- webhooks ------------------------------------------------------------------------


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else None


def webhook_document(portal: Portal, uploads: list[Upload], *, sent_at: dt.datetime) -> bytes:
    """The `portal.files_arrived` JSON document (docs/architecture.md, Notifications)."""
    document = {
        "event": webhook_delivery.EVENT_FILES_ARRIVED,
        "portal": {"id": portal.pk, "name": portal.name, "slug": portal.slug},
        "files": [
            {
                "id": str(upload.pk),
                "filename": upload.original_filename,
                "size": upload.stored_size,
                "contentType": upload.declared_content_type,
                "uploaderName": upload.uploader_name,
                "uploaderEmail": upload.uploader_email,
                "storedAt": _iso(upload.stored_at),
            }
            for upload in uploads
        ],
        "sentAt": _iso(sent_at),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _webhook_deliveries(portal: Portal, uploads: list[Upload], *, now: dt.datetime) -> list[WebhookDelivery]:
    if not portal.notify_webhooks:
        return []
    body = webhook_document(portal, uploads, sent_at=now).decode("utf-8")
    return [
        WebhookDelivery(
            portal=portal, url=url, event=webhook_delivery.EVENT_FILES_ARRIVED, body=body, next_attempt_at=now
        )
        for url in portal.notify_webhooks
    ]


@dataclass(frozen=True)
class RetryResult:
    """What `webhook_delivery_retry` did: `queued` (sent again on commit), or nothing,
    because the delivery is `state` (pending: still being tried; delivered) or its
    address was withdrawn."""

    queued: bool
    state: str
    target: str
    # Not sent because the address is no longer one of the portal's webhooks, or the
    # portal is switched off.
    withdrawn: bool = False


def webhook_delivery_may_retry(delivery: WebhookDelivery, portal: Portal) -> bool:
    """A given-up delivery may be sent again only to an address its portal still
    names, while the portal is on."""
    return (
        delivery.state == WebhookDeliveryState.GAVE_UP
        and portal.is_active
        and delivery.url in (portal.notify_webhooks or [])
    )


def webhook_delivery_retry(*, actor: Any, delivery_id: str, portal_id: int | None = None) -> RetryResult:
    """Send a given-up delivery again: back to pending with its attempts reset, due now,
    and a delivery task enqueued on commit. It keeps its id, body and so signature, so a
    receiver that did get it after all can drop the repeat.

    Only a given-up delivery is touched; any other state is answered, not changed, so a
    double click sends once (the row is locked, the second call sees it pending).
    `portal_id` scopes the lookup (the staff page of one portal): a delivery of another
    portal is WebhookDelivery.DoesNotExist, like a missing one. None as actor is the
    command line (a system actor)."""
    if actor is not None:
        require_permission(actor, Permission.MANAGE_PORTALS)
    with transaction.atomic():
        deliveries = WebhookDelivery.objects.select_for_update().defer("body")
        if portal_id is not None:
            deliveries = deliveries.filter(portal_id=portal_id)
        delivery = deliveries.select_related("portal").get(pk=delivery_id)
        target = webhook_target_shown(delivery.url)
        if delivery.state != WebhookDeliveryState.GAVE_UP:
            return RetryResult(queued=False, state=delivery.state, target=target)
        if not webhook_delivery_may_retry(delivery, delivery.portal):
            # The address was removed (perhaps because it was wrong: another company's
            # server) or the portal is switched off: its clients' names and files are
            # not sent anywhere on a click.
            return RetryResult(queued=False, state=delivery.state, target=target, withdrawn=True)
        before = {"attempts": delivery.attempts, "status": delivery.last_status, "reason": delivery.last_error}
        delivery.state = WebhookDeliveryState.PENDING
        delivery.attempts = 0
        # The earlier failure stays in the audit trail (portal.webhook_failed/gave_up);
        # on the row it would contradict "0 attempts".
        delivery.last_status = None
        delivery.last_error = ""
        delivery.next_attempt_at = timezone.now()
        delivery.save(update_fields=["state", "attempts", "last_status", "last_error", "next_attempt_at"])
        audit_record(
            action="portal.webhook_retried",
            user=actor,
            # The origin only, as everywhere in the trail: a path or query often holds
            # the receiver's secret, and audit entries can never be scrubbed.
            detail={
                "portal": delivery.portal_id,
                "delivery": str(delivery.pk),
                "url": webhook_delivery.origin_of(delivery.url),
                "before": before,
            },
        )
        ids = [str(delivery.pk)]
        transaction.on_commit(lambda: delivery_tasks.deliveries_enqueue(ids), robust=True)
    logger.info("webhook delivery %s to %s queued again", delivery.pk, webhook_delivery.origin_of(delivery.url))
    return RetryResult(queued=True, state=WebhookDeliveryState.PENDING, target=target)


def portal_send_receipt(*, portal: Portal, visitor_id: str, email: str, name: str = "") -> int:
    """E-mail a client the list of files that arrived from their visit; returns how
    many were listed (0: nothing sent)."""
    uploads = list(
        Upload.objects.filter(portal=portal, portal_visitor=visitor_id, state=UploadState.STORED)
        .exclude(scan_state=ScanState.INFECTED)  # refused: the client's page says so
        .order_by("stored_at")
    )
    if not uploads or not email:
        return 0
    greeting = f"Hello {_one_line(name)}," if name else "Hello,"
    # The client knows the business, not the portal's internal name.
    recipient = _one_line(settings.INTAKE_BUSINESS_NAME or client_title(portal))
    body = "\n".join(
        [
            greeting,
            "",
            f"{recipient} received {len(uploads)} file{'s' if len(uploads) != 1 else ''} from you:",
            "",
            *(f"- {u.original_filename} ({format_bytes(u.stored_size or 0)}), {timezone.localtime(u.stored_at):%Y-%m-%d %H:%M %Z}"
              for u in uploads if u.stored_at),
            "",
            "This is an automatic receipt; you do not need to answer it.",
        ]
    )
    EmailMessage(subject=f"Your files reached {recipient}", body=body, to=[email]).send()
    audit_record(action="portal.receipt_sent", detail={"portal": portal.pk, "to": email, "files": len(uploads)})
    return len(uploads)
