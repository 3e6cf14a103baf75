"""Telling staff and admins that a file was infected: one plain-text e-mail to the
portal's notification addresses (or the staff member who uploaded it) and every
admin with an address, once per file (audited `upload.infected_notified`). The file is
also marked notified, so the arrivals digest never lists it."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from uploader.access.roles import ROLE_GROUP_NAMES, Role
from uploader.audit.models import AuditEntry
from uploader.audit.services import audit_record
from uploader.uploads.models import Upload

logger = logging.getLogger(__name__)


def _admin_addresses() -> list[str]:
    admins = get_user_model().objects.filter(
        Q(is_superuser=True) | Q(groups__name=ROLE_GROUP_NAMES[Role.ADMIN]), is_active=True
    )
    return sorted({email for email in admins.values_list("email", flat=True) if email})


def _recipients(upload: Upload) -> list[str]:
    addresses = set(_admin_addresses())
    if upload.portal is not None:
        addresses.update(upload.portal.notify_emails)
    elif upload.owner is not None and upload.owner.email:
        addresses.add(upload.owner.email)
    return sorted(addresses)


def notify_infected(upload: Upload) -> int:
    """Send the warning once; returns how many addresses it went to (0: already sent,
    or nobody to tell). A mail server that cannot be reached raises, and the scan task
    retries; the warning is then sent by the retry."""
    with transaction.atomic():
        locked = Upload.objects.select_for_update(of=("self",)).select_related("portal", "owner").get(pk=upload.pk)
        if AuditEntry.objects.filter(upload_id=upload.pk, action="upload.infected_notified").exists():
            return 0
        recipients = _recipients(locked)
        if recipients:
            link = f"{settings.INTAKE_PUBLIC_BASE_URL}{reverse('dashboard:upload-detail', args=[locked.pk])}"
            where = f'the portal "{locked.portal.name}"' if locked.portal else "a staff upload"
            kept = (
                "It was moved to quarantine; only admins can read it." if locked.quarantine_key else "It was deleted."
            )
            body = "\n".join(
                [
                    f"A file that arrived through {where} holds malware and was refused:",
                    "",
                    f"- {locked.original_filename} ({locked.scan_detail or 'infected'})",
                    "",
                    kept,
                    f"See it in Intake: {link}",
                ]
            )
            try:
                EmailMessage(subject="A file was refused: malware found", body=body, to=recipients).send()
            except smtplib.SMTPRecipientsRefused:
                logger.warning("upload %s: every recipient of the malware warning was refused", locked.pk)
        Upload.objects.filter(pk=locked.pk, notified_at__isnull=True).update(notified_at=timezone.now())
        audit_record(action="upload.infected_notified", upload=locked, detail={"recipients": recipients})
    return len(recipients)
