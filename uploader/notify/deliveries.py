"""Webhook deliveries: one attempt at a delivery, recorded, and the deliveries whose
attempt is overdue. The HTTP side (which URLs, signing, the POST) is `webhook_http`."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from uploader.audit.services import audit_record
from uploader.notify import webhook_http as webhook_delivery
from uploader.notify.models import WebhookDelivery, WebhookDeliveryState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryOutcome:
    """`delivered`, `retry` (at `retry_at`), `gave_up`, or why nothing was tried:
    `missing`, `busy` (another worker has it), `not_due`, `done` (delivered or given up)."""

    outcome: str
    retry_at: dt.datetime | None = None


def _retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=settings.INTAKE_WEBHOOK_RETRY_SECONDS * 2 ** (attempts - 1))


def webhook_deliver(*, delivery_id: str) -> DeliveryOutcome:
    """Make one attempt at a pending, due delivery and record how it went. Idempotent:
    a delivered or given-up delivery, one not yet due, or one another worker holds
    (its row is locked for the attempt) is left alone."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True).filter(pk=delivery_id).first()
        )
        if delivery is None:
            exists = WebhookDelivery.objects.filter(pk=delivery_id).exists()
            return DeliveryOutcome("busy" if exists else "missing")
        if delivery.state != WebhookDeliveryState.PENDING:
            return DeliveryOutcome("done")
        # A little slack: the task's ETA and this clock may differ slightly.
        if delivery.next_attempt_at and delivery.next_attempt_at > now + dt.timedelta(seconds=2):
            return DeliveryOutcome("not_due", retry_at=delivery.next_attempt_at)
        body = delivery.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-Intake-Event": delivery.event,
            "X-Intake-Delivery": str(delivery.pk),
            "X-Intake-Signature": webhook_delivery.signature(body),
        }
        attempt = webhook_delivery.post(delivery.url, body, headers)
        delivery.attempts += 1
        delivery.last_status = attempt.status
        delivery.last_error = attempt.reason[:300]
        detail = {
            "portal": delivery.portal_id,
            "delivery": str(delivery.pk),
            "target": webhook_delivery.origin_of(delivery.url),
            "status": attempt.status,
            "attempts": delivery.attempts,
        }
        if attempt.ok:
            delivery.state = WebhookDeliveryState.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            delivery.save()
            audit_record(action="portal.webhook_delivered", detail=detail)
            return DeliveryOutcome("delivered")
        audit_record(action="portal.webhook_failed", detail={**detail, "reason": attempt.reason})
        logger.warning(
            "webhook delivery %s to %s failed (attempt %d): %s",
            delivery.pk, detail["target"], delivery.attempts, attempt.reason,
        )
        if attempt.permanent or delivery.attempts >= settings.INTAKE_WEBHOOK_MAX_ATTEMPTS:
            delivery.state = WebhookDeliveryState.GAVE_UP
            delivery.next_attempt_at = None
            delivery.save()
            audit_record(action="portal.webhook_gave_up", detail={**detail, "reason": attempt.reason})
            return DeliveryOutcome("gave_up")
        delivery.next_attempt_at = timezone.now() + _retry_delay(delivery.attempts)
        delivery.save()
        return DeliveryOutcome("retry", retry_at=delivery.next_attempt_at)


def webhook_deliveries_overdue(*, due_before: dt.datetime) -> list[str]:
    """Pending deliveries whose attempt should have happened before `due_before`: their
    task was lost (broker down at commit, worker gone); the beat task enqueues them."""
    return [
        str(pk)
        for pk in WebhookDelivery.objects.filter(
            state=WebhookDeliveryState.PENDING, next_attempt_at__lt=due_before
        ).values_list("pk", flat=True)[:500]
    ]
