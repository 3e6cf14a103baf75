"""Webhook deliveries: one notification to one target, with its attempts."""

import uuid

from django.db import models

from uploader.portals.models import Portal


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    GAVE_UP = "gave_up", "Given up"


class WebhookDelivery(models.Model):
    """One signed JSON document for one webhook URL of a portal (uploader.notify.webhook_http).

    Made in the digest's transaction, together with the files' `notified_at`, so a
    file's webhook notification is never lost: the row exists exactly when the files
    count as notified. Its id is the `X-Intake-Delivery` header; the body is kept as
    sent, so a retry sends the same bytes and signature and receivers can drop repeats.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="webhook_deliveries")
    url = models.CharField(max_length=2048)
    event = models.CharField(max_length=64)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=WebhookDeliveryState.choices, default=WebhookDeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The last attempt's HTTP status (null: no answer) and why it failed, in a few words.
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    # When a pending delivery is due (its next attempt).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} to portal {self.portal_id} ({self.state})"
