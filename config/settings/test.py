"""Settings for the test suite.

The database comes from DATABASE_URL (SQLite by default, PostgreSQL in CI); the S3
endpoint is set by the test fixtures that start the emulator.
"""

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, CELERY_BROKER_URL, DATABASES, REDIS_URL

# Under pytest-xdist each worker gets its own Redis database: the rate limiters count
# per client address, every test comes from 127.0.0.1, and some tests clear the cache.
# gw0 keeps the URL's database, gw1 the next one, and so on; scripts/pytest.sh gives the
# run beside them (one_process) the slot after theirs in INTAKE_TEST_REDIS_SLOT. Only
# the pytest process decides: the marker tells every process a test starts (which
# inherits the moved URL, or is handed a test's own Redis) to take REDIS_URL as it is.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_REDIS_SLOT = _XDIST_WORKER[2:] if _XDIST_WORKER.startswith("gw") else os.environ.get("INTAKE_TEST_REDIS_SLOT", "")
if _REDIS_SLOT and os.environ.get("INTAKE_TEST_REDIS_WORKER") != _REDIS_SLOT:
    os.environ["INTAKE_TEST_REDIS_WORKER"] = _REDIS_SLOT
    if REDIS_URL:
        _shared_url = REDIS_URL
        _url = urlsplit(REDIS_URL)
        REDIS_URL = urlunsplit(_url._replace(path=f"/{int(_url.path.lstrip('/') or 0) + int(_REDIS_SLOT)}"))
        CACHES["default"]["LOCATION"] = REDIS_URL
        if _shared_url == CELERY_BROKER_URL:
            CELERY_BROKER_URL = REDIS_URL
        os.environ["REDIS_URL"] = REDIS_URL

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared-cache in-memory database: that one refuses
    # concurrent writers outright, so concurrency tests could not run on it.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"intake-test-{os.getpid()}.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
# Scanning is off unless a test turns it on (tests/support/clamd.py starts a real
# clamd for the scanning tests): every other test that stores a file and reads it at
# once would otherwise need clamd too. INTAKE_SCANNER in the environment wins.
INTAKE_SCANNER = os.environ.get("INTAKE_SCANNER", "none")
# Webhook tests run their receiver on 127.0.0.1.
INTAKE_WEBHOOKS_ALLOW_LOOPBACK = True
# No collected static files in tests; the live server serves them from the finders.
STATIC_ROOT = None
