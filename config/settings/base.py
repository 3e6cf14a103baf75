"""Settings shared by every environment.

Every value comes from the environment (or a `.env` file for local use) through
`django-environ`; this module is the only place that reads it. Defaults here are the
embedded ones that need no server: SQLite, a broker on the local filesystem, console
e-mail. `production.py` removes the defaults for secrets so a missing one stops
start-up with a message naming the variable.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Runtime state of the embedded set-up (SQLite file, broker folder, emulator data).
VAR_DIR = Path(os.environ.get("INTAKE_VAR_DIR") or BASE_DIR / "var")

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(str(BASE_DIR / ".env"), overwrite=False)


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Read an integer setting and refuse nonsense at start-up, naming the variable."""
    try:
        value = env.int(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer: {exc}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


# --- Core -----------------------------------------------------------------------
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-insecure-key-change-me-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "uploader",
    "dashboard",
]

MIDDLEWARE = [
    # First, so a preflight to /api/ is answered here and never reaches sign-in, CSRF
    # or a view, and every answer (errors included) carries the API's CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.signin.middleware.SignInExpiryMiddleware",
    "config.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'intake.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default is shared by the web process and the worker: WAL lets
    # readers run beside a writer, IMMEDIATE transactions and a timeout make
    # concurrent writers wait their turn instead of failing with "locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Shared cache: rate limits and sessions must hold across processes.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions live in the database (and are cached when Redis is there) so signing out
# really ends them; signed-cookie sessions could not be revoked.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db" if REDIS_URL else "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Auth ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

# Staff sign in through an Amazon Cognito user pool (dashboard.signin.oidc) when it is
# configured; these few values are all an operator needs. The endpoints, the issuer
# and the keys are derived from them (uploader.access.tokens.CognitoPool).
INTAKE_COGNITO_REGION = env.str("INTAKE_COGNITO_REGION", default="")
INTAKE_COGNITO_USER_POOL_ID = env.str("INTAKE_COGNITO_USER_POOL_ID", default="")
INTAKE_COGNITO_CLIENT_ID = env.str("INTAKE_COGNITO_CLIENT_ID", default="")
INTAKE_COGNITO_CLIENT_SECRET = env.str("INTAKE_COGNITO_CLIENT_SECRET", default="")
# The hosted UI: "auth.example.com" or "<prefix>.auth.<region>.amazoncognito.com".
INTAKE_COGNITO_DOMAIN = env.str("INTAKE_COGNITO_DOMAIN", default="")
# Only for a local test provider (http allowed on loopback only).
INTAKE_OIDC_ISSUER_OVERRIDE = env.str("INTAKE_OIDC_ISSUER_OVERRIDE", default="")
INTAKE_OIDC_JWKS_URL_OVERRIDE = env.str("INTAKE_OIDC_JWKS_URL_OVERRIDE", default="")
INTAKE_OIDC_ENABLED = bool(INTAKE_COGNITO_USER_POOL_ID)
if INTAKE_OIDC_ENABLED and not (
    INTAKE_COGNITO_REGION and INTAKE_COGNITO_CLIENT_ID and INTAKE_COGNITO_CLIENT_SECRET and INTAKE_COGNITO_DOMAIN
):
    raise ImproperlyConfigured(
        "INTAKE_COGNITO_USER_POOL_ID is set: INTAKE_COGNITO_REGION, INTAKE_COGNITO_CLIENT_ID, "
        "INTAKE_COGNITO_CLIENT_SECRET and INTAKE_COGNITO_DOMAIN are needed too"
    )
# Django's own password form. On by default only when Cognito is not configured
# (local mode); production refuses to start with neither.
INTAKE_ALLOW_PASSWORD_SIGN_IN = env.bool("INTAKE_ALLOW_PASSWORD_SIGN_IN", default=not INTAKE_OIDC_ENABLED)
# Which Cognito groups give which role (uploader.access.roles). Strongest role wins.
INTAKE_ROLE_GROUPS_ADMIN = env.list("INTAKE_ROLE_GROUPS_ADMIN", default=["intake-admins"])
INTAKE_ROLE_GROUPS_STAFF = env.list("INTAKE_ROLE_GROUPS_STAFF", default=["intake-staff"])
INTAKE_ROLE_GROUPS_VIEWER = env.list("INTAKE_ROLE_GROUPS_VIEWER", default=["intake-viewers"])
# Machine clients (client credentials) allowed to call the JSON API with a Bearer
# access token, and the resource server prefix of their scopes (<prefix>/upload,
# <prefix>/read).
INTAKE_MACHINE_CLIENT_IDS = env.list("INTAKE_MACHINE_CLIENT_IDS", default=[])
INTAKE_MACHINE_SCOPE_PREFIX = env.str("INTAKE_MACHINE_SCOPE_PREFIX", default="intake")
INTAKE_JWKS_TIMEOUT_SECONDS = env.float("INTAKE_JWKS_TIMEOUT_SECONDS", default=3.0)


def env_origins(name: str) -> list[str]:
    """Exact web origins (`scheme://host[:port]`): browsers send the Origin header in
    exactly that form and CORS compares it as a string, so a path, a trailing slash or
    a wildcard would never match (or, for a wildcard, match far too much)."""
    from urllib.parse import urlsplit

    origins = env.list(name, default=[])
    for origin in origins:
        parts = urlsplit(origin)
        if "*" in origin or parts.scheme not in {"http", "https"} or origin != f"{parts.scheme}://{parts.netloc}":
            raise ImproperlyConfigured(
                f"{name}: {origin!r} is not an exact origin such as https://app.example.com "
                "(scheme and host only: no path, no trailing slash, no wildcard)"
            )
    return origins


# Browser apps of the business on other origins that call the JSON API (/api/) with a
# Bearer access token (ADR 0008). Empty: the API answers its own origin only. Portal
# pages and their contract (/p/<token>/...) never answer other origins.
INTAKE_API_CORS_ALLOWED_ORIGINS = env_origins("INTAKE_API_CORS_ALLOWED_ORIGINS")
# django-cors-headers, derived from it: https://github.com/adamchainz/django-cors-headers#setup
CORS_ALLOWED_ORIGINS = INTAKE_API_CORS_ALLOWED_ORIGINS
CORS_URLS_REGEX = r"^/api/"
# Never true: cross-origin callers prove themselves with a Bearer token. With
# credentials a page on a listed origin could call the API as whoever is signed in to
# the dashboard in that browser (ADR 0008).
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ["DELETE", "GET", "OPTIONS", "POST"]
CORS_ALLOW_HEADERS = ["authorization", "content-type", "x-request-id"]
# Retry-After comes with 429 and 503 answers; X-Request-ID ties a call to our logs.
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID"]
# How long a browser may reuse a preflight answer (Chromium caps it at 2 hours).
CORS_PREFLIGHT_MAX_AGE = 3600

AUTHENTICATION_BACKENDS: list[str] = []
if INTAKE_OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("dashboard.signin.oidc.CognitoBackend")
if INTAKE_ALLOW_PASSWORD_SIGN_IN:
    AUTHENTICATION_BACKENDS.append("dashboard.signin.auth_backends.PasswordBackend")
if not AUTHENTICATION_BACKENDS:
    raise ImproperlyConfigured("INTAKE_ALLOW_PASSWORD_SIGN_IN=false needs Cognito (INTAKE_COGNITO_USER_POOL_ID)")

# mozilla-django-oidc, derived from the values above (dashboard.signin.oidc).
OIDC_RP_CLIENT_ID = INTAKE_COGNITO_CLIENT_ID
OIDC_RP_CLIENT_SECRET = INTAKE_COGNITO_CLIENT_SECRET
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
# The library has no timeout by default; a hung Cognito must not hang a worker.
OIDC_TIMEOUT = env.float("INTAKE_OIDC_TIMEOUT_SECONDS", default=5.0)
# Our callback view: unknown states and cancellations end on the no-access page.
OIDC_CALLBACK_CLASS = "dashboard.signin.oidc.CallbackView"
LOGIN_REDIRECT_URL_FAILURE = "/accounts/no-access/"
# How long a sign-in lasts before the browser goes back through Cognito (whose own
# session usually lets it straight through).
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env_int("INTAKE_OIDC_RENEW_SECONDS", 15 * 60, minimum=60)
if INTAKE_OIDC_ENABLED:
    _cognito_base = (
        INTAKE_COGNITO_DOMAIN.rstrip("/")
        if INTAKE_COGNITO_DOMAIN.startswith(("https://", "http://"))
        else f"https://{INTAKE_COGNITO_DOMAIN}"
    )
    OIDC_OP_AUTHORIZATION_ENDPOINT = f"{_cognito_base}/oauth2/authorize"
    OIDC_OP_TOKEN_ENDPOINT = f"{_cognito_base}/oauth2/token"
    OIDC_OP_USER_ENDPOINT = f"{_cognito_base}/oauth2/userInfo"
    # The library insists on one; dashboard.signin.oidc verifies with uploader.access.tokens' cache.
    OIDC_OP_JWKS_ENDPOINT = INTAKE_OIDC_JWKS_URL_OVERRIDE or (
        f"{(INTAKE_OIDC_ISSUER_OVERRIDE or f'https://cognito-idp.{INTAKE_COGNITO_REGION}.amazonaws.com/{INTAKE_COGNITO_USER_POOL_ID}').rstrip('/')}"
        "/.well-known/jwks.json"
    )

# How many proxies (load balancer, CloudFront) sit in front of Django and append to
# X-Forwarded-For. 0: the client is REMOTE_ADDR. Audit entries and rate limits use it.
INTAKE_TRUSTED_PROXIES = env_int("INTAKE_TRUSTED_PROXIES", 0, minimum=0)

# --- I18N / static -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT: Path | None = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- E-mail ------------------------------------------------------------------------
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="intake@localhost")
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
# A mail server that hangs must not hold a worker (or the notifier's row locks).
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 10, minimum=1)

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
INTAKE_S3_CONNECT_TIMEOUT = env.float("INTAKE_S3_CONNECT_TIMEOUT", default=3.0)
INTAKE_S3_READ_TIMEOUT = env.float("INTAKE_S3_READ_TIMEOUT", default=10.0)
# Whether `setup_bucket` may create the bucket; production buckets usually come from
# the deployment template and the app's role may not create buckets.
INTAKE_S3_CREATE_BUCKET = env.bool("INTAKE_S3_CREATE_BUCKET", default=False)
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

# --- Celery -------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
# Redis and SQS brokers redeliver a task whose worker vanished after this many
# seconds; it must exceed the longest retry delay (tasks back off up to 300 s).
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=301)
}
if CELERY_BROKER_URL == "filesystem://":
    # The embedded broker: messages are files in var/broker, no server to run.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # Threads, not prefork: this transport has no event loop, so a prefork worker
    # would use billiard's blocking pool, whose processes share one task pipe and
    # its lock, held by the process waiting for the next task. Killed (OOM, kill -9),
    # it leaves the lock taken and no task runs again until the worker restarts.
    # The threads pool has no process to lose, but enforces no time limits (make
    # run only: production refuses this broker). docs/operations.md.
    CELERY_WORKER_POOL = "threads"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180, minimum=1)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection around every task unless
# this is set; reconnecting then costs more than most tasks (docs/benchmarks.md,
# "Event pipeline"). config/celery_app.py applies Django's own per-request rule
# (CONN_MAX_AGE, health checks) around each task instead.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000, minimum=0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# How often arrived files are e-mailed to portals' notification targets (one digest
# per portal per run).
INTAKE_NOTIFY_INTERVAL_SECONDS = env_int("INTAKE_NOTIFY_INTERVAL_SECONDS", 60, minimum=5)
CELERY_BEAT_SCHEDULE = {
    "reconcile-uploads": {
        "task": "uploader.tasks.reconcile_uploads",
        "schedule": INTAKE_RECONCILE_INTERVAL_MINUTES * 60.0,
    },
    "notify-portal-uploads": {
        "task": "uploader.tasks.notify_portal_uploads",
        "schedule": float(INTAKE_NOTIFY_INTERVAL_SECONDS),
    },
    "process-pending-uploads": {
        "task": "uploader.tasks.process_pending_uploads",
        "schedule": 600.0,
    },
}

# --- Logging ------------------------------------------------------------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.request_context.RequestIdLogFilter"},
        "redact_portal_links": {"()": "config.request_context.RedactPortalLinksFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "redact_portal_links"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # botocore logs signed URLs and headers at DEBUG; they are bearer credentials.
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # These log request paths; a portal's path holds its link token.
        "django.request": {"filters": ["redact_portal_links"]},
        "django.server": {"filters": ["redact_portal_links"]},
    },
}

# --- Client upload portals (docs/configuration.md#portals, ADR 0006) -----------------------
# The site's public address; portal links are made with it (manage.py portal_create
# prints them, the dashboard shows them).
INTAKE_PUBLIC_BASE_URL = env.str("INTAKE_PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not INTAKE_PUBLIC_BASE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("INTAKE_PUBLIC_BASE_URL must start with https:// or http://")
# The key portal link tokens are derived with (HMAC). Empty: DJANGO_SECRET_KEY. Changing
# it changes every portal's link.
INTAKE_PORTAL_TOKEN_KEY = env.str("INTAKE_PORTAL_TOKEN_KEY", default="")


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate limit written `<requests>/<seconds>`, e.g. `60/60`."""
    raw = env.str(name, default=default)
    count, _, seconds = raw.partition("/")
    try:
        rate = (int(count), int(seconds))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must look like 60/60 (requests per seconds), not {raw!r}") from None
    if rate[0] < 1 or rate[1] < 1:
        raise ImproperlyConfigured(f"{name}: both numbers must be at least 1")
    return rate


# Per client address, counted in the shared cache (Redis when REDIS_URL is set), so
# the limits hold across processes: portal page views, password attempts, API calls.
INTAKE_PORTAL_RATE_PAGE = env_rate("INTAKE_PORTAL_RATE_PAGE", "120/60")
INTAKE_PORTAL_RATE_PASSWORD = env_rate("INTAKE_PORTAL_RATE_PASSWORD", "10/300")
INTAKE_PORTAL_RATE_API = env_rate("INTAKE_PORTAL_RATE_API", "600/60")
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
CELERY_BEAT_SCHEDULE["retry-overdue-portal-webhooks"] = {
    "task": "uploader.tasks.retry_overdue_portal_webhooks",
    "schedule": 300.0,
}

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
