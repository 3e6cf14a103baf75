"""What Intake knows about each file: one Upload row per object it signed for."""

import uuid

from django.conf import settings
from django.db import models


class UploadState(models.TextChoices):
    REGISTERED = "registered", "Registered"
    UPLOADING = "uploading", "Uploading"
    STORED = "stored", "Stored"
    REJECTED = "rejected", "Rejected"
    ABORTED = "aborted", "Aborted"


# The state machine: which states each state may move to. Services check every
# change against it, so a late or repeated call cannot move an upload backwards.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    UploadState.REGISTERED: frozenset({UploadState.UPLOADING, UploadState.STORED, UploadState.REJECTED, UploadState.ABORTED}),
    UploadState.UPLOADING: frozenset({UploadState.STORED, UploadState.REJECTED, UploadState.ABORTED}),
    UploadState.STORED: frozenset({UploadState.REJECTED}),
    UploadState.REJECTED: frozenset(),
    UploadState.ABORTED: frozenset(),
}


class Upload(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="uploads"
    )
    # Who the upload is for: "staff" now; a portal's slug once portals exist. It is
    # also the second segment of the object key.
    scope = models.CharField(max_length=64, default="staff")
    original_filename = models.CharField(max_length=255)
    # Made by the server (uploader.keys); the client never chooses it.
    key = models.CharField(max_length=1024, unique=True)
    # Null when the client did not declare it (a POST policy then caps the size).
    declared_size = models.BigIntegerField(null=True, blank=True)
    declared_content_type = models.CharField(max_length=255)
    is_multipart = models.BooleanField(default=False)
    multipart_upload_id = models.CharField(max_length=1024, blank=True, default="")
    state = models.CharField(max_length=16, choices=UploadState.choices, default=UploadState.REGISTERED)
    stored_size = models.BigIntegerField(null=True, blank=True)
    etag = models.CharField(max_length=128, blank=True, default="")
    rejection_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "state"]),
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["multipart_upload_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.state})"
