"""Document requests, their items, and the templates they are made from.

A request's link works like a portal's (ADR 0006): the row keeps a random nonce and
the SHA-256 digest of the token, never the token itself (uploader.requests.tokens).
An item's and a request's state are written only by uploader.requests.state.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

RETENTION_HELP = "Delete files after this many days (unless on legal hold); empty keeps them."


class RequestState(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class ItemState(models.TextChoices):
    OUTSTANDING = "outstanding", "Waiting for files"
    SUBMITTED = "submitted", "Sent, waiting for review"
    ACCEPTED = "accepted", "Accepted"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"


# The item state machine; uploader.requests.state refuses any other move. A submitted
# item whose every file is gone (deleted, or replaced and rejected) goes back to
# waiting: outstanding, or changes requested when it had been sent back.
ITEM_TRANSITIONS: dict[str, frozenset[str]] = {
    ItemState.OUTSTANDING: frozenset({ItemState.SUBMITTED}),
    ItemState.SUBMITTED: frozenset({ItemState.ACCEPTED, ItemState.CHANGES_REQUESTED, ItemState.OUTSTANDING}),
    ItemState.CHANGES_REQUESTED: frozenset({ItemState.SUBMITTED}),
    # Staff may send an accepted item back (with a reason), while the request is open.
    ItemState.ACCEPTED: frozenset({ItemState.CHANGES_REQUESTED}),
}


class ItemRules(models.Model):
    """What an item asks for; shared by template items and request items."""

    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, default="")
    required = models.BooleanField(default=True)
    allowed_extensions = models.JSONField(default=list, blank=True)  # [".pdf", ".jpg"]
    allowed_content_types = models.JSONField(default=list, blank=True)  # ["application/pdf", "image/*"]
    # Files per round: counted again after staff ask for changes. Null: no limit of its own.
    max_files = models.PositiveIntegerField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class RequestTemplate(models.Model):
    """A reusable checklist ("Annual tax return pack"), managed by admins; a request
    made from it gets copies of its items."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, default="")
    # The retention a request made from it starts with (DocumentRequest.retention_days).
    retention_days = models.PositiveIntegerField(null=True, blank=True, help_text=RETENTION_HELP)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TemplateItem(ItemRules):
    template = models.ForeignKey(RequestTemplate, on_delete=models.CASCADE, related_name="items")

    class Meta(ItemRules.Meta):
        pass


class DocumentRequest(models.Model):
    client_name = models.CharField(max_length=200)
    client_emails = models.JSONField(default=list)  # at least one address
    company = models.CharField(max_length=200, blank=True, default="")
    due_date = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.OPEN)
    token_nonce = models.CharField(max_length=64, editable=False)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    template = models.ForeignKey(RequestTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The reminder schedule (uploader.requests.reminders), copied from the settings when
    # the request is made; staff change it on the edit page. Null switches a kind off.
    remind_days_before_due = models.PositiveSmallIntegerField(null=True, blank=True)
    remind_on_due_date = models.BooleanField(default=True)
    remind_overdue_every_days = models.PositiveSmallIntegerField(null=True, blank=True)
    remind_nothing_received_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # Staff switched reminders off (the schedule is kept for when they switch them on).
    send_reminders = models.BooleanField(default=True)
    # "I'll send it later": no reminder before then.
    reminders_paused_until = models.DateTimeField(null=True, blank=True)
    # When complete, wait for staff to close it instead of closing at once.
    waits_for_staff = models.BooleanField(default=False)
    # The completion receipt was claimed for sending (set before the e-mail goes, so a
    # repeated task sends none).
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    # Days after it arrives that each of its files is deleted (uploader.retention.policy,
    # daily); null keeps them. Set by admins only (Permission.DELETE_FILES).
    retention_days = models.PositiveIntegerField(null=True, blank=True, help_text=RETENTION_HELP)
    # The client proves who they are with a one-time code e-mailed to one of
    # client_emails before the checklist opens (uploader.requests.access); off: the link
    # alone is the key. New requests take INTAKE_REQUEST_REQUIRE_CODE.
    require_code = models.BooleanField(default=True)
    # Or a password staff give the client (Django's password hashers; empty: none),
    # the portal links' way (uploader.portals.access).
    password_hash = models.CharField(max_length=128, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "due_date"], name="docrequest_state_due")]

    def __str__(self) -> str:
        return f"{self.client_name} ({self.pk})"


class RequestItem(ItemRules):
    request = models.ForeignKey(DocumentRequest, on_delete=models.CASCADE, related_name="items")
    due_date = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=24, choices=ItemState.choices, default=ItemState.OUTSTANDING)
    # Why staff sent it back (shown to the client as text), and when: files counted
    # against max_files start again from then.
    changes_reason = models.TextField(blank=True, default="")
    changes_requested_at = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta(ItemRules.Meta):
        pass


class ReminderOutcome(models.TextChoices):
    CLAIMED = "claimed", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Not sent"


class RequestReminder(models.Model):
    """One reminder slot of a request ("before-due:2030-01-31", "overdue:2030-01-31:2030-02-14",
    "nothing-received"). The row is written before the e-mail goes; its uniqueness is
    what keeps a slot from being sent twice (retries, two beat processes)."""

    request = models.ForeignKey(DocumentRequest, on_delete=models.CASCADE, related_name="reminders")
    slot = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, choices=ReminderOutcome.choices, default=ReminderOutcome.CLAIMED)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "slot"], name="request_reminder_once_per_slot")]

    def __str__(self) -> str:
        return f"{self.request_id}:{self.slot}"


class UploadDigest(models.Model):
    """The SHA-256 of a stored file of a request, computed once by the worker from S3
    (uploader.requests.receipts) for the completion receipt and the staff page."""

    upload = models.OneToOneField(
        "uploader.Upload", primary_key=True, on_delete=models.CASCADE, related_name="request_digest"
    )
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    etag = models.CharField(max_length=128, blank=True, default="")
    computed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.upload_id}: {self.sha256}"


class RequestAccessCode(models.Model):
    """A one-time code e-mailed to one of a request's addresses. Only an HMAC of the
    code is kept (keyed by SECRET_KEY, so a copy of the table alone cannot be guessed
    offline); a code is good for INTAKE_REQUEST_CODE_TTL_SECONDS and
    INTAKE_REQUEST_CODE_MAX_ATTEMPTS guesses, and once."""

    request = models.ForeignKey(DocumentRequest, on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)  # lower-cased
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["request", "email", "-created_at"], name="requestcode_lookup")]

    def __str__(self) -> str:
        return f"code for request {self.request_id}"
