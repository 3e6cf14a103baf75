"""The webhook delivery task, and the one place that enqueues it. Apart from the
other notify tasks because the digest services enqueue it, and the digest task
calls those services: one module for both would import itself in a circle.

The task's name stays `uploader.tasks.deliver_portal_webhook` (where it was first
defined) so deliveries already queued keep working across deploys.
"""

from celery import shared_task

from config.request_context import acting_as_system
from uploader.notify import deliveries


@shared_task(name="uploader.tasks.deliver_portal_webhook", acks_late=True)
def deliver_portal_webhook(delivery_id: str) -> str:
    """One attempt at a portal webhook delivery (made by the digest run). Takes the
    delivery's id; a delivered, given-up or not-yet-due delivery is left alone, so a
    repeat is harmless. After a failure the next attempt is scheduled here, at the
    time the delivery records (backoff doubling from INTAKE_WEBHOOK_RETRY_SECONDS)."""
    with acting_as_system("notifier"):
        result = deliveries.webhook_deliver(delivery_id=delivery_id)
    if result.outcome == "retry" and result.retry_at is not None:
        deliver_portal_webhook.apply_async(args=[delivery_id], eta=result.retry_at)
    return result.outcome


def deliveries_enqueue(delivery_ids: list[str]) -> None:
    """One task per delivery (call after the commit that saved them)."""
    for delivery_id in delivery_ids:
        deliver_portal_webhook.delay(delivery_id)
