"""`POST /api/events/s3`: S3-style event notifications pushed over HTTP.

How Ceph RGW (HTTP push endpoint) and MinIO (webhook target) deliver bucket
events. Authenticated by a shared token, sent as `Authorization: Bearer <token>`
(MinIO's `auth_token`) or as `?token=` in the push URL (Ceph's HTTP endpoint sends
no custom headers). The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from uploader.ingest.events import MAX_MESSAGE_BYTES
from uploader.ingest.models import EventSource
from uploader.ingest.tasks import events_receive

logger = logging.getLogger(__name__)


def body_too_large(request: HttpRequest, limit: int) -> bool:
    """By the declared length (cheap, before reading) or, when that is missing or
    wrong, by the body itself (Django caps what it reads at DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    return declared > limit or len(request.body) > limit


def _presented_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.GET.get("token", "")


@csrf_exempt  # a server-to-server call authenticated by its token, not a browser form
@require_POST
def s3_event_webhook(request: HttpRequest) -> HttpResponse:
    expected = settings.INTAKE_EVENTS_WEBHOOK_TOKEN
    if not expected:
        return JsonResponse({"message": "The event webhook is not enabled."}, status=404)
    if not hmac.compare_digest(_presented_token(request).encode(), expected.encode()):
        logger.warning("event webhook: refused a request with a wrong or missing token")
        return JsonResponse({"message": "A valid token is required."}, status=401)
    if body_too_large(request, MAX_MESSAGE_BYTES):
        return JsonResponse({"message": f"Messages are limited to {MAX_MESSAGE_BYTES} bytes."}, status=413)
    try:
        result = events_receive(body=request.body, source=EventSource.WEBHOOK)
    except OperationalError:
        # Stored, but the task queue is down: a 503 makes the sender retry, and the
        # retry enqueues what is still pending.
        logger.warning("event webhook: task queue unavailable; asked the sender to retry")
        return JsonResponse({"message": "Temporarily unable to process events; retry."}, status=503)
    if not result.usable:
        # Nothing usable: tell the sender why, so it shows in its logs.
        return JsonResponse({"message": "No usable event in the message.", "skipped": result.skipped}, status=400)
    return JsonResponse(
        {"recorded": len(result.recorded), "duplicates": result.duplicates, "skipped": result.skipped}
    )
