"""The JSON upload contract (Companion-compatible; what Uppy's AwsS3 plugin calls).

Views only check input, call one service and shape the answer. Errors come back as
`{"message", "code", "field"}` with the status the service's error carries:
400 bad input, 404 not yours or not there, 409 wrong state, 503 storage down.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware, RejectRequest
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from uploader.access import machine
from uploader.access.principals import UploadPrincipal, signed_in_principal
from uploader.access.roles import NotAllowed, Permission
from uploader.uploads import checksums, selectors, services
from uploader.uploads.errors import InvalidInput, Unauthenticated, UploadError
from uploader.uploads.models import Upload

logger = logging.getLogger(__name__)

MAX_BATCH_QUERY_LENGTH = 8_000

View = Callable[..., HttpResponse]


def error_response(*, status: int, message: str, code: str, field: str | None = None) -> JsonResponse:
    return JsonResponse({"message": message, "code": code, "field": field}, status=status)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        return error_response(status=403, message=f"CSRF check failed: {reason}", code="csrf")


def _csrf_failure(request: HttpRequest) -> HttpResponse | None:
    """Django's CSRF check, run by hand for session callers: the views are exempt from
    the middleware so that Bearer callers (no cookies, so nothing to forge) need no
    token. Unlike the middleware, the token is required on GETs too: the contract's
    GETs register uploads and sign parts, and a cross-site link could otherwise make
    a signed-in browser do that (ADR 0004). Our pages send it with every call."""
    if getattr(request, "_dont_enforce_csrf_checks", False):
        return None  # Django's test client, unless it asks for the checks
    check = _CsrfCheck(lambda r: HttpResponse())
    if request.method not in {"GET", "HEAD"}:
        return check.process_view(request, None, (), {})  # type: ignore[arg-type]
    try:
        check._check_token(request)  # type: ignore[attr-defined]  # Django 5.2; pinned
    except RejectRequest as exc:
        return error_response(status=403, message=f"CSRF check failed: {exc.reason}", code="csrf")
    return None


def _is_bearer(request: HttpRequest) -> bool:
    """A machine client's call: `Authorization: Bearer …`. Another scheme (Basic, which
    browsers add by themselves behind HTTP auth on a staging site) is not a caller's
    credential here: the session decides, with all its guards."""
    return machine.is_bearer_header(request.headers.get("Authorization"))


def _principal_for(request: HttpRequest, portal_token: str | None) -> UploadPrincipal:
    """Who is calling: a portal visitor, a machine client (Bearer), or a person."""
    if portal_token is not None:
        from uploader.portals.access import portal_principal  # portals build on this module

        return portal_principal(request, portal_token)
    if _is_bearer(request):
        return machine.principal_from_authorization(request.headers["Authorization"])
    user = request.user
    if not user.is_authenticated:
        raise Unauthenticated("Sign in to upload files.")
    return signed_in_principal(user)


def contract_api(permission: Permission) -> Callable[[View], View]:
    """Resolve the caller, check it may do `permission`, and turn domain errors into
    JSON answers: 401 unknown caller, 403 known but not allowed, 404/409/400/503 from
    the services.

    Requests a browser marks as cross-site are refused outright unless they carry a
    Bearer token: the signing calls include GETs that register uploads, and a session
    cookie must never sign for another site's page.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, portal_token: str | None = None, **kwargs: Any) -> HttpResponse:
            # The caller is a machine client exactly when this is the staff API and a
            # Bearer Authorization header is there: such a request is authenticated by its
            # token alone (never the session, see _principal_for), so a cross-site page,
            # which cannot forge the token, gains nothing. Browser apps of the business
            # on other sites call with theirs (CORS, ADR 0008). Portal calls are always
            # session callers, whatever headers a browser adds (HTTP auth in front of a
            # staging site, say): both guards hold for them.
            bearer = portal_token is None and _is_bearer(request)
            if request.headers.get("Sec-Fetch-Site") == "cross-site" and not bearer:
                return error_response(status=403, message="Cross-site requests are not allowed.", code="forbidden")
            try:
                principal = _principal_for(request, portal_token)
                if not principal.may(permission):
                    raise NotAllowed(permission)
                if not bearer and (failure := _csrf_failure(request)) is not None:
                    return failure
                request.intake_principal = principal  # type: ignore[attr-defined]
                if principal.owner is not None and bearer:
                    # A machine client: the audit trail names it like a signed-in user
                    # (even when the request also carries someone's session cookie).
                    request.user = principal.owner
                return view(request, *args, **kwargs)
            except machine.BearerRefused as exc:
                response = error_response(status=exc.status, message=exc.message, code=exc.code)
                if exc.status == 401:
                    response["WWW-Authenticate"] = f'Bearer error="{exc.code}"'
                return response
            except Unauthenticated as exc:
                return error_response(status=401, message=str(exc), code="unauthenticated")
            except PermissionDenied as exc:
                return error_response(status=403, message=str(exc) or "Not allowed.", code="forbidden")
            except UploadError as exc:
                response = error_response(status=exc.status, message=exc.message, code=exc.code, field=exc.field)
                if retry_after := getattr(exc, "retry_after", None):
                    response["Retry-After"] = str(retry_after)
                return response
            except ValidationError as exc:
                # A model's own validation (full_clean) caught what the services did not.
                return error_response(status=400, message=" ".join(exc.messages)[:300], code="invalid")

        return csrf_exempt(wrapper)

    return decorate


# --- input helpers ---------------------------------------------------------------------------


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return body


def _parse_int(value: Any, *, field: str, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{field} is required.", field=field)
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a whole number.", field=field)
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number.", field=field) from None


def _require_str(value: Any, *, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required.", field=field)
    return value


def _key_param(request: HttpRequest) -> str:
    return _require_str(request.GET.get("key"), field="key")


def _principal(request: HttpRequest) -> UploadPrincipal:
    """The caller contract_api resolved for this request."""
    return cast(UploadPrincipal, request.intake_principal)  # type: ignore[attr-defined]


def upload_location(request: HttpRequest, upload: Upload) -> str:
    """Where the caller can read the upload: under the portal for a portal visitor."""
    match = request.resolver_match
    if match is not None and "portal_token" in match.kwargs:
        path = reverse("portal:api:upload-detail", kwargs={"portal_token": match.kwargs["portal_token"], "upload_id": upload.id})
    else:
        path = reverse("uploader:upload-detail", args=[upload.id])
    return request.build_absolute_uri(path)


def upload_as_json(request: HttpRequest, upload: Upload) -> dict[str, Any]:
    return {
        "id": str(upload.id),
        "key": upload.key,
        "filename": upload.original_filename,
        "state": upload.state,
        "declaredSize": upload.declared_size,
        "storedSize": upload.stored_size,
        "contentType": upload.declared_content_type,
        "etag": upload.etag,
        "multipart": upload.is_multipart,
        "rejectionReason": upload.rejection_reason or None,
        "createdAt": upload.created_at.isoformat(),
        "storedAt": upload.stored_at.isoformat() if upload.stored_at else None,
        "location": upload_location(request, upload),
    }


# --- the contract ---------------------------------------------------------------------------------


@require_GET
@contract_api(Permission.UPLOAD)
def sign_single_upload(request: HttpRequest) -> HttpResponse:
    """`GET s3/params?filename=&type=&size=&md5=` (size and md5 also read from
    `metadata[size]`, `metadata[md5]`; md5 is the file's base64 MD5, bound into the PUT)."""
    size = _parse_int(request.GET.get("size") or request.GET.get("metadata[size]"), field="size", required=False)
    content_md5 = checksums.parse_content_md5(request.GET.get("md5") or request.GET.get("metadata[md5]"), field="md5")
    if content_md5 and size is None:
        # Without a size the answer is a POST policy, which would not bind the digest.
        raise InvalidInput("md5 needs the file's size too (send size or metadata[size]).", field="md5")
    upload, signed = services.upload_sign_single(
        principal=_principal(request),
        filename=_require_str(request.GET.get("filename"), field="filename"),
        content_type=request.GET.get("type"),
        size=size,
        content_md5=content_md5,
    )
    return JsonResponse(
        {"method": signed.method, "url": signed.url, "fields": signed.fields, "headers": signed.headers,
         "key": upload.key, "id": str(upload.id)}
    )


@require_POST
@contract_api(Permission.UPLOAD)
def complete_single_upload(request: HttpRequest) -> HttpResponse:
    """`POST s3/complete?key=`: the browser's PUT/POST finished; S3 is asked what arrived."""
    upload = selectors.upload_get_by_key(principal=_principal(request), key=_key_param(request))
    upload = services.upload_complete_single(upload=upload)
    return JsonResponse({"location": upload_location(request, upload), "key": upload.key, "upload": upload_as_json(request, upload)})


@require_POST
@contract_api(Permission.UPLOAD)
def create_multipart_upload(request: HttpRequest) -> HttpResponse:
    """`POST s3/multipart` with `{filename, type, metadata: {size, partSize}}` (or a
    top-level size and partSize); answers the part size every part but the last must be."""
    body = _json_body(request)
    metadata = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    size = _parse_int(body.get("size", metadata.get("size")), field="size", required=True)
    assert size is not None  # required=True
    upload = services.upload_create_multipart(
        principal=_principal(request),
        filename=_require_str(body.get("filename"), field="filename"),
        content_type=body.get("type") if isinstance(body.get("type"), str) else None,
        size=size,
        part_size=_parse_int(body.get("partSize", metadata.get("partSize")), field="partSize", required=False),
    )
    return JsonResponse(
        {"key": upload.key, "uploadId": upload.multipart_upload_id, "id": str(upload.id), "partSize": upload.part_size}
    )


@require_GET
@contract_api(Permission.UPLOAD)
def sign_part(request: HttpRequest, upload_id: str, part_number: int) -> HttpResponse:
    """`GET s3/multipart/<uploadId>/<partNumber>?key=&md5=`: with md5 (the part's base64
    MD5) the URL binds it, and the answer names the header the client must send."""
    content_md5 = checksums.parse_content_md5(request.GET.get("md5"), field="md5")
    upload = selectors.upload_get_multipart(principal=_principal(request), upload_id=upload_id, key=_key_param(request))
    urls = services.upload_sign_parts(
        upload=upload, part_numbers=[part_number], content_md5s={part_number: content_md5} if content_md5 else None
    )
    answer: dict[str, Any] = {"url": urls[part_number], "expires": settings.INTAKE_PRESIGN_EXPIRES_SECONDS}
    if content_md5:
        answer["headers"] = {"content-md5": content_md5}
    return JsonResponse(answer)


@require_GET
@contract_api(Permission.UPLOAD)
def sign_part_batch(request: HttpRequest, upload_id: str) -> HttpResponse:
    """`GET s3/multipart/<uploadId>/batch?key=&partNumbers=1,2,3` → `{presignedUrls: {n: url}}`."""
    raw = request.GET.get("partNumbers", "")
    if len(raw) > MAX_BATCH_QUERY_LENGTH:
        raise InvalidInput("partNumbers is too long.", field="partNumbers")
    numbers = [_parse_int(n, field="partNumbers", required=True) for n in raw.split(",") if n.strip()]
    upload = selectors.upload_get_multipart(principal=_principal(request), upload_id=upload_id, key=_key_param(request))
    urls = services.upload_sign_parts(upload=upload, part_numbers=[n for n in numbers if n is not None])
    return JsonResponse({"presignedUrls": {str(n): url for n, url in urls.items()},
                         "expires": settings.INTAKE_PRESIGN_EXPIRES_SECONDS})


@require_http_methods(["GET", "DELETE"])
@contract_api(Permission.UPLOAD)
def multipart_upload(request: HttpRequest, upload_id: str) -> HttpResponse:
    """`GET` lists the uploaded parts (a bare array: resume depends on it); `DELETE` aborts."""
    upload = selectors.upload_get_multipart(principal=_principal(request), upload_id=upload_id, key=_key_param(request))
    if request.method == "DELETE":
        services.upload_abort_multipart(upload=upload)
        return JsonResponse({})
    parts = services.upload_list_parts(upload=upload)
    return JsonResponse([{"PartNumber": p.part_number, "ETag": p.etag, "Size": p.size} for p in parts], safe=False)


@require_POST
@contract_api(Permission.UPLOAD)
def complete_multipart_upload(request: HttpRequest, upload_id: str) -> HttpResponse:
    """`POST s3/multipart/<uploadId>/complete?key=` with `{parts: [{PartNumber, ETag}]}`."""
    upload = selectors.upload_get_multipart(principal=_principal(request), upload_id=upload_id, key=_key_param(request))
    raw_parts = _json_body(request).get("parts")
    if not isinstance(raw_parts, list):
        raise InvalidInput("parts must be a list of {PartNumber, ETag}.", field="parts")
    parts = []
    for raw in raw_parts:
        if not isinstance(raw, dict) or not isinstance(raw.get("ETag"), str):
            raise InvalidInput("Each part needs a PartNumber and an ETag.", field="parts")
        number = _parse_int(raw.get("PartNumber"), field="parts", required=True)
        assert number is not None
        parts.append(services.PartETag(part_number=number, etag=raw["ETag"]))
    upload = services.upload_complete_multipart(upload=upload, parts=parts)
    return JsonResponse({"location": upload_location(request, upload), "key": upload.key, "upload": upload_as_json(request, upload)})


@require_GET
@contract_api(Permission.BROWSE)
def upload_detail(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """`GET uploads/<id>`: the caller's own upload (where complete points)."""
    upload = selectors.upload_get(principal=_principal(request), upload_id=upload_id)
    return JsonResponse(upload_as_json(request, upload))

