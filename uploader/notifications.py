"""Telling people that files arrived: a digest to a portal's notification targets, and a
receipt to a client who asks for one.

Digests are made by a periodic task rather than one e-mail per file: a client who
sends thirty scans makes one e-mail, not thirty. The work list is "stored portal
uploads not yet notified"; rows are locked with SKIP LOCKED while a digest is sent and
marked in the same transaction, so two workers never send the same files and a crash
before the commit sends them again (at least once, never silently lost).

E-mails are plain text: file names and client-given names are untrusted and are never
put into HTML.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from uploader.audit import audit_record
from uploader.models import Portal, Upload, UploadState

logger = logging.getLogger(__name__)

# One digest lists at most this many files; the rest go in the next run.
DIGEST_MAX_FILES = 200


@dataclass(frozen=True)
class DigestReport:
    portals: int = 0
    files: int = 0
    emails: int = 0


def _file_line(upload: Upload) -> str:
    who = ", ".join(part for part in (upload.uploader_name, upload.uploader_email) if part)
    size = filesizeformat(upload.stored_size or 0)
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
    Safe to run concurrently and repeatedly (each file is in one digest)."""
    now = timezone.now()
    with transaction.atomic():
        pending = list(
            Upload.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=UploadState.STORED, portal__isnull=False, notified_at__isnull=True)
            .select_related("portal")
            .order_by("stored_at")[:DIGEST_MAX_FILES]
        )
        if not pending:
            return DigestReport()
        by_portal: dict[int, list[Upload]] = defaultdict(list)
        for upload in pending:
            by_portal[upload.portal_id].append(upload)  # type: ignore[index]
        emails = 0
        for uploads in by_portal.values():
            portal = uploads[0].portal
            assert portal is not None
            if portal.notify_emails:
                # Sent inside the transaction: if sending fails, nothing is marked and
                # the next run tries again.
                _digest_message(portal, uploads).send()
                emails += 1
                audit_record(
                    action="portal.notified",
                    detail={"portal": portal.pk, "recipients": list(portal.notify_emails), "files": len(uploads)},
                )
        Upload.objects.filter(pk__in=[u.pk for u in pending]).update(notified_at=now)
    logger.info("notified %d file(s) of %d portal(s) in %d e-mail(s)", len(pending), len(by_portal), emails)
    return DigestReport(portals=len(by_portal), files=len(pending), emails=emails)


def portal_send_receipt(*, portal: Portal, visitor_id: str, email: str, name: str = "") -> int:
    """E-mail a client the list of files that arrived from their visit; returns how
    many were listed (0: nothing sent)."""
    uploads = list(
        Upload.objects.filter(portal=portal, portal_visitor=visitor_id, state=UploadState.STORED).order_by("stored_at")
    )
    if not uploads or not email:
        return 0
    greeting = f"Hello {_one_line(name)}," if name else "Hello,"
    body = "\n".join(
        [
            greeting,
            "",
            f"{portal.title or portal.name} received {len(uploads)} file{'s' if len(uploads) != 1 else ''} from you:",
            "",
            *(f"- {u.original_filename} ({filesizeformat(u.stored_size or 0)}), {timezone.localtime(u.stored_at):%Y-%m-%d %H:%M %Z}"
              for u in uploads if u.stored_at),
            "",
            "This is an automatic receipt; you do not need to answer it.",
        ]
    )
    EmailMessage(subject=f"Your files reached {_one_line(portal.title or portal.name)}", body=body, to=[email]).send()
    audit_record(action="portal.receipt_sent", detail={"portal": portal.pk, "to": email, "files": len(uploads)})
    return len(uploads)
