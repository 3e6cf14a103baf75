"""The event ledger's rows: one per S3 object event, unique on what makes it a duplicate."""

from django.db import models

from uploader.uploads.models import Upload


class EventSource(models.TextChoices):
    SQS = "sqs", "SQS"
    SNS = "sns", "SNS"
    WEBHOOK = "webhook", "Webhook"
    RECONCILE = "reconcile", "Reconciliation"


class EventOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    STALE = "stale", "Stale (a newer event was applied)"
    IGNORED = "ignored", "Ignored"


class UploadEvent(models.Model):
    """The ledger: one row per distinct S3 object event, however often it is delivered.

    `dedupe_key` is what makes two deliveries the same event (bucket, key, kind and
    sequencer, or ETag and version where a server sends no sequencer); its unique
    constraint is what keeps every effect to one.
    """

    source = models.CharField(max_length=16, choices=EventSource.choices)
    dedupe_key = models.CharField(max_length=64, unique=True)
    bucket = models.CharField(max_length=255)
    key = models.CharField(max_length=1024)
    kind = models.CharField(max_length=16)
    event_name = models.CharField(max_length=128)
    sequencer = models.CharField(max_length=64, blank=True, default="")
    etag = models.CharField(max_length=128, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    event_time = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict)
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=EventOutcome.choices, default=EventOutcome.PENDING)
    detail = models.CharField(max_length=255, blank=True, default="")
    # Which ingestion inserted the row: with conflicts ignored in a bulk insert, it is
    # how a delivery tells its own new rows from those a concurrent one inserted.
    ingest_batch = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["key"]), models.Index(fields=["outcome", "received_at"])]

    def __str__(self) -> str:
        return f"{self.event_name} {self.key} ({self.outcome})"
