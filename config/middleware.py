"""Request context: one request id carried through logs, audit entries and the answer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config.request_context import ActorContext, acting, client_ip

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    """Takes a well-formed `X-Request-ID` from the proxy (or makes one), echoes it,
    and makes it and the client address available to audit entries and logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        address = client_ip(request.META, trusted_proxies=settings.INTAKE_TRUSTED_PROXIES)
        context = ActorContext(request_id=request_id, ip_address=address, request=request)
        with acting(context):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
