"""The signing latency histogram, observed around the contract's signing calls
(uploader.api.contract).

With PROMETHEUS_MULTIPROC_DIR set (several gunicorn workers), prometheus-client keeps
each process's values in a file there and `/metrics` adds them up; without it, values
live in this process only (docs/operations.md)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from prometheus_client import Histogram

logger = logging.getLogger(__name__)

# From a few milliseconds (one URL from our signer) to a batch of hundreds of parts.
SIGNING_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

SIGNING_SECONDS = Histogram(
    "intake_signing_seconds",
    "Time to answer a signing call of the upload contract, by call and outcome (signed: 2xx; refused: 4xx/5xx).",
    ["call", "outcome"],
    buckets=SIGNING_BUCKETS,
)


def timed_signing(call: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Observe the whole call, caller resolution and guards included: what a browser waits."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> HttpResponse:
            started = time.perf_counter()
            response = view(*args, **kwargs)
            outcome = "signed" if response.status_code < 400 else "refused"
            try:
                SIGNING_SECONDS.labels(call=call, outcome=outcome).observe(time.perf_counter() - started)
            except OSError:
                # Multiprocess mode with a missing or read-only directory (manage.py doctor
                # names it): the answer is already made and must not be lost to a metric.
                logger.warning("could not record the signing time in PROMETHEUS_MULTIPROC_DIR", exc_info=True)
            return response

        return wrapper

    return decorate
