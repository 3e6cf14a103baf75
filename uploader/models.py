"""What Intake knows about each file: one Upload row per object it signed for."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


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


class ProcessingOption(models.TextChoices):
    """What Intake may make from a portal's files once they are stored (uploader.processing)."""

    THUMBNAILS = "thumbnails", "Thumbnails of images"
    DOCUMENT_TEXT = "document_text", "Text and page count of PDF documents"


def validate_processing_options(value: object) -> None:
    """A portal's `processing`: a list of distinct ProcessingOption values."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Processing options must be a list of option names.")
    unknown = [item for item in value if item not in ProcessingOption.values]
    if unknown:
        raise ValidationError(
            f"Unknown processing option(s): {', '.join(item[:40] for item in unknown)}; "
            f"choose from {', '.join(ProcessingOption.values)}."
        )
    if len(set(value)) != len(value):
        raise ValidationError("A processing option is named twice.")


class Portal(models.Model):
    """A link staff send to clients so they can upload without an account.

    The link's token is never stored: only a random nonce (the token is an HMAC of
    it under a server key, so staff can be shown the link again) and the token's
    SHA-256 digest, which is what a visit is looked up by (ADR 0006). Rotating the
    link replaces both, so the old link stops working at once.
    """

    name = models.CharField(max_length=120)
    # The object key segment of this portal's uploads (`uploads/<slug>/…`); fixed at
    # creation so a portal's files stay under one prefix.
    slug = models.SlugField(max_length=50, unique=True)
    token_nonce = models.CharField(max_length=64, editable=False)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    link_rotated_at = models.DateTimeField(null=True, blank=True)
    # Django's hasher format (empty: no password); changing it locks out visitors
    # who unlocked with the old one.
    password_hash = models.CharField(max_length=256, blank=True, default="")
    is_active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Limits; null means "no limit of its own" (the site-wide upload limit still holds).
    max_file_bytes = models.BigIntegerField(null=True, blank=True)
    max_files = models.PositiveIntegerField(null=True, blank=True)
    max_total_bytes = models.BigIntegerField(null=True, blank=True)
    allowed_extensions = models.JSONField(default=list, blank=True)  # [".pdf", ".jpg"]
    allowed_content_types = models.JSONField(default=list, blank=True)  # ["application/pdf", "image/*"]
    # What the visitor must tell before uploading.
    require_name = models.BooleanField(default=True)
    require_email = models.BooleanField(default=True)
    # Branding, always rendered as text; the colour is a validated #rrggbb.
    title = models.CharField(max_length=200)
    welcome_message = models.TextField(blank=True, default="")
    brand_colour = models.CharField(max_length=7, default="#1f5fbf")
    notify_emails = models.JSONField(default=list, blank=True)
    # URLs the digest run POSTs a signed JSON document to (uploader.webhook_delivery);
    # validated by uploader.portals.normalize_webhooks.
    notify_webhooks = models.JSONField(default=list, blank=True)
    # The portal's logo: a PNG made by uploader.portal_branding, kept in the bucket
    # outside the uploads prefix (so it is never taken for a client's file).
    logo_key = models.CharField(max_length=1024, blank=True, default="")
    # What uploader.processing makes from each stored file (ProcessingOption values).
    processing = models.JSONField(default=list, blank=True, validators=[validate_processing_options])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


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
    # Multipart only: every part but the last is exactly this many bytes, and each
    # part URL signs its Content-Length. Null for single uploads and for multipart
    # uploads registered before part sizes were bound (their parts are unbound).
    part_size = models.BigIntegerField(null=True, blank=True)
    # The MD5 (hex) the browser computed for a single PUT. Its URL signs Content-MD5,
    # so S3 refuses other bytes; the stored ETag is compared with it again
    # (uploader.checksums). Empty when the client sent none, and for multipart
    # uploads, whose parts each carry their own signed Content-MD5.
    content_md5 = models.CharField(max_length=32, blank=True, default="")
    # While a processing run holds the upload (uploader.processing), until when: a
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


class AuditEntry(models.Model):
    """Append-only trail of state changes and staff actions.

    Rows are only ever inserted (`save` refuses updates, `delete` refuses); on
    PostgreSQL a trigger refuses UPDATE and DELETE as well, so not even a bug or
    an admin action can rewrite history.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    # Who: a user, or a system actor such as "s3-event" when no person acted. No
    # database constraint and no cascade: history outlives the rows it names, and
    # the label keeps the name.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    upload = models.ForeignKey(
        Upload, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="audit_entries"
    )
    request_id = models.CharField(max_length=64, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit entries are append-only")


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


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    GAVE_UP = "gave_up", "Given up"


class WebhookDelivery(models.Model):
    """One signed JSON document for one webhook URL of a portal (uploader.webhook_delivery).

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

    def __str__(self) -> str:
        return f"{self.event} to portal {self.portal_id} ({self.state})"
