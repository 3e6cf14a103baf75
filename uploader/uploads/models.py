"""What Intake knows about each file: one Upload row per object it signed for."""

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce, Lower

from uploader.portals.models import Portal
from uploader.uploads.search import search_text_of


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
    UploadState.UPLOADING: frozenset(
        {UploadState.STORED, UploadState.REJECTED, UploadState.ABORTED, UploadState.DELETED}
    ),
    UploadState.STORED: frozenset({UploadState.REJECTED, UploadState.DELETED}),
    UploadState.REJECTED: frozenset(),
    UploadState.ABORTED: frozenset(),
    UploadState.DELETED: frozenset(),
}


class ScanState(models.TextChoices):
    """What the malware scan says of a stored file (docs/scanning.md). Written only by
    uploader.scanning.state."""

    PENDING = "pending", "Scan pending"
    CLEAN = "clean", "Clean"
    INFECTED = "infected", "Infected"
    UNSCANNABLE = "unscannable", "Not scannable"
    # An admin released a file the scanner could not scan, or its portal's policy did.
    RELEASED = "released", "Released unscanned"
    # Scanning is off (INTAKE_SCANNER=none), or the file was stored before it existed.
    NOT_SCANNED = "not_scanned", "Not scanned"


# Scan states whose file may be downloaded, previewed, processed and announced: a
# file waits for one of these (fail closed).
SCAN_USABLE: frozenset[str] = frozenset({ScanState.CLEAN, ScanState.RELEASED, ScanState.NOT_SCANNED})

# Which scan states each may move to: an outcome is final, except that an admin (or
# a later scanner's verdict) settles a file that could not be scanned.
SCAN_TRANSITIONS: dict[str, frozenset[str]] = {
    ScanState.PENDING: frozenset(
        {ScanState.CLEAN, ScanState.INFECTED, ScanState.UNSCANNABLE, ScanState.RELEASED, ScanState.NOT_SCANNED}
    ),
    ScanState.UNSCANNABLE: frozenset({ScanState.CLEAN, ScanState.INFECTED, ScanState.RELEASED}),
    ScanState.CLEAN: frozenset(),
    ScanState.INFECTED: frozenset(),
    ScanState.RELEASED: frozenset(),
    ScanState.NOT_SCANNED: frozenset(),
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
    # The malware scan (uploader.scanning): its state, what it found or why it could
    # not scan (a signature name, "too big"), when it settled, and where an infected
    # file was moved (empty when it was deleted, or is not infected).
    scan_state = models.CharField(max_length=16, choices=ScanState.choices, default=ScanState.PENDING)
    scan_detail = models.CharField(max_length=255, blank=True, default="")
    scanned_at = models.DateTimeField(null=True, blank=True)
    quarantine_key = models.CharField(max_length=1024, blank=True, default="")
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
    # The document request item this file answers (uploader.requests); the item's
    # model lives above uploads, hence the name rather than an import.
    request_item = models.ForeignKey(
        "uploader.RequestItem", null=True, blank=True, on_delete=models.PROTECT, related_name="uploads"
    )
    uploader_name = models.CharField(max_length=200, blank=True, default="")
    uploader_email = models.EmailField(max_length=254, blank=True, default="")
    # The file name, sender's name and e-mail, normalized for search (lower case, no
    # accents: uploader.uploads.search.normalize); on PostgreSQL a trigram index makes
    # any part of it a fast match (ADR 0011). Those fields never change after the row
    # is written, so `save` keeps it and bulk writers fill it themselves.
    search_text = models.TextField(blank=True, default="", editable=False)
    # Staff's own words about the file (uploader.uploads.file_notes, audited). A
    # database default too, so bulk writers (seed_demo's COPY) need not name it.
    note = models.TextField(blank=True, default="", db_default="")
    # A legal hold (uploader.retention.holds, admins): while it is on, nothing deletes
    # the file (uploader.uploads.deletion.deletion_blocked_reason), neither staff nor
    # retention; with INTAKE_S3_OBJECT_LOCK the object carries an S3 legal hold too.
    # Who placed it, when and why; the audit trail keeps every place and lift.
    # Defaults in the database too: the demo loader's COPY and other raw writers name
    # only the columns they fill.
    legal_hold = models.BooleanField(default=False, db_default=False)
    legal_hold_at = models.DateTimeField(null=True, blank=True)
    legal_hold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    legal_hold_reason = models.CharField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "state"]),
            # One index per sort of the file list, each with the primary key after the sort
            # key so a page's cursor (uploader.uploads.keyset) is one index range.
            # The newest/oldest and the size sorts' indexes carry the sizes after it: a size
            # range is then checked in the index while walking newest first, and a size or
            # date range is counted and summed (the totals line) from the index alone, no
            # table row read (PostgreSQL's index-only scan needs the columns themselves).
            # Key columns rather than INCLUDE, which SQLite has not.
            models.Index(
                F("created_at"),
                F("id"),
                Coalesce("stored_size", "declared_size", -1),
                F("stored_size"),
                F("declared_size"),
                name="upload_created_id_size",
            ),
            models.Index(fields=["state", "created_at", "id"], name="upload_state_created_id"),
            models.Index(fields=["portal", "created_at", "id"], name="upload_portal_created_id"),
            models.Index(
                Coalesce("stored_size", "declared_size", -1),
                F("created_at"),
                F("id"),
                F("stored_size"),
                F("declared_size"),
                name="upload_size_created_id",
            ),
            models.Index(Lower("original_filename"), F("created_at"), F("id"), name="upload_name_created_id"),
            models.Index(fields=["multipart_upload_id"]),
            # A portal's files in flight (its usage, counted at each registration and on
            # its page), however many it has stored; it holds every column the count reads,
            # so the count reads the index alone (uploader.portals.selectors.portal_usage).
            models.Index(
                fields=["portal"],
                include=["id", "state", "created_at", "is_multipart", "stored_size", "declared_size"],
                condition=models.Q(state__in=["registered", "uploading"]),
                name="upload_portal_in_flight_usage",
            ),
            # Retention's work list: a portal's stored files not on hold, oldest first
            # (uploader.retention.policy).
            models.Index(
                fields=["portal", "stored_at", "id"],
                condition=models.Q(state="stored", legal_hold=False, portal__isnull=False),
                name="upload_retention_due",
            ),
            # A portal's files on hold (its page says how many): few, however many it keeps.
            models.Index(fields=["portal"], condition=models.Q(legal_hold=True), name="upload_portal_held"),
            # The scanner's catch-up list: stored files still waiting for a verdict.
            models.Index(
                fields=["stored_at"],
                condition=models.Q(scan_state="pending", state="stored"),
                name="upload_scan_pending",
            ),
            # The notifier's work list stays small however many files are kept.
            models.Index(
                fields=["portal"],
                condition=models.Q(notified_at__isnull=True, state="stored", portal__isnull=False),
                name="upload_portal_unnotified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.state})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_text = search_text_of(self.original_filename, self.uploader_name, self.uploader_email)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"original_filename", "uploader_name", "uploader_email"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def scan_allows_use(self) -> bool:
        """Whether the file may be downloaded, previewed, processed or announced."""
        return self.scan_state in SCAN_USABLE


class UploadTag(models.Model):
    """A short label staff put on a file ("invoice", "2025-q1"), to find it again: the
    file list filters on it. Lower case, written by uploader.uploads.file_notes only."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["upload", "name"], name="upload_tag_once_per_file")]
        indexes = [models.Index(fields=["name", "upload"], name="upload_tag_name")]

    def __str__(self) -> str:
        return self.name


class UploadDailyRollup(models.Model):
    """Files and bytes per local day (TIME_ZONE) x portal x kind x current state, kept
    by the state writer in the same transaction as each change (uploader.uploads.rollup),
    so the stats page never reads the uploads table. Two measures on two days:
    `started_*` on the day the upload began (`created_at`; bytes are the stored size,
    else the declared one), `stored_*` on the day it arrived (`stored_at`; stored bytes).
    `portal_key` is the portal's id, 0 for staff uploads (a plain number, so the unique
    key has no NULL in it and a disabled portal's history stays)."""

    day = models.DateField()
    portal_key = models.BigIntegerField()
    kind = models.CharField(max_length=16)
    state = models.CharField(max_length=16, choices=UploadState.choices)
    started_files = models.BigIntegerField(default=0)
    started_bytes = models.BigIntegerField(default=0)
    stored_files = models.BigIntegerField(default=0)
    stored_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "portal_key", "kind", "state"], name="upload_rollup_one_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} portal {self.portal_key} {self.kind} {self.state}"


class UploadDailyBreakdown(models.Model):
    """The daily rollup summed along one dimension at a time ("portal", "kind" or
    "state"; `value` is the portal key, kind or state), and the rejected uploads by
    reason ("reason": the reason with its numbers folded, by the day they began): what
    the stats page charts, a few hundred rows a day instead of the rollup's thousands.
    Kept with the rollup, in the same transaction."""

    day = models.DateField()
    dimension = models.CharField(max_length=8)
    value = models.CharField(max_length=200)
    started_files = models.BigIntegerField(default=0)
    started_bytes = models.BigIntegerField(default=0)
    stored_files = models.BigIntegerField(default=0)
    stored_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dimension", "day", "value"], name="upload_breakdown_one_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension}={self.value}"


class UploadMonthlyBreakdown(models.Model):
    """`UploadDailyBreakdown` summed by calendar month (`month` is its first day): a
    year of the stats page reads twelve months of these rather than 365 days of the
    daily rows (200 portals make 200 rows a day). Kept with the rollup, in the same
    transaction."""

    month = models.DateField()
    dimension = models.CharField(max_length=8)
    value = models.CharField(max_length=200)
    started_files = models.BigIntegerField(default=0)
    started_bytes = models.BigIntegerField(default=0)
    stored_files = models.BigIntegerField(default=0)
    stored_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dimension", "month", "value"], name="upload_monthly_one_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.dimension}={self.value}"


class UploadTotal(models.Model):
    """All-time files and bytes (stored size, else declared) per portal x kind x
    current state, kept with the daily rollup: the file list's totals and the portals
    list read these few hundred rows instead of counting uploads."""

    portal_key = models.BigIntegerField()
    kind = models.CharField(max_length=16)
    state = models.CharField(max_length=16, choices=UploadState.choices)
    files = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["portal_key", "kind", "state"], name="upload_total_one_per_key")]

    def __str__(self) -> str:
        return f"portal {self.portal_key} {self.kind} {self.state}"


class UploadSearchRow(models.Model):
    """An upload's searched columns in the search table. On PostgreSQL the table is
    partitioned by quarter and written by triggers on the uploads table
    (uploader.uploads.search_table, ADR 0014); on SQLite it exists and stays empty.
    Read only, by the file list's search."""

    id = models.UUIDField(primary_key=True)  # the upload's
    created_at = models.DateTimeField()
    search_text = models.TextField()
    portal_id = models.BigIntegerField(null=True)
    owner_id = models.IntegerField(null=True)

    class Meta:
        db_table = "uploader_uploadsearch"

    def __str__(self) -> str:
        return f"search row of upload {self.id}"
