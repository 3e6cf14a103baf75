"""Liveness and readiness probes for load balancers and the run script."""

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from uploader import s3
from uploader.ops.heartbeats import background_health


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers. Also the bare JSON view benchmarks compare against."""
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Every dependency a request needs answers (database, cache, S3 bucket: else 503),
    and when the worker and each event consumer last showed they work."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; reported by type
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        cache.set("intake:ready", "1", 5)
        checks["cache"] = "ok" if cache.get("intake:ready") == "1" else "error: value lost"
    except Exception as exc:  # noqa: BLE001
        checks["cache"] = f"error: {type(exc).__name__}"
    try:
        s3.ping()
        checks["storage"] = "ok"
    except s3.StorageError as exc:
        checks["storage"] = f"error: {exc}"
    healthy = all(value == "ok" for value in checks.values())
    if not healthy:
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    # The background processes do not serve this request: a stuck worker or consumer
    # is reported ("degraded") for operators and `make run`, but the web process stays
    # in the load balancer.
    background = background_health()
    return JsonResponse(
        {"status": "ok" if background.healthy else "degraded", "checks": checks, "background": background.checks}
    )


PROBE_PATHS = frozenset({"/healthz/live", "/healthz/ready"})


class ProbeHostMiddleware:
    """Lets a health checker call the probes by the task's own address.

    A load balancer (the AWS stack's target group) or a container engine calls
    http://<private IP>:8000/healthz/..., a Host that ALLOWED_HOSTS (the site's name)
    refuses with 400. The probes read nothing from the request, so for these two paths
    only an unknown Host is replaced by the site's; every other path keeps Django's check.
    (Production exempts them from the https redirect too: SECURE_REDIRECT_EXEMPT.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in PROBE_PATHS:
            try:
                request.get_host()
            except DisallowedHost:
                request.META["HTTP_HOST"] = _a_site_host()
        return self.get_response(request)


def _a_site_host() -> str:
    """One name ALLOWED_HOSTS accepts (".example.com" accepts example.com)."""
    first = next((host for host in settings.ALLOWED_HOSTS if host != "*"), "localhost")
    return first.lstrip(".")
