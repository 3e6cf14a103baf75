"""Client portals: links staff send so clients can upload without an account."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class ProcessingOption(models.TextChoices):
    """What Intake may make from a portal's files once they are stored (uploader.processing.services)."""

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
    # URLs the digest run POSTs a signed JSON document to (uploader.notify.webhook_http);
    # validated by uploader.portals.services.normalize_webhooks.
    notify_webhooks = models.JSONField(default=list, blank=True)
    # The portal's logo: a PNG made by uploader.portals.branding, kept in the bucket
    # outside the uploads prefix (so it is never taken for a client's file).
    logo_key = models.CharField(max_length=1024, blank=True, default="")
    # What uploader.processing.services makes from each stored file (ProcessingOption values).
    processing = models.JSONField(default=list, blank=True, validators=[validate_processing_options])
    # Retention: its stored files are deleted this many days after they arrived
    # (uploader.retention.policy, daily); null keeps them until someone deletes them.
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(36500)]
    )
    # A file the malware scanner could not scan (too big, timed out, an encrypted
    # archive): held until an admin releases it, or released at once (uploader.scanning).
    release_unscannable = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"
