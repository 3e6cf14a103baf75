"""The JSON upload contract (Companion-compatible; what Uppy's AwsS3 plugin calls).

Each view binds its call's form (uploader.api.forms), calls one service and shapes
the answer; contract_api (uploader.api.decorators) resolves the caller and turns
errors into JSON answers.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from uploader.access.roles import Permission
from uploader.api import forms
from uploader.api.decorators import caller, contract_api
from uploader.ops.metrics.instruments import timed_signing
from uploader.uploads import selectors, services
from uploader.uploads.models import Upload

# --- answers ---------------------------------------------------------------------------------------


def upload_location(request: HttpRequest, upload: Upload) -> str:
    """Where the caller can read the upload: under the mount it called (a portal's, a
    request item's) for a client."""
    match = request.resolver_match
    if match is not None and "portal_token" in match.kwargs:
        path = reverse(
            f"{match.namespace}:upload-detail",
            kwargs={"portal_token": match.kwargs["portal_token"], "upload_id": upload.id},
        )
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
        # The malware scan (docs/scanning.md): downloads wait for clean, released or not_scanned.
        "scanState": upload.scan_state,
        "createdAt": upload.created_at.isoformat(),
        "storedAt": upload.stored_at.isoformat() if upload.stored_at else None,
        "location": upload_location(request, upload),
    }


# --- the contract ---------------------------------------------------------------------------------


@timed_signing("single")
@require_GET
@contract_api(Permission.UPLOAD)
def sign_single_upload(request: HttpRequest) -> HttpResponse:
    """`GET s3/params?filename=&type=&size=&md5=`: with size, a PUT (binding md5, the
    file's base64 MD5, when sent); without, a POST policy."""
    data = forms.SignSingleUploadForm(request.GET).values()
    upload, signed = services.upload_sign_single(
        principal=caller(request),
        filename=data["filename"],
        content_type=data["type"] or None,
        size=data["size"],
        content_md5=data["md5"],
    )
    return JsonResponse(
        {"method": signed.method, "url": signed.url, "fields": signed.fields, "headers": signed.headers,
         "key": upload.key, "id": str(upload.id)}
    )


@require_POST
@contract_api(Permission.UPLOAD)
def complete_single_upload(request: HttpRequest) -> HttpResponse:
    """`POST s3/complete?key=`: the browser's PUT/POST finished; S3 is asked what arrived."""
    data = forms.KeyForm(request.GET).values()
    upload = selectors.upload_get_by_key(principal=caller(request), key=data["key"])
    upload = services.upload_complete_single(upload=upload)
    return JsonResponse({"location": upload_location(request, upload), "key": upload.key, "upload": upload_as_json(request, upload)})


@timed_signing("multipart_create")
@require_POST
@contract_api(Permission.UPLOAD)
def create_multipart_upload(request: HttpRequest) -> HttpResponse:
    """`POST s3/multipart`; answers the part size every part but the last must be."""
    data = forms.CreateMultipartForm(forms.json_body(request)).values()
    upload = services.upload_create_multipart(
        principal=caller(request),
        filename=data["filename"],
        content_type=data["type"] or None,
        size=data["size"],
        part_size=data["partSize"],
    )
    return JsonResponse(
        {"key": upload.key, "uploadId": upload.multipart_upload_id, "id": str(upload.id), "partSize": upload.part_size}
    )


@timed_signing("part")
@require_GET
@contract_api(Permission.UPLOAD)
def sign_part(request: HttpRequest, upload_id: str, part_number: int) -> HttpResponse:
    """`GET s3/multipart/<uploadId>/<partNumber>?key=&md5=`: with md5 (the part's base64
    MD5) the URL binds it, and the answer names the header the client must send."""
    data = forms.SignPartForm(request.GET).values()
    content_md5 = data["md5"]
    upload = selectors.upload_get_multipart(principal=caller(request), upload_id=upload_id, key=data["key"])
    urls = services.upload_sign_parts(
        upload=upload, part_numbers=[part_number], content_md5s={part_number: content_md5} if content_md5 else None
    )
    answer: dict[str, Any] = {"url": urls[part_number], "expires": settings.INTAKE_PRESIGN_EXPIRES_SECONDS}
    if content_md5:
        answer["headers"] = {"content-md5": content_md5}
    return JsonResponse(answer)


@timed_signing("part_batch")
@require_GET
@contract_api(Permission.UPLOAD)
def sign_part_batch(request: HttpRequest, upload_id: str) -> HttpResponse:
    """`GET s3/multipart/<uploadId>/batch?key=&partNumbers=1,2,3` → `{presignedUrls: {n: url}}`."""
    data = forms.SignPartBatchForm(request.GET).values()
    upload = selectors.upload_get_multipart(principal=caller(request), upload_id=upload_id, key=data["key"])
    urls = services.upload_sign_parts(upload=upload, part_numbers=data["partNumbers"])
    return JsonResponse({"presignedUrls": {str(n): url for n, url in urls.items()},
                         "expires": settings.INTAKE_PRESIGN_EXPIRES_SECONDS})


@require_http_methods(["GET", "DELETE"])
@contract_api(Permission.UPLOAD)
def multipart_upload(request: HttpRequest, upload_id: str) -> HttpResponse:
    """`GET` lists the uploaded parts (a bare array: resume depends on it); `DELETE` aborts."""
    data = forms.KeyForm(request.GET).values()
    upload = selectors.upload_get_multipart(principal=caller(request), upload_id=upload_id, key=data["key"])
    if request.method == "DELETE":
        services.upload_abort_multipart(upload=upload)
        return JsonResponse({})
    parts = services.upload_list_parts(upload=upload)
    return JsonResponse([{"PartNumber": p.part_number, "ETag": p.etag, "Size": p.size} for p in parts], safe=False)


@require_POST
@contract_api(Permission.UPLOAD)
def complete_multipart_upload(request: HttpRequest, upload_id: str) -> HttpResponse:
    """`POST s3/multipart/<uploadId>/complete?key=` with `{parts: [{PartNumber, ETag}]}`."""
    # The key is in the query string (as on every call on an upload), the parts in the body.
    data = forms.CompleteMultipartForm({"key": request.GET.get("key"), "parts": forms.json_body(request).get("parts")}).values()
    upload = selectors.upload_get_multipart(principal=caller(request), upload_id=upload_id, key=data["key"])
    upload = services.upload_complete_multipart(upload=upload, parts=data["parts"])
    return JsonResponse({"location": upload_location(request, upload), "key": upload.key, "upload": upload_as_json(request, upload)})


@require_GET
@contract_api(Permission.BROWSE)
def upload_detail(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """`GET uploads/<id>`: the caller's own upload (where complete points)."""
    upload = selectors.upload_get(principal=caller(request), upload_id=upload_id)
    return JsonResponse(upload_as_json(request, upload))


# --- names bench/reference.py imports -------------------------------------------------------------
# It replays sign_single_upload step by step (benchmark 1r); the views use the forms.
_principal = caller


def _parse_int(value: Any, *, field: str, required: bool) -> int | None:
    return cast(int | None, forms.clean_value(forms.WholeNumberField(required=required), value, name=field))


def _require_str(value: Any, *, field: str) -> str:
    return cast(str, forms.clean_value(forms.TextField(), value, name=field))
