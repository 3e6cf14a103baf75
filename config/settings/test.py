"""Settings for the test suite.

The database comes from DATABASE_URL (SQLite by default, PostgreSQL in CI); the S3
endpoint is set by the test fixtures that start the emulator.
"""

import os
import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES

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
