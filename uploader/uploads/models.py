"""What Intake knows about each file: one Upload row per object it signed for."""

import uuid

from django.conf import settings
from django.db import models

from uploader.portals.models import Portal


class UploadState(models.TextChoices):
    REGISTERED = "registered", "Registered"
    UPLOADING = "uploading", "Uploading"
    STORED = "stored", "Stored"
    REJECTED = "rejected", "Rejected"
    ABORTED = "aborted", "Aborted"
    DELETED = "deleted", "Deleted"


# The state machine: which states each state may move to. Services check every
# change against it, so a late or repeated call cannot move an upload backwards.
# A delete can overtake the create it follows (events arrive out of order), so
# registered and uploading uploads may also become deleted.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    UploadState.REGISTERED: frozenset(
        {UploadState.UPLOADING, UploadState.STORED, UploadState.REJECTED, UploadState.ABORTED, UploadState.DELETED}
    ),
    UploadState.UPLOADING: frozenset({UploadState.STORED, UploadState.REJECTED, UploadState.ABORTED, UploadState.DELETED}),
    UploadState.STORED: frozenset({UploadState.REJECTED, UploadState.DELETED}),
    UploadState.REJECTED: frozenset(),
    UploadState.ABORTED: frozenset(),
    UploadState.DELETED: frozenset(),
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
    # Made by the server (uploader.uploads.keys); the client never chooses it.
    key = models.CharField(max_length=1024, unique=True)
    # Null when the client did not declare it (a POST policy then caps the size).
    declared_size = models.BigIntegerField(null=True, blank=True)
    declared_content_type = models.CharField(max_length=255)
    is_multipart = models.BooleanField(default=False)
    multipart_upload_id = models.CharField(max_length=1024, blank=True, default="")
    # Multipart only: every part but the last is exactly this many bytes, and, when a
    # size was declared, each part URL signs its Content-Length. Null for single uploads
    # and for multipart uploads registered before part sizes were bound.
    part_size = models.BigIntegerField(null=True, blank=True)
    # The MD5 (hex) the browser computed for a single PUT. Its URL signs Content-MD5,
    # so S3 refuses other bytes; the stored ETag is compared with it again
    # (uploader.uploads.checksums). Empty when the client sent none, and for multipart
    # uploads, whose parts each carry their own signed Content-MD5.
    content_md5 = models.CharField(max_length=32, blank=True, default="")
    # While a processing run holds the upload (uploader.processing.services), until when: a
    # second run of the same upload waits instead of taking the first one's open
    # attempt for a crash. Expires on its own after a killed run.
    processing_lease_until = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=UploadState.choices, default=UploadState.REGISTERED)
    stored_size = models.BigIntegerField(null=True, blank=True)
    etag = models.CharField(max_length=128, blank=True, default="")
    rejection_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    stored_at = models.DateTimeField(null=True, blank=True)
    # When the portal's notification targets were told this file arrived (digest).
    notified_at = models.DateTimeField(null=True, blank=True)
    # The newest S3 event sequencer applied to this key; older events are stale.
    last_sequencer = models.CharField(max_length=64, blank=True, default="")
    # Portal uploads: which portal, who the visitor said they were, and the random
    # id of their browser session (what they may see and complete).
    portal = models.ForeignKey(Portal, null=True, blank=True, on_delete=models.PROTECT, related_name="uploads")
    portal_visitor = models.CharField(max_length=64, blank=True, default="")
    uploader_name = models.CharField(max_length=200, blank=True, default="")
    uploader_email = models.EmailField(max_length=254, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "state"]),
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["multipart_upload_id"]),
            # The notifier's work list stays small however many files are kept.
            models.Index(
                fields=["portal"],
                condition=models.Q(notified_at__isnull=True, state="stored", portal__isnull=False),
                name="upload_portal_unnotified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.state})"
