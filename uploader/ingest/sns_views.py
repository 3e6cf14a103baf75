"""`POST /api/events/sns`: S3 event notifications delivered by Amazon SNS over HTTPS.

Thin on purpose: size and JSON checks here, proof of origin in `uploader.ingest.sns`, storage
in the ledger. The URL is public and carries no token; only the message signature and
the allowed topic list (INTAKE_SNS_TOPIC_ARNS, empty = endpoint off) decide.

SNS posts with `Content-Type: text/plain`, so the body is read as JSON whatever the
content type says. Answers follow SNS's retry rule: 2xx and 4xx are final (a forged
message gets 403 and is never retried), anything else is retried for up to an hour,
so a 5xx is answered only when a retry can succeed: SNS unreachable for the
certificate or the confirmation, or the task queue down.
"""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from uploader.ingest import sns
from uploader.ingest.models import EventSource
from uploader.ingest.push_views import body_too_large
from uploader.ingest.tasks import events_receive

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


def _refused(reason: str, status: int) -> JsonResponse:
    return JsonResponse({"message": "The SNS message was refused.", "reason": reason}, status=status)


@csrf_exempt  # a server-to-server call proven by its signature, not a browser form
@require_POST
def sns_endpoint(request: HttpRequest) -> HttpResponse:
    if not sns.allowed_topic_arns():
        return JsonResponse({"message": "The SNS endpoint is not enabled."}, status=404)
    if body_too_large(request, MAX_BODY_BYTES):
        return JsonResponse({"message": f"Messages are limited to {MAX_BODY_BYTES} bytes."}, status=413)
    try:
        document = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"message": "The body is not JSON."}, status=400)
    except RecursionError:
        return JsonResponse({"message": "The body is nested too deeply to be an SNS message."}, status=400)
    if not isinstance(document, dict):
        return JsonResponse({"message": "The body is not a JSON object."}, status=400)

    try:
        message = sns.message_verify(document)
        if message.type == sns.SUBSCRIPTION_CONFIRMATION:
            sns.subscription_confirm(message)
    except sns.SnsMessageRejected as exc:
        logger.warning("sns: refused a message: %s", exc.reason)
        return _refused(exc.reason, 403)
    except sns.SnsUnavailable as exc:
        logger.warning("sns: could not check a message now (SNS will retry): %s", exc.reason)
        return _refused(exc.reason, 503)

    if message.type == sns.NOTIFICATION:
        try:
            result = events_receive(body=message.message, source=EventSource.SNS)
        except OperationalError:
            # Stored, but the task queue is down: a 5xx makes SNS retry, and the retry
            # enqueues what is still pending.
            logger.warning("sns: task queue unavailable; SNS will retry message %s", message.message_id)
            return JsonResponse({"message": "Temporarily unable to process events; retry."}, status=503)
        return JsonResponse(
            {"recorded": len(result.recorded), "duplicates": result.duplicates, "skipped": result.skipped}
        )
    if message.type == sns.SUBSCRIPTION_CONFIRMATION:
        return JsonResponse({"confirmed": True, "topic": message.topic_arn})
    # UnsubscribeConfirmation: events from this topic stop; someone should know.
    logger.warning("sns: the subscription to %s was removed (message %s)", message.topic_arn, message.message_id)
    return JsonResponse({"unsubscribed": True, "topic": message.topic_arn})
