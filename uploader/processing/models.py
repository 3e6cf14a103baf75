"""What processing made from a stored file (kept in S3 under derived/)."""

from django.db import models

from uploader.uploads.models import Upload


class DerivativeKind(models.TextChoices):
    THUMBNAIL = "thumbnail", "Thumbnail"
    TEXT = "text", "Extracted text"


class Derivative(models.Model):
    """A file Intake made from an upload (a thumbnail, a document's text).

    It lives at `derived/<upload id>/<kind>.<ext>`, outside the uploads prefix, so
    bucket events and reconciliation never take it for a client's file. A row exists
    only once its object was written; one per upload and kind, so a repeated task
    makes nothing twice.
    """

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="derivatives")
    kind = models.CharField(max_length=16, choices=DerivativeKind.choices)
    key = models.CharField(max_length=1024, unique=True)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=255)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["upload", "kind"]
        constraints = [models.UniqueConstraint(fields=["upload", "kind"], name="derivative_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.upload_id}"
