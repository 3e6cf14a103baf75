"""Liveness and readiness probes for load balancers and the run script."""

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from uploader import s3


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers. Also the bare JSON view benchmarks compare against."""
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Every dependency a request needs answers: database, cache, S3 bucket."""
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
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503)
