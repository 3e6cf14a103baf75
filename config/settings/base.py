"""Settings shared by every environment: Django's and the libraries'; Intake's own
INTAKE_* settings are in `intake` and imported here.

Every value comes from the environment (or a `.env` file for local use) through
`environment` (django-environ); only config/settings/ reads it. Defaults here are the
embedded ones that need no server: SQLite, a broker on the local filesystem, console
e-mail. `production.py` removes the defaults for secrets so a missing one stops
start-up with a message naming the variable.
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config.logs import JSON_FORMATTER, LOG_FILTERS
from config.settings.environment import (
    BASE_DIR,
    VAR_DIR,
    database_from_parts,
    env,
    env_int,
    env_origins,
    redis_url_with_password,
)
from config.settings.intake import *  # noqa: F403 - Intake's own settings

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
    # Before anything reads the Host: health checkers call the probes by IP (config.health).
    "config.health.ProbeHostMiddleware",
    # Next, so a preflight to /api/ is answered here and never reaches sign-in, CSRF
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
# Or in parts (DATABASE_HOST, ...; environment.database_from_parts), as ECS gives them.
DATABASES = {
    "default": database_from_parts() or env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'intake.sqlite3'}")
}
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

# REDIS_PASSWORD, when set, goes into the URL (the AWS stack hands it over as a secret).
REDIS_URL = redis_url_with_password(env.str("REDIS_URL", default=""))
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
# Where collectstatic puts the files WhiteNoise serves; the image collects them at
# build time into a folder of its own, read-only at run time.
STATIC_ROOT: Path | None = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # "intake" (the app's own objects in the bucket) is added with the S3 settings below.
}
# The app's own objects (portal logos, thumbnails, extracted text) go through
# django-storages' S3Storage on the same bucket and client settings as everything else
# (uploader.s3.app_files.AppFileStorage reads the INTAKE_S3_* values above when first
# used). Uploads never go through it: browsers send them straight to S3.
STORAGES["intake"] = {"BACKEND": "uploader.s3.app_files.AppFileStorage"}

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
        # kombu waits this long whenever a poll finds nothing it may take (also when
        # the worker is full): at its default of 1 s the worker ran about two tasks a
        # second whatever their length (docs/benchmarks.md, "Soak").
        "polling_interval": 0.1,
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
# Where beat keeps its schedule state when started without --schedule; the AWS stack's
# tasks have a read-only root filesystem and point it into /tmp.
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default="celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
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
# Stored files still waiting for a scan verdict (clamd was down, a task was lost).
CELERY_BEAT_SCHEDULE["scan-pending-uploads"] = {
    "task": "uploader.tasks.scan_pending_uploads",
    "schedule": 300.0,
}
# Every minute, so a row whose task was lost is enqueued again soon after it has been
# pending INTAKE_EVENTS_STUCK_MINUTES (not up to twice that).
# "Download all" zips past INTAKE_BUNDLE_EXPIRES_HOURS are deleted (uploader.bundles).
CELERY_BEAT_SCHEDULE["expire-bundles"] = {
    "task": "uploader.tasks.expire_bundles",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["retry-stuck-events"] = {
    "task": "uploader.tasks.retry_stuck_events",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["worker-heartbeat"] = {
    "task": "uploader.tasks.worker_heartbeat",
    "schedule": float(INTAKE_HEARTBEAT_SECONDS),
}
# The heartbeat has a queue of its own, which every worker also consumes (a worker
# started without -Q reads every queue named here, taking turns between them). On
# the default queue it would wait behind a backlog of event tasks, expire, and make
# a busy worker look dead to readiness and to make run's supervisor.
CELERY_TASK_DEFAULT_QUEUE = "celery"
HEARTBEAT_QUEUE = "intake-heartbeat"
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in (CELERY_TASK_DEFAULT_QUEUE, HEARTBEAT_QUEUE)]
CELERY_TASK_ROUTES = {"uploader.tasks.worker_heartbeat": {"queue": HEARTBEAT_QUEUE}}
# Retention: delete the files past their portal's retention_days, daily (the task
# enqueues itself again while a run's batch was full; two beats are harmless).
CELERY_BEAT_SCHEDULE["apply-retention"] = {
    "task": "uploader.tasks.apply_retention",
    "schedule": 24 * 3600.0,
}
# Document request reminders: each slot is claimed by a unique row before its e-mail,
# so two beats (or a retried run) never send one twice.
CELERY_BEAT_SCHEDULE["send-request-reminders"] = {
    "task": "uploader.tasks.send_request_reminders",
    "schedule": INTAKE_REMINDER_INTERVAL_MINUTES * 60.0,
}
# The search table's quarters, made a year ahead (uploader.uploads.search_table).
CELERY_BEAT_SCHEDULE["ensure-search-partitions"] = {
    "task": "uploader.tasks.ensure_search_partitions",
    "schedule": 24 * 3600.0,
}
CELERY_BEAT_SCHEDULE["retry-overdue-portal-webhooks"] = {
    "task": "uploader.tasks.retry_overdue_portal_webhooks",
    "schedule": 300.0,
}
if INTAKE_STACK_NAME:
    CELERY_BEAT_SCHEDULE["publish-celery-backlog"] = {
        "task": "uploader.tasks.publish_celery_backlog",
        "schedule": float(INTAKE_BACKLOG_METRIC_SECONDS),
    }

# --- Logging ------------------------------------------------------------------------
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
# "plain" for a person at a terminal; "json" (production's default) for a log shipper.
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": LOG_FILTERS,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"},
        "json": JSON_FORMATTER,
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
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
