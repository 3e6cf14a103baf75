"""Intake's own settings (INTAKE_*): storage, limits, events, portals, processing,
webhooks and background processes. Django's and the libraries' settings are in
`base`, which imports these; every value comes from the environment.
"""

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from config.settings.environment import env, env_int, env_rate

# --- S3 -----------------------------------------------------------------------------
# Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
# an instance role, ...). An endpoint URL is set only for an S3-compatible server
# such as the local emulator; on AWS it stays empty.
INTAKE_S3_BUCKET = env.str("INTAKE_S3_BUCKET", default="intake-local")
INTAKE_S3_REGION = env.str("INTAKE_S3_REGION", default="us-east-1")
INTAKE_S3_ENDPOINT_URL = env.str("INTAKE_S3_ENDPOINT_URL", default="") or None
# Path-style URLs are what S3-compatible servers on 127.0.0.1 understand;
# virtual-hosted style is AWS's default and the only one for new buckets there.
INTAKE_S3_ADDRESSING_STYLE = env.str(
    "INTAKE_S3_ADDRESSING_STYLE", default="path" if INTAKE_S3_ENDPOINT_URL else "virtual"
)
if INTAKE_S3_ADDRESSING_STYLE not in {"path", "virtual"}:
    raise ImproperlyConfigured("INTAKE_S3_ADDRESSING_STYLE must be 'path' or 'virtual'")
# Explicit credentials for an S3-compatible server (MinIO, Ceph RGW) whose keys are
# not AWS's; empty uses boto3's chain (environment, instance or task role).
INTAKE_S3_ACCESS_KEY_ID = env.str("INTAKE_S3_ACCESS_KEY_ID", default="")
INTAKE_S3_SECRET_ACCESS_KEY = env.str("INTAKE_S3_SECRET_ACCESS_KEY", default="")
if bool(INTAKE_S3_ACCESS_KEY_ID) != bool(INTAKE_S3_SECRET_ACCESS_KEY):
    raise ImproperlyConfigured("INTAKE_S3_ACCESS_KEY_ID and INTAKE_S3_SECRET_ACCESS_KEY must be set together")
INTAKE_S3_KEY_PREFIX = env.str("INTAKE_S3_KEY_PREFIX", default="uploads")
# A hung S3 must answer 503 within seconds, not hold a web process: each attempt may
# take the connect plus the read timeout, and a call makes at most this many attempts
# in all (botocore's standard retries with backoff; `total_max_attempts`, since
# botocore's `max_attempts` counts retries only). Celery tasks retry on their own after.
INTAKE_S3_CONNECT_TIMEOUT = env.float("INTAKE_S3_CONNECT_TIMEOUT", default=2.0)
INTAKE_S3_READ_TIMEOUT = env.float("INTAKE_S3_READ_TIMEOUT", default=5.0)
INTAKE_S3_MAX_ATTEMPTS = env_int("INTAKE_S3_MAX_ATTEMPTS", 2, minimum=1)
# Whether `setup_bucket` may create the bucket; production buckets usually come from
# the deployment template and the app's role may not create buckets.
INTAKE_S3_CREATE_BUCKET = env.bool("INTAKE_S3_CREATE_BUCKET", default=False)
# The bucket has S3 Object Lock (and so versioning): a legal hold is also placed on the
# object in S3, and deleting a file deletes every version of its key
# (uploader.retention.holds, uploader.uploads.deletion). `setup_bucket --create` then
# creates the bucket with Object Lock.
INTAKE_S3_OBJECT_LOCK = env.bool("INTAKE_S3_OBJECT_LOCK", default=False)
# Browser origins allowed to PUT to the bucket (CORS rules written by setup_bucket).
INTAKE_CORS_ALLOWED_ORIGINS = env.list("INTAKE_CORS_ALLOWED_ORIGINS", default=[])
# Where the bucket sends its object events (SQS queue ARN); empty leaves them alone.
INTAKE_S3_EVENTS_QUEUE_ARN = env.str("INTAKE_S3_EVENTS_QUEUE_ARN", default="")
# Sign URLs with uploader.s3.signing (byte-identical to botocore's, several times
# faster); false falls back to botocore's generate_presigned_url.
INTAKE_S3_FAST_SIGNING = env.bool("INTAKE_S3_FAST_SIGNING", default=True)
# The SQS queue the bucket sends object events to, read by `manage.py consume_s3_events`.
INTAKE_S3_EVENTS_QUEUE_URL = env.str("INTAKE_S3_EVENTS_QUEUE_URL", default="")
INTAKE_SQS_ENDPOINT_URL = env.str("INTAKE_SQS_ENDPOINT_URL", default="") or None
# How long a received message stays hidden; the consumer extends it for slow batches.
INTAKE_SQS_VISIBILITY_SECONDS = env_int("INTAKE_SQS_VISIBILITY_SECONDS", 120, minimum=10)
INTAKE_MULTIPART_ABORT_AFTER_DAYS = env_int("INTAKE_MULTIPART_ABORT_AFTER_DAYS", 2, minimum=1)


# Shared token for POST /api/events/s3 (S3-style events pushed by Ceph RGW or
# MinIO); empty disables the endpoint.
INTAKE_EVENTS_WEBHOOK_TOKEN = env.str("INTAKE_EVENTS_WEBHOOK_TOKEN", default="")
# Amazon SNS topics (ARNs, comma-separated) whose S3 event notifications
# POST /api/events/sns accepts; empty disables it. SNS's signature proves a message,
# not a token, so the topic list is what keeps other senders out.
INTAKE_SNS_TOPIC_ARNS = env.list("INTAKE_SNS_TOPIC_ARNS", default=[])
# Lowest SignatureVersion accepted: "1" (SHA1withRSA, every topic's default) or "2"
# (SHA256withRSA) once the topic's SignatureVersion attribute is set to 2.
INTAKE_SNS_MIN_SIGNATURE_VERSION = env.str("INTAKE_SNS_MIN_SIGNATURE_VERSION", default="1")
if INTAKE_SNS_MIN_SIGNATURE_VERSION not in {"1", "2"}:
    raise ImproperlyConfigured("INTAKE_SNS_MIN_SIGNATURE_VERSION must be '1' or '2'")
# Oldest SNS message accepted, by its Timestamp (SNS retries an HTTPS delivery for at
# most an hour, keeping the Timestamp).
INTAKE_SNS_MAX_AGE_SECONDS = env_int("INTAKE_SNS_MAX_AGE_SECONDS", 3600, minimum=60)

# Reconciliation (`manage.py reconcile_uploads`, and Celery beat every
# INTAKE_RECONCILE_INTERVAL_MINUTES): registrations and multipart uploads older than
# this are expired/aborted.
INTAKE_RECONCILE_AFTER_HOURS = env_int("INTAKE_RECONCILE_AFTER_HOURS", 24, minimum=1)
INTAKE_RECONCILE_INTERVAL_MINUTES = env_int("INTAKE_RECONCILE_INTERVAL_MINUTES", 60, minimum=1)

# Retention (uploader.retention.policy): the daily beat task deletes a portal's files
# older than its `retention_days`, at most this many per task run (it enqueues
# itself again while more are due, so each run stays inside the task time limit).
INTAKE_RETENTION_BATCH = env_int("INTAKE_RETENTION_BATCH", 200, minimum=1)

# --- Upload limits -----------------------------------------------------------------
# Checked before anything is signed and again once the object is stored.
INTAKE_MAX_UPLOAD_BYTES = env_int("INTAKE_MAX_UPLOAD_BYTES", 5 * 1024**3, minimum=1)
# Content types allowed, as exact types or `type/*`; empty allows any.
INTAKE_ALLOWED_CONTENT_TYPES = env.list("INTAKE_ALLOWED_CONTENT_TYPES", default=[])
# Files at least this big go multipart (S3's minimum part size is 5 MiB).
INTAKE_MULTIPART_THRESHOLD_BYTES = env_int("INTAKE_MULTIPART_THRESHOLD_BYTES", 16 * 1024**2, minimum=5 * 1024**2)
INTAKE_PART_SIZE_BYTES = env_int("INTAKE_PART_SIZE_BYTES", 8 * 1024**2, minimum=5 * 1024**2)
# Lifetime of a signed URL; short, because a URL is a bearer credential.
INTAKE_PRESIGN_EXPIRES_SECONDS = env_int("INTAKE_PRESIGN_EXPIRES_SECONDS", 900, minimum=60)
# Download links are bearer URLs: keep them short-lived.
INTAKE_DOWNLOAD_EXPIRES_SECONDS = env_int("INTAKE_DOWNLOAD_EXPIRES_SECONDS", 300, minimum=10)
# Downloads through CloudFront signed URLs (docs/deploy.md); empty domain: S3-signed.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-signed-urls.html
INTAKE_CLOUDFRONT_DOMAIN = env.str("INTAKE_CLOUDFRONT_DOMAIN", default="")
INTAKE_CLOUDFRONT_KEY_ID = env.str("INTAKE_CLOUDFRONT_KEY_ID", default="")
INTAKE_CLOUDFRONT_PRIVATE_KEY = env.str("INTAKE_CLOUDFRONT_PRIVATE_KEY", default="")
INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE = env.str("INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE", default="")
# A bad key stops start-up (uploader.apps checks it once the apps load), not the first download.
INTAKE_MAX_PARTS_PER_BATCH = env_int("INTAKE_MAX_PARTS_PER_BATCH", 500, minimum=1)

# How often arrived files are e-mailed to portals' notification targets (one digest
# per portal per run).
INTAKE_NOTIFY_INTERVAL_SECONDS = env_int("INTAKE_NOTIFY_INTERVAL_SECONDS", 60, minimum=5)

# --- Client upload portals (docs/configuration.md#portals, ADR 0006) -----------------------
# The site's public address; portal links are made with it (manage.py portal_create
# prints them, the dashboard shows them).
INTAKE_PUBLIC_BASE_URL = env.str("INTAKE_PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not INTAKE_PUBLIC_BASE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("INTAKE_PUBLIC_BASE_URL must start with https:// or http://")
# The key portal link tokens are derived with (HMAC). Empty: DJANGO_SECRET_KEY. Changing
# it changes every portal's link.
INTAKE_PORTAL_TOKEN_KEY = env.str("INTAKE_PORTAL_TOKEN_KEY", default="")


# Who clients are sending to: client pages name the business (never a portal's internal
# name) and say how to reach it, above all on a closed link's page.
INTAKE_BUSINESS_NAME = env.str("INTAKE_BUSINESS_NAME", default="").strip()[:120]
INTAKE_BUSINESS_CONTACT_EMAIL = env.str("INTAKE_BUSINESS_CONTACT_EMAIL", default="").strip()
if INTAKE_BUSINESS_CONTACT_EMAIL:
    try:
        validate_email(INTAKE_BUSINESS_CONTACT_EMAIL)
    except ValidationError:
        raise ImproperlyConfigured(
            "INTAKE_BUSINESS_CONTACT_EMAIL must be an e-mail address such as office@example.com"
        ) from None
INTAKE_BUSINESS_CONTACT_PHONE = env.str("INTAKE_BUSINESS_CONTACT_PHONE", default="").strip()[:40]

# Per client address, counted in the shared cache (Redis when REDIS_URL is set), so
# the limits hold across processes: portal page views, password attempts, API calls.
INTAKE_PORTAL_RATE_PAGE = env_rate("INTAKE_PORTAL_RATE_PAGE", "120/60")
INTAKE_PORTAL_RATE_PASSWORD = env_rate("INTAKE_PORTAL_RATE_PASSWORD", "10/300")
INTAKE_PORTAL_RATE_API = env_rate("INTAKE_PORTAL_RATE_API", "600/60")
# Document requests: whether a new request asks the client for a one-time code e-mailed
# to one of its addresses before its checklist opens (on unless turned off here or per
# request), how long a code lives, how many guesses it takes, how long a browser stays
# verified, and how many codes an address and a client address may ask for.
INTAKE_REQUEST_REQUIRE_CODE = env.bool("INTAKE_REQUEST_REQUIRE_CODE", default=True)
INTAKE_REQUEST_CODE_TTL_SECONDS = env_int("INTAKE_REQUEST_CODE_TTL_SECONDS", 600, minimum=60)
INTAKE_REQUEST_CODE_MAX_ATTEMPTS = env_int("INTAKE_REQUEST_CODE_MAX_ATTEMPTS", 5, minimum=1)
INTAKE_REQUEST_ACCESS_DAYS = env_int("INTAKE_REQUEST_ACCESS_DAYS", 30, minimum=1)
INTAKE_REQUEST_RATE_CODE_EMAIL = env_rate("INTAKE_REQUEST_RATE_CODE_EMAIL", "5/3600")
INTAKE_REQUEST_RATE_CODE_ADDRESS = env_rate("INTAKE_REQUEST_RATE_CODE_ADDRESS", "20/3600")
INTAKE_REQUEST_RATE_CODE_CHECK = env_rate("INTAKE_REQUEST_RATE_CODE_CHECK", "30/300")
# Portal logos: the largest file staff may upload (it is re-drawn as a small PNG), and
# how long the signed URL clients load it from lives.
INTAKE_PORTAL_LOGO_MAX_BYTES = env_int("INTAKE_PORTAL_LOGO_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
INTAKE_PORTAL_LOGO_URL_SECONDS = env_int("INTAKE_PORTAL_LOGO_URL_SECONDS", 3600, minimum=60)
# Wrong passwords a portal accepts from all addresses together, per window.
INTAKE_PORTAL_RATE_WRONG_PASSWORDS = env_rate("INTAKE_PORTAL_RATE_WRONG_PASSWORDS", "50/300")
# Receipt e-mails a client may ask for, per address (each lists all their files).
INTAKE_PORTAL_RATE_RECEIPT = env_rate("INTAKE_PORTAL_RATE_RECEIPT", "5/3600")

# --- Processing of portal uploads (docs/configuration.md#client-portals) ------------
# What uploader.processing.services reads and makes when a portal's processing options are on.
# The largest source object read (bigger files are not processed); the most pixels a
# source image may have (decompression bombs are refused before decoding); how many
# PDF pages are read for text and how large the text file may be; how long signed
# URLs of derived files (thumbnails, text) shown to staff live; and the task's soft
# time limit (a file that takes longer is recorded as failed, not retried).
INTAKE_PROCESSING_MAX_BYTES = env_int("INTAKE_PROCESSING_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
# 24 million pixels (6000x4000): a decoded RGBA image of that size is about 96 MB, and
# a thumbnail run holds about two such copies at its peak.
INTAKE_PROCESSING_MAX_PIXELS = env_int("INTAKE_PROCESSING_MAX_PIXELS", 24_000_000, minimum=10_000)
INTAKE_PROCESSING_TEXT_PAGES = env_int("INTAKE_PROCESSING_TEXT_PAGES", 20, minimum=1)
INTAKE_PROCESSING_TEXT_MAX_BYTES = env_int("INTAKE_PROCESSING_TEXT_MAX_BYTES", 1024 * 1024, minimum=1024)
INTAKE_PROCESSING_TIME_LIMIT_SECONDS = env_int("INTAKE_PROCESSING_TIME_LIMIT_SECONDS", 120, minimum=5)
INTAKE_DERIVATIVE_URL_SECONDS = env_int("INTAKE_DERIVATIVE_URL_SECONDS", 300, minimum=30)
# What staff uploads get, as a portal's processing options do for its files:
# comma-separated `thumbnails`, `document_text`; empty for none.
INTAKE_STAFF_PROCESSING = [item.strip() for item in env.str("INTAKE_STAFF_PROCESSING", "thumbnails,document_text").split(",") if item.strip()]
if unknown_staff_processing := set(INTAKE_STAFF_PROCESSING) - {"thumbnails", "document_text"}:
    raise ImproperlyConfigured(
        f"INTAKE_STAFF_PROCESSING: unknown option(s) {', '.join(sorted(unknown_staff_processing))}; "
        "choose from thumbnails, document_text."
    )

# --- Malware scanning (docs/scanning.md) ---------------------------------------------
# Which scanner settles a stored file's scan state (uploader.scanning): "clamd" (the
# worker streams the object to clamd's INSTREAM), "guardduty" (Amazon GuardDuty
# Malware Protection for S3; its result events arrive through the event ledger), or
# "none": files are marked "not scanned" and released at once, and the dashboard
# says so. Until a verdict, a file is not downloaded, previewed, processed or announced.
INTAKE_SCANNER = env.str("INTAKE_SCANNER", default="clamd").strip().lower()
if INTAKE_SCANNER not in {"clamd", "guardduty", "none"}:
    raise ImproperlyConfigured(f"INTAKE_SCANNER must be clamd, guardduty or none, not {INTAKE_SCANNER!r}")
# clamd's socket: unix:///run/clamav/clamd.ctl or tcp://127.0.0.1:3310.
INTAKE_CLAMD_ADDRESS = env.str("INTAKE_CLAMD_ADDRESS", default="tcp://127.0.0.1:3310")
# Bigger files are "not scannable" (clamd's StreamMaxLength must be at least this; clamd
# scans at most 2 GiB - 1 per file); how long one scan may take (socket timeout).
INTAKE_SCAN_MAX_BYTES = env_int("INTAKE_SCAN_MAX_BYTES", 2 * 1024**3 - 1, minimum=1024)
INTAKE_SCAN_TIMEOUT_SECONDS = env_int("INTAKE_SCAN_TIMEOUT_SECONDS", 600, minimum=5)
# Bytes per chunk read from S3 and sent to clamd (the worker holds about one).
INTAKE_SCAN_CHUNK_BYTES = env_int("INTAKE_SCAN_CHUNK_BYTES", 1024 * 1024, minimum=4096)
# An infected file is moved under this prefix (outside INTAKE_S3_KEY_PREFIX, readable by
# admins only), or deleted when INTAKE_SCAN_INFECTED is "delete".
INTAKE_SCAN_QUARANTINE_PREFIX = env.str("INTAKE_SCAN_QUARANTINE_PREFIX", default="quarantine").strip("/")
INTAKE_SCAN_INFECTED = env.str("INTAKE_SCAN_INFECTED", default="quarantine").strip().lower()
if INTAKE_SCAN_INFECTED not in {"quarantine", "delete"}:
    raise ImproperlyConfigured(f"INTAKE_SCAN_INFECTED must be quarantine or delete, not {INTAKE_SCAN_INFECTED!r}")

# --- Portal webhooks (docs/configuration.md#client-portals) ---------------------------
# The digest run also POSTs a signed JSON document to each portal's webhook URLs.
# The key of their X-Intake-Signature HMAC; receivers hold it too, so it is never the
# secret key itself. Empty: one derived from DJANGO_SECRET_KEY (local runs and tests;
# production requires it).
INTAKE_WEBHOOK_SIGNING_KEY = env.str("INTAKE_WEBHOOK_SIGNING_KEY", default="")
# Webhooks to http://127.0.0.1 / localhost, and hosts resolving to loopback. Off in
# production: a webhook must not reach the server's own services (SSRF).
INTAKE_WEBHOOKS_ALLOW_LOOPBACK = env.bool("INTAKE_WEBHOOKS_ALLOW_LOOPBACK", default=False)
# Time to connect, and for the whole request (connect, send, answer), in seconds.
INTAKE_WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("INTAKE_WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=3.0)
INTAKE_WEBHOOK_TIMEOUT_SECONDS = env.float("INTAKE_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
if not 0 < INTAKE_WEBHOOK_CONNECT_TIMEOUT_SECONDS <= INTAKE_WEBHOOK_TIMEOUT_SECONDS <= 60:
    raise ImproperlyConfigured(
        "INTAKE_WEBHOOK_CONNECT_TIMEOUT_SECONDS and INTAKE_WEBHOOK_TIMEOUT_SECONDS must satisfy 0 < connect <= total <= 60"
    )
# Attempts per delivery (the first included) before it is given up, and the first
# retry's delay; each further retry waits twice as long.
INTAKE_WEBHOOK_MAX_ATTEMPTS = env_int("INTAKE_WEBHOOK_MAX_ATTEMPTS", 5, minimum=1)
INTAKE_WEBHOOK_RETRY_SECONDS = env_int("INTAKE_WEBHOOK_RETRY_SECONDS", 60, minimum=1)
# Background processes show they work (uploader.ops.heartbeats): the worker through a
# beat task this often; readiness calls a process stale after INTAKE_HEARTBEAT_STALE_SECONDS.
INTAKE_HEARTBEAT_SECONDS = env_int("INTAKE_HEARTBEAT_SECONDS", 30, minimum=5)
INTAKE_HEARTBEAT_STALE_SECONDS = env_int("INTAKE_HEARTBEAT_STALE_SECONDS", 150, minimum=INTAKE_HEARTBEAT_SECONDS * 2)

# --- Dead letters and stuck events (docs/configuration.md#events) ---------------------
# `setup_bucket --create-queue NAME` gives NAME a dead-letter queue NAME-dlq: SQS moves
# a message there after this many receives without a delete (the consumer's failures).
INTAKE_SQS_MAX_RECEIVES = env_int("INTAKE_SQS_MAX_RECEIVES", 5, minimum=1)
# The dead-letter queue the events page lists and replays from. Empty: the one named
# in the event queue's RedrivePolicy (asked of SQS when the page is opened).
INTAKE_S3_EVENTS_DLQ_URL = env.str("INTAKE_S3_EVENTS_DLQ_URL", default="")
# A ledger row still pending after this many minutes shows on the events page with a
# retry button (its task was lost or keeps failing).
INTAKE_EVENTS_STUCK_MINUTES = env_int("INTAKE_EVENTS_STUCK_MINUTES", 10, minimum=1)

# --- Operations (docs/operations.md) ------------------------------------------------
# Bearer token Prometheus sends to scrape GET /metrics; empty switches the endpoint off
# (404). At least 32 characters: the metrics tell how busy the business is.
INTAKE_METRICS_TOKEN = env.str("INTAKE_METRICS_TOKEN", default="")
if INTAKE_METRICS_TOKEN and len(INTAKE_METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("INTAKE_METRICS_TOKEN must be a random value of at least 32 characters (or empty: off)")
# The deployment's stack name: beat publishes the Celery backlog to CloudWatch (namespace
# Intake, metric CeleryBacklog, dimension Stack=<this>) every INTAKE_BACKLOG_METRIC_SECONDS
# so the template can scale workers on it. Empty: nothing is published.
INTAKE_STACK_NAME = env.str("INTAKE_STACK_NAME", default="")
INTAKE_BACKLOG_METRIC_SECONDS = env_int("INTAKE_BACKLOG_METRIC_SECONDS", 60, minimum=10)
# prometheus-client reads this variable itself (multiprocess mode: every process writes
# its counts there and /metrics adds them up); read here so `manage.py doctor` can check it.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# Endpoint of the other AWS APIs the app calls (CloudWatch, CloudFront, SES) for an
# emulator; empty on AWS itself.
INTAKE_AWS_ENDPOINT_URL = env.str("INTAKE_AWS_ENDPOINT_URL", default="") or None

# --- Document request reminders and completion (docs/configuration.md#document-requests)
# Reminders go out in the business's time zone, within working hours: from the first
# hour up to (not including) the last, on weekdays unless weekends are allowed.
INTAKE_BUSINESS_TIME_ZONE = env.str("INTAKE_BUSINESS_TIME_ZONE", default=env.str("DJANGO_TIME_ZONE", default="UTC"))
try:
    import zoneinfo as _zoneinfo

    _zoneinfo.ZoneInfo(INTAKE_BUSINESS_TIME_ZONE)
except (ValueError, _zoneinfo.ZoneInfoNotFoundError):
    raise ImproperlyConfigured(f"INTAKE_BUSINESS_TIME_ZONE {INTAKE_BUSINESS_TIME_ZONE!r} is not a time zone") from None
_hours = env.str("INTAKE_REMINDER_HOURS", default="9-17").split("-")
try:
    INTAKE_REMINDER_HOURS = (int(_hours[0]), int(_hours[1]))
except (IndexError, ValueError):
    INTAKE_REMINDER_HOURS = (-1, -1)
if len(_hours) != 2 or not 0 <= INTAKE_REMINDER_HOURS[0] < INTAKE_REMINDER_HOURS[1] <= 24:
    raise ImproperlyConfigured("INTAKE_REMINDER_HOURS must be FIRST-LAST in hours, such as 9-17")
INTAKE_REMINDER_ON_WEEKENDS = env.bool("INTAKE_REMINDER_ON_WEEKENDS", default=False)
# A new request's schedule (staff change it per request); 0 switches a kind off, and
# a year is the most any part may be (as on the staff forms).


def _schedule_days(name: str, default: int) -> int:
    days = env_int(name, default)
    if days > 365:
        raise ImproperlyConfigured(f"{name} must be at most 365 (days), got {days}")
    return days


INTAKE_REMINDER_DAYS_BEFORE_DUE = _schedule_days("INTAKE_REMINDER_DAYS_BEFORE_DUE", 3)
INTAKE_REMINDER_ON_DUE_DATE = env.bool("INTAKE_REMINDER_ON_DUE_DATE", default=True)
INTAKE_REMINDER_OVERDUE_EVERY_DAYS = _schedule_days("INTAKE_REMINDER_OVERDUE_EVERY_DAYS", 7)
INTAKE_REMINDER_NOTHING_RECEIVED_DAYS = _schedule_days("INTAKE_REMINDER_NOTHING_RECEIVED_DAYS", 5)
# "I'll send it later" pauses a request's reminders this long; its link in a reminder
# works this long after the e-mail was sent.
INTAKE_REMINDER_LATER_DAYS = env_int("INTAKE_REMINDER_LATER_DAYS", 7, minimum=1)
INTAKE_REMINDER_LINK_MAX_AGE_DAYS = env_int("INTAKE_REMINDER_LINK_MAX_AGE_DAYS", 30, minimum=1)
# Beat looks for due reminders this often.
INTAKE_REMINDER_INTERVAL_MINUTES = env_int("INTAKE_REMINDER_INTERVAL_MINUTES", 15, minimum=1)
# A new request waits for staff to close it once complete, instead of closing itself.
INTAKE_REQUEST_WAITS_FOR_STAFF = env.bool("INTAKE_REQUEST_WAITS_FOR_STAFF", default=False)

# --- "Download all" zips (docs/bundles.md) ---------------------------------------------
# Zips are written under this prefix (outside INTAKE_S3_KEY_PREFIX, so no upload event
# sees them), kept INTAKE_BUNDLE_EXPIRES_HOURS, then deleted by the beat task.
INTAKE_BUNDLE_PREFIX = env.str("INTAKE_BUNDLE_PREFIX", default="bundles").strip("/")
INTAKE_BUNDLE_EXPIRES_HOURS = env_int("INTAKE_BUNDLE_EXPIRES_HOURS", 24, minimum=1)
# The zip's multipart part size (S3's minimum is 5 MiB) and how many parts are uploaded at
# once while the next fills; how much is read from S3 at a time, and how far a background
# reader gets ahead of the zip (0: read in line); how long one build may take (with its hard
# limit a minute later, below CELERY_VISIBILITY_TIMEOUT, or the broker would hand a long
# build to a second worker). Memory: about (parts in flight + 2) parts + read-ahead.
INTAKE_BUNDLE_PART_BYTES = env_int("INTAKE_BUNDLE_PART_BYTES", 8 * 1024 * 1024, minimum=5 * 1024 * 1024)
INTAKE_BUNDLE_PARTS_IN_FLIGHT = env_int("INTAKE_BUNDLE_PARTS_IN_FLIGHT", 2, minimum=1)
INTAKE_BUNDLE_CHUNK_BYTES = env_int("INTAKE_BUNDLE_CHUNK_BYTES", 1024 * 1024, minimum=4096)
INTAKE_BUNDLE_READ_AHEAD_BYTES = env_int("INTAKE_BUNDLE_READ_AHEAD_BYTES", 8 * 1024 * 1024, minimum=0)
INTAKE_BUNDLE_TIME_LIMIT_SECONDS = env_int("INTAKE_BUNDLE_TIME_LIMIT_SECONDS", 3000, minimum=60)
