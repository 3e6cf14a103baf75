"""A bundle: one zip of a portal's or a request's usable files, built by the worker
straight from S3 to S3 and kept for a while under INTAKE_BUNDLE_PREFIX."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from uploader.portals.models import Portal
from uploader.requests.models import DocumentRequest


class BundleState(models.TextChoices):
    QUEUED = "queued", "Waiting for the worker"
    BUILDING = "building", "Being made"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Bundle(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Exactly one of the two: whose files these are (and whose page it is shown from).
    portal = models.ForeignKey(Portal, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    document_request = models.ForeignKey(
        DocumentRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The files chosen when it was asked for (ids of stored files the scan lets us use),
    # and how many of the portal's or request's stored files were left out (held by the scan).
    upload_ids = models.JSONField(default=list)
    left_out = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=BundleState.choices, default=BundleState.QUEUED)
    files_total = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    key = models.CharField(max_length=512, blank=True, default="")
    # The multipart upload being written: a retry after a crash aborts it first.
    multipart_upload_id = models.CharField(max_length=256, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"], name="bundle_expires")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in {BundleState.READY, BundleState.FAILED}

    @property
    def percent(self) -> int:
        if self.state == BundleState.READY:
            return 100
        if not self.bytes_total:
            return 0
        return min(99, int(self.bytes_done * 100 / self.bytes_total))
