"""gunicorn's settings for the web process (the image's `web` command).

Each value can be changed through the environment named beside it. Upload bytes
never pass through Django (browsers send them to S3), so requests are short: a
request still running after `timeout` seconds means a stuck worker, which gunicorn
replaces. https://docs.gunicorn.org/en/stable/settings.html
"""

from __future__ import annotations

import os
from typing import Any

from config.gunicorn_logs import JsonAccessLogger, gunicorn_logconfig


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


# The CPUs this process may run on (a container's cpuset, not the host's count).
_cpus = len(os.sched_getaffinity(0))

wsgi_app = "config.wsgi:application"
bind = f"{os.environ.get('GUNICORN_BIND_HOST', '0.0.0.0')}:{_positive_int('PORT', 8000)}"  # noqa: S104 - inside a container
# gunicorn's own advice, (2 x CPUs) + 1; threads cover the waits on S3 and the database.
workers = _positive_int("GUNICORN_WORKERS", 2 * _cpus + 1)
worker_class = "gthread"
threads = _positive_int("GUNICORN_THREADS", 2)
timeout = _positive_int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (a deploy, a scale-in), requests in flight get this long to finish.
graceful_timeout = _positive_int("GUNICORN_GRACEFUL_TIMEOUT", 25)
# Longer than a load balancer's idle timeout (the ALB's is 60 s), else the balancer
# may reuse a connection gunicorn has just closed and answer 502.
keepalive = _positive_int("GUNICORN_KEEPALIVE", 75)
# A worker is replaced after this many requests (jittered so they do not all restart
# together), which bounds slow memory growth.
max_requests = _positive_int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# The workers' heartbeat files in memory: a container's disk may be slow or read-only.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/dev/shm")  # noqa: S108 - gunicorn's documented advice
# The proxy in front (Caddy, the load balancer) sets X-Forwarded-*; Django reads them.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# The container engine (or the process manager) stops and restarts gunicorn; no
# runtime control socket is needed, and the app's folder is not writable for one.
control_socket_disable = True

loglevel = os.environ.get("DJANGO_LOG_LEVEL", "info").lower()
accesslog = None  # the access lines go through logconfig_dict, as JSON
errorlog = "-"
logger_class = JsonAccessLogger
logconfig_dict = gunicorn_logconfig(loglevel.upper())


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """Once, after the worker's first requests: freeze what they built to last
    (config.wsgi.freeze_long_lived_objects), so full garbage collections stay short."""
    from config.wsgi import FREEZE_AFTER_REQUESTS, freeze_long_lived_objects

    if worker.nr >= FREEZE_AFTER_REQUESTS and not getattr(worker, "intake_frozen", False):
        worker.intake_frozen = True
        freeze_long_lived_objects()
