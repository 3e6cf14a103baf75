"""WSGI entry point and URLconf for benchmark 1r (`run_all.py --only 1r`): the app plus
reference views that each do one more step of the single-upload signing call.

Nothing here is used by the app. gunicorn serves `bench.reference`, which is
`config.wsgi` with ROOT_URLCONF pointed at this module: every URL of the app
(`/healthz/live`, `/api/s3/params`, the sign-in form) is still served, through the
same middleware, next to these JSON views under `/bench/ref/`:

- `session`: the signing call's authentication and nothing else. It goes through
  `uploader.api.contract.contract_api(Permission.UPLOAD)`, as `GET /api/s3/params` does: the
  session from Redis (`cached_db`), the user (`request.user`), the role
  (`uploader.access.roles.permissions_of`), the principal and the by-hand CSRF check.
- `registration`: `session` plus the registration the signing call writes, by the
  same service code: `services._register` (validation, key, `full_clean`), then one
  transaction with `_admit`, the `Upload` INSERT and the `upload.registered` audit
  entry, and the same log line. It answers the same JSON shape with an empty URL:
  this is the whole signing call except `s3.presign_put_object`.
- `session-sign`: `session` plus signing a PUT for a fixed key, no database write:
  roughly what ADR 0005's option 2 (stateless registration) would cost, without its
  registration token.
- `sign`: `s3.presign_put_object` for a fixed key; no session, no database.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_GET

from config.wsgi import application  # noqa: F401 - sets Django up first
from uploader import s3
from uploader.access.principals import STAFF_SCOPE
from uploader.access.roles import Permission
from uploader.api.contract import _parse_int, _principal, _require_str, contract_api
from uploader.audit.services import audit_record
from uploader.uploads import keys, services

# The signing call logs through this logger; the reference logs the same line there.
services_logger = logging.getLogger("uploader.uploads.services")

SIZE = 1024**2
CONTENT_TYPE = "application/octet-stream"
# A key of the same shape and length as the ones the signing call makes.
FIXED_KEY = keys.build_object_key(
    prefix=settings.INTAKE_S3_KEY_PREFIX,
    scope=STAFF_SCOPE,
    upload_id=uuid.UUID(int=0),
    filename="bench.bin",
    now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
)


def _sign_fixed_key() -> str:
    return s3.presign_put_object(
        key=FIXED_KEY, content_type=CONTENT_TYPE, content_length=SIZE, expires_in=settings.INTAKE_PRESIGN_EXPIRES_SECONDS
    )


@require_GET
@contract_api(Permission.UPLOAD)
def session_view(request: HttpRequest) -> HttpResponse:
    principal = _principal(request)
    return JsonResponse({"status": "ok", "scope": principal.scope, "upload": principal.may(Permission.UPLOAD)})


@require_GET
@contract_api(Permission.UPLOAD)
def registration_view(request: HttpRequest) -> HttpResponse:
    """`uploader.api.contract.sign_single_upload` and `services.upload_sign_single` with a declared
    size, minus the signature (`s3.presign_put_object`)."""
    size = _parse_int(request.GET.get("size") or request.GET.get("metadata[size]"), field="size", required=False)
    if size is None:
        return JsonResponse({"message": "size is required here", "code": "invalid"}, status=400)
    principal = _principal(request)
    upload = services._register(
        principal=principal,
        filename=_require_str(request.GET.get("filename"), field="filename"),
        content_type=request.GET.get("type"),
        size=size,
        multipart=False,
    )
    with transaction.atomic():
        services._admit(upload, principal)
        upload.save(force_insert=True)
        audit_record(action="upload.registered", upload=upload, detail=services._registration_detail(upload, "PUT"))
    services_logger.info("upload %s registered (single %s, %s bytes)", upload.id, "PUT", size)
    return JsonResponse(
        {"method": "PUT", "url": "", "fields": {"key": upload.key}, "headers": {"content-type": upload.declared_content_type},
         "key": upload.key, "id": str(upload.id)}
    )


@require_GET
@contract_api(Permission.UPLOAD)
def session_sign_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"method": "PUT", "url": _sign_fixed_key(), "key": FIXED_KEY})


@require_GET
def sign_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"method": "PUT", "url": _sign_fixed_key(), "key": FIXED_KEY})


urlpatterns = [
    path("bench/ref/session", session_view),
    path("bench/ref/registration", registration_view),
    path("bench/ref/session-sign", session_sign_view),
    path("bench/ref/sign", sign_view),
    path("", include("config.urls")),
]

settings.ROOT_URLCONF = __name__
