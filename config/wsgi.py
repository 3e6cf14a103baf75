"""WSGI entry point (gunicorn config.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# After this many requests a worker has built what it builds once (the S3 client, whose
# botocore endpoint and service data are about 35,000 objects; compiled templates; the
# Redis client): gunicorn.conf.py's post_request hook then freezes again.
FREEZE_AFTER_REQUESTS = 100


def freeze_long_lived_objects() -> None:
    """Collect, then move every object left into the permanent generation, out of the
    cyclic garbage collector's reach. A full collection (every few hundred requests)
    walks every object the collector tracks: with the app's 120,000 start-up objects and
    botocore's data in reach it took 50-190 ms on the benchmark machine, the slow
    request of a page's p95 (docs/benchmarks.md, benchmark 7, run 3). Frozen objects
    are still freed by reference counting."""
    gc.collect()
    gc.freeze()


application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view now
freeze_long_lived_objects()
