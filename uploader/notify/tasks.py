"""Celery tasks that tell people, and the one place that enqueues them.

Tasks take ids, reload, call one service; idempotent, so acks_late is safe. Their
names stay `uploader.tasks.<name>` (where they were first defined) so messages
already queued and beat's schedule keep working across deploys.
"""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from config.request_context import acting_as_system
from uploader.notify import deliveries
from uploader.notify import services as notifications
from uploader.notify.delivery_tasks import deliver_portal_webhook
from uploader.portals.models import Portal
from uploader.uploads.models import Upload


@shared_task(name="uploader.tasks.notify_portal_uploads", acks_late=True, autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def notify_portal_uploads() -> dict[str, int]:
    """Celery beat runs this every INTAKE_NOTIFY_INTERVAL_SECONDS: one digest e-mail
    per portal for the files stored since the last run. A mail server that cannot be
    reached (OSError) is retried; nothing is marked sent until it was."""
    with acting_as_system("notifier"):
        report = notifications.portal_notify_pending()
    return {"portals": report.portals, "files": report.files, "emails": report.emails}


@shared_task(name="uploader.tasks.send_portal_receipt", acks_late=True, autoretry_for=(OSError,), retry_backoff=30, retry_jitter=True, max_retries=5)
def send_portal_receipt(portal_id: int, visitor_id: str) -> int:
    """The receipt a client asked for on the confirmation page. Takes ids; reads the
    address the visitor gave from their uploads, never from the task's arguments."""
    portal = Portal.objects.get(pk=portal_id)
    latest = (
        Upload.objects.filter(portal=portal, portal_visitor=visitor_id).exclude(uploader_email="").order_by("-created_at").first()
    )
    if latest is None:
        return 0
    with acting_as_system("notifier"):
        return notifications.portal_send_receipt(
            portal=portal, visitor_id=visitor_id, email=latest.uploader_email, name=latest.uploader_name
        )


@shared_task(name="uploader.tasks.retry_overdue_portal_webhooks", acks_late=True)
def retry_overdue_portal_webhooks() -> int:
    """Celery beat: enqueue deliveries whose attempt is over 5 minutes late (their
    task was lost); `deliver_portal_webhook` ignores a delivery already done."""
    overdue = deliveries.webhook_deliveries_overdue(due_before=timezone.now() - dt.timedelta(minutes=5))
    for delivery_id in overdue:
        deliver_portal_webhook.delay(delivery_id)
    return len(overdue)
