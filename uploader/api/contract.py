"""The JSON upload contract (Companion-compatible; what Uppy's AwsS3 plugin calls).

Views only check input, call one service and shape the answer; contract_api
(uploader.api.decorators) resolves the caller and turns errors into JSON answers.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from uploader.access.roles import Permission
from uploader.api.decorators import caller, contract_api
from uploader.uploads import checksums, selectors, services
from uploader.uploads.errors import InvalidInput
from uploader.uploads.models import Upload

MAX_BATCH_QUERY_LENGTH = 8_000


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


_principal = caller  # bench/reference.py imports it from here


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
        principal=caller(request),
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
    upload = selectors.upload_get_by_key(principal=caller(request), key=_key_param(request))
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
        principal=caller(request),
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
    upload = selectors.upload_get_multipart(principal=caller(request), upload_id=upload_id, key=_key_param(request))
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
    upload = selectors.upload_get_multipart(principal=caller(request), upload_id=upload_id, key=_key_param(request))
    urls = services.upload_sign_parts(upload=upload, part_numbers=[n for n in numbers if n is not None])
    return JsonResponse({"presignedUrls": {str(n): url for n, url in urls.items()},
                         "expires": settings.INTAKE_PRESIGN_EXPIRES_SECONDS})


@require_http_methods(["GET", "DELETE"])
@contract_api(Permission.UPLOAD)
def multipart_upload(request: HttpRequest, upload_id: str) -> HttpResponse:
    """`GET` lists the uploaded parts (a bare array: resume depends on it); `DELETE` aborts."""
    upload = selectors.upload_get_multipart(principal=caller(request), upload_id=upload_id, key=_key_param(request))
    if request.method == "DELETE":
        services.upload_abort_multipart(upload=upload)
        return JsonResponse({})
    parts = services.upload_list_parts(upload=upload)
    return JsonResponse([{"PartNumber": p.part_number, "ETag": p.etag, "Size": p.size} for p in parts], safe=False)


@require_POST
@contract_api(Permission.UPLOAD)
def complete_multipart_upload(request: HttpRequest, upload_id: str) -> HttpResponse:
    """`POST s3/multipart/<uploadId>/complete?key=` with `{parts: [{PartNumber, ETag}]}`."""
    upload = selectors.upload_get_multipart(principal=caller(request), upload_id=upload_id, key=_key_param(request))
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
    upload = selectors.upload_get(principal=caller(request), upload_id=upload_id)
    return JsonResponse(upload_as_json(request, upload))

