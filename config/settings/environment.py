"""Reading the environment: the one place settings come from (django-environ, and a
`.env` file for local use), with helpers that refuse nonsense at start-up naming the
variable."""

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


# --- The database and Redis given in parts ----------------------------------------------
# On AWS (deploy/intake.yaml) RDS keeps the database password in Secrets Manager and
# ECS hands the tasks the user name and password as separate variables; the cache's
# AUTH token comes the same way. Building the settings from parts (instead of asking
# the entrypoint to write a URL) also spares the URL-quoting of passwords with @ / : in them.


def database_from_parts() -> dict[str, object] | None:
    """DATABASES["default"] from DATABASE_HOST, _PORT, _NAME, _USER, _PASSWORD, _SSLMODE
    (PostgreSQL), or None when DATABASE_HOST is not set. DATABASE_URL wins over parts."""
    host = env.str("DATABASE_HOST", default="")
    if not host:
        return None
    if env.str("DATABASE_URL", default=""):
        raise ImproperlyConfigured("Set DATABASE_URL or DATABASE_HOST (with its companions), not both")
    missing = [
        name for name in ("DATABASE_NAME", "DATABASE_USER", "DATABASE_PASSWORD") if not env.str(name, default="")
    ]
    if missing:
        raise ImproperlyConfigured(f"DATABASE_HOST is set, so {', '.join(missing)} must be set too")
    sslmode = env.str("DATABASE_SSLMODE", default="") or "prefer"
    if sslmode not in {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}:
        raise ImproperlyConfigured(f"DATABASE_SSLMODE must be one of PostgreSQL's sslmode values, not {sslmode!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": host,
        "PORT": env_int("DATABASE_PORT", 5432, minimum=1),
        "NAME": env.str("DATABASE_NAME"),
        "USER": env.str("DATABASE_USER"),
        "PASSWORD": env.str("DATABASE_PASSWORD"),
        "OPTIONS": {"sslmode": sslmode},
    }


def redis_url_with_password(url: str) -> str:
    """REDIS_URL with REDIS_PASSWORD (if set) put in as the URL's password, quoted."""
    from urllib.parse import quote, urlsplit, urlunsplit

    password = env.str("REDIS_PASSWORD", default="")
    if not password:
        return url
    if not url:
        raise ImproperlyConfigured("REDIS_PASSWORD is set but REDIS_URL is not")
    parts = urlsplit(url)
    if parts.password:
        raise ImproperlyConfigured("REDIS_URL already has a password; set it there or in REDIS_PASSWORD, not both")
    user = quote(parts.username or "", safe="")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))
