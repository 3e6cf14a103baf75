"""Production settings: secrets have no defaults, so a missing one stops start-up.

Each check raises ImproperlyConfigured naming the variable and why it matters.
"""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import env


def _required(name: str, why: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} is required in production: {why}")
    return value


DEBUG = False
SECRET_KEY = _required("DJANGO_SECRET_KEY", "it signs sessions and CSRF tokens")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("local-only"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a random value of at least 50 characters")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required in production: the site's host names")
if not (env.str("DATABASE_URL", default="") or env.str("DATABASE_HOST", default="")):
    raise ImproperlyConfigured(
        "DATABASE_URL (or DATABASE_HOST and its companions) is required in production: "
        "production data must not live in a local SQLite file"
    )
INTAKE_S3_BUCKET = _required("INTAKE_S3_BUCKET", "the bucket that receives uploads")
if not env.list("INTAKE_CORS_ALLOWED_ORIGINS", default=[]):
    raise ImproperlyConfigured(
        "INTAKE_CORS_ALLOWED_ORIGINS is required in production: browsers upload straight "
        "to the bucket, which must allow the site's origin"
    )
if any(not origin.startswith("https://") for origin in INTAKE_API_CORS_ALLOWED_ORIGINS):
    raise ImproperlyConfigured(
        "INTAKE_API_CORS_ALLOWED_ORIGINS must list https:// origins in production: a page served over "
        "plain HTTP can be changed on the way, and with it the calls it makes with a Bearer token"
    )
if not env.str("INTAKE_PUBLIC_BASE_URL", default="").startswith("https://"):
    raise ImproperlyConfigured(
        "INTAKE_PUBLIC_BASE_URL is required in production (https://…): portal links printed by "
        "manage.py portal_create and shown to staff start with it"
    )
if len(_required("INTAKE_WEBHOOK_SIGNING_KEY", "portal webhook receivers check X-Intake-Signature with it")) < 32:
    raise ImproperlyConfigured("INTAKE_WEBHOOK_SIGNING_KEY must be a random value of at least 32 characters")
if CELERY_BROKER_URL == "filesystem://":
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL or REDIS_URL is required in production: the filesystem broker "
        "only works on one machine"
    )
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is required in production: rate limits and cached sessions must be shared by every "
        "process (without it each process would keep its own counts)"
    )

if CELERY_BROKER_URL.startswith("rediss://") and "ssl_cert_reqs=required" not in CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        "A rediss:// REDIS_URL (or CELERY_BROKER_URL) needs ?ssl_cert_reqs=required in production: without it "
        "Celery's broker connection uses TLS but accepts any certificate"
    )

if not INTAKE_OIDC_ENABLED and not env.bool("INTAKE_ALLOW_PASSWORD_SIGN_IN", default=False):
    raise ImproperlyConfigured(
        "Staff sign in through Cognito in production: set INTAKE_COGNITO_USER_POOL_ID and its companions "
        "(docs/configuration.md), or set INTAKE_ALLOW_PASSWORD_SIGN_IN=true to allow Django's password "
        "sign-in on purpose"
    )

# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health checkers call the probes over plain http inside the network (the load balancer
# terminates TLS); a redirect would read as "unhealthy".
SECURE_REDIRECT_EXEMPT = [r"^healthz/(live|ready)$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Preloading is the business's one-way choice for its whole domain (browsers then refuse
# plain HTTP on every subdomain, and leaving the list takes months), so it is opted into
# here, never assumed; until then `check --deploy`'s reminder about it is silenced.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")

# JSON lines on stdout, where containers' logs are collected; Celery keeps its hands
# off the root logger so the worker and beat write the same lines.
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"DJANGO_LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING["handlers"]["console"].update(formatter=LOG_FORMAT, stream="ext://sys.stdout")  # type: ignore[index]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
