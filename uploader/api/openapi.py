"""The OpenAPI 3.1 description of the JSON upload API (served at /api/openapi.json).

Kept next to the views it describes; tests check every route is described and the
document is valid OpenAPI. Shared pieces and the schemas are in openapi_schemas.
Packages above this one that mount calls of their own under /api/ (document requests)
describe them next to their views too, and `uploader.apps` installs those sections
here (`install`), as it installs the uploads package's followups: nothing here imports
them.
"""

import copy
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from uploader.api.openapi_schemas import (
    COMPONENTS,
    CONTENT_TYPE,
    ETAG,
    FILENAME,
    KEY,
    MAX_PART_NUMBER,
    MULTIPART_UPLOAD_ID,
    PART_NUMBER,
    SIZE,
    answer,
    errors,
)

_MD5 = {
    "name": "md5",
    "in": "query",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9+/]{22}==$"},
    "description": "The base64 MD5 of the bytes to be sent; signed into the URL as Content-MD5.",
}
_KEY = {"name": "key", "in": "query", "required": True, "schema": KEY, "description": "Object key returned when the upload was created."}
_PART_SIZE = {
    "type": "integer",
    "minimum": 5 * 1024**2,
    "maximum": 5 * 1024**3,
    "description": "Bytes in every part but the last (default: the server's part size). Each part URL binds its"
    " Content-Length: this size, and the remainder for the last part. At most 10,000 parts.",
}
_UPLOAD_ID = {"name": "uploadId", "in": "path", "required": True, "schema": MULTIPART_UPLOAD_ID, "description": "S3 multipart upload id."}
# Every contract call can also meet a portal's answers: no such link (404), closed (410), rate-limited (429).
_COMMON = (400, 401, 403, 404, 409, 410, 429, 503)
_REGISTER = (400, 401, 403, 404, 410, 429, 503)
_SIZE_TEXT = {"type": ["integer", "string"], "minimum": 1, "maximum": SIZE["maximum"], "pattern": "^[0-9]+$"}
# Links: where a call's answer leads (Uppy's own sequence), so clients and stateful fuzzing can follow it.
_ON_MULTIPART = {"path.uploadId": "$response.body#/uploadId", "query.key": "$response.body#/key"}
_MULTIPART_LINKS = {
    "SignPart": {"operationId": "signPart", "parameters": _ON_MULTIPART},
    "SignParts": {"operationId": "signParts", "parameters": _ON_MULTIPART},
    "ListParts": {"operationId": "listParts", "parameters": _ON_MULTIPART},
    "Complete": {"operationId": "completeMultipartUpload", "parameters": _ON_MULTIPART},
    "Abort": {"operationId": "abortMultipartUpload", "parameters": _ON_MULTIPART},
    "GetUpload": {"operationId": "getUpload", "parameters": {"path.id": "$response.body#/id"}},
}
_SINGLE_LINKS = {
    "Complete": {"operationId": "completeSingleUpload", "parameters": {"query.key": "$response.body#/key"}},
    "GetUpload": {"operationId": "getUpload", "parameters": {"path.id": "$response.body#/id"}},
}
_COMPLETED_LINKS = {"GetUpload": {"operationId": "getUpload", "parameters": {"path.id": "$response.body#/upload/id"}}}


def _linked(response: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    return {**response, "links": links}


_EXPIRES = {"type": "integer", "minimum": 1, "description": "Seconds the URLs stay valid."}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Intake upload API",
        "version": "1.0.0",
        "description": (
            "Companion-compatible calls that Uppy's AwsS3 plugin (v5 `endpoint`, v6 `companionEndpoint`) uses to upload "
            "straight to S3. The server makes every object key; the client never chooses one. "
            "Browser calls use the staff session; they pass the CSRF check when the browser says they come "
            "from this site (`Sec-Fetch-Site: same-origin`, or an `Origin` of this site or of "
            "CSRF_TRUSTED_ORIGINS), and only from a browser that sends neither header must they carry "
            "`X-CSRFToken`. Machine clients send `Authorization: Bearer <Cognito access token>` instead."
        ),
    },
    "servers": [
        {"url": "/api", "description": "Staff (session) and machine clients (Bearer)"},
        {
            "url": "/p/{portalToken}/api",
            "description": (
                "A client portal: the /s3 calls and GET /uploads/{id} only, for a browser session that has "
                "opened the portal page (password and name/e-mail when the portal asks). Limits are the "
                "portal's; a visitor sees only what that session uploaded; 429 when rate-limited."
            ),
            "variables": {"portalToken": {"default": "token", "description": "The token in the portal's link."}},
        },
    ],
    "security": [{"staffSession": []}, {"cognitoAccessToken": []}],
    "paths": {
        "/s3/params": {
            "get": {
                "operationId": "signSingleUpload",
                "summary": "Register a single-request upload and sign it",
                "description": (
                    "With `size` (or `metadata[size]`): a PUT whose signature binds key, Content-Type and "
                    "Content-Length, and with `md5` (or `metadata[md5]`, the file's base64 MD5) the Content-MD5 "
                    "too: S3 refuses other bytes, and the answer's `headers` name it. Without a size: a POST "
                    "policy fixing key and type, with a content-length-range up to the limit."
                ),
                "parameters": [
                    {"name": "filename", "in": "query", "required": True, "schema": FILENAME},
                    {"name": "type", "in": "query", "schema": CONTENT_TYPE},
                    {"name": "size", "in": "query", "schema": SIZE},
                    {"name": "metadata[size]", "in": "query", "schema": SIZE},
                    _MD5,
                    {**_MD5, "name": "metadata[md5]"},
                ],
                "responses": {
                    "200": _linked(answer("The signed request", {"$ref": "#/components/schemas/SignedRequest"}), _SINGLE_LINKS),
                    **errors(*_REGISTER),
                },
            }
        },
        "/s3/complete": {
            "post": {
                "operationId": "completeSingleUpload",
                "summary": "Record a finished single-request upload (the server HEADs the object)",
                "parameters": [_KEY],
                "responses": {"200": _linked(answer("Stored", {"$ref": "#/components/schemas/Completed"}), _COMPLETED_LINKS), **errors(*_COMMON)},
            }
        },
        "/s3/multipart": {
            "post": {
                "operationId": "createMultipartUpload",
                "summary": "Register an upload and open its S3 multipart upload",
                "description": (
                    "With a size (top level or `metadata.size`) each part URL binds its Content-Length and only "
                    "the parts the size needs are signed. Without one (Uppy 6's `companionEndpoint` mode sends "
                    "none) part URLs bind no length, parts 1 to 10,000 can be signed, and the stored object is "
                    "held to the limits when it is completed (or its S3 event arrives) and deleted when over."
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["filename"],
                        "description": "`size` may be given at the top level or in `metadata`; without one, see above.",
                        "properties": {
                            "filename": FILENAME,
                            "type": CONTENT_TYPE,
                            "size": SIZE,
                            "partSize": _PART_SIZE,
                            "metadata": {"type": "object", "properties": {
                                "size": _SIZE_TEXT,
                                "partSize": {**_PART_SIZE, "type": ["integer", "string"], "pattern": "^[0-9]+$"},
                            }},
                        },
                    }}},
                },
                "responses": {
                    "200": _linked(answer("Created", {
                        "type": "object",
                        "required": ["key", "uploadId", "id", "partSize"],
                        "properties": {
                            "key": KEY,
                            "uploadId": MULTIPART_UPLOAD_ID,
                            "id": {"type": "string", "format": "uuid"},
                            "partSize": {**_PART_SIZE, "description": (
                                "Every part but the last is exactly this long (with a declared size; without, "
                                "only a suggestion).")},
                        },
                    }), _MULTIPART_LINKS),
                    **errors(*_REGISTER),
                },
            }
        },
        "/s3/multipart/{uploadId}": {
            "parameters": [_UPLOAD_ID, _KEY],
            "get": {
                "operationId": "listParts",
                "summary": "Parts S3 already holds (a bare array; resume depends on it)",
                "responses": {"200": answer("Parts", {"type": "array", "items": {"$ref": "#/components/schemas/Part"}}), **errors(*_COMMON)},
            },
            "delete": {
                "operationId": "abortMultipartUpload",
                "summary": "Abort the multipart upload and free its parts",
                "responses": {"200": answer("Aborted", {"type": "object", "maxProperties": 0}), **errors(*_COMMON)},
            },
        },
        "/s3/multipart/{uploadId}/batch": {
            "get": {
                "operationId": "signParts",
                "summary": "Sign PUT URLs for many parts at once",
                "parameters": [_UPLOAD_ID, _KEY, {
                    "name": "partNumbers", "in": "query", "required": True,
                    "schema": {"type": "string", "maxLength": 8000, "pattern": "^[0-9]+(,[0-9]+)*$"},
                    "description": f"Comma-separated part numbers, 1-{MAX_PART_NUMBER}, at most INTAKE_MAX_PARTS_PER_BATCH of them.",
                }],
                "responses": {
                    "200": answer("Signed", {
                        "type": "object",
                        "required": ["presignedUrls", "expires"],
                        "properties": {
                            "presignedUrls": {
                                "type": "object", "propertyNames": {"pattern": "^[1-9][0-9]*$"},
                                "additionalProperties": {"type": "string", "format": "uri"},
                            },
                            "expires": _EXPIRES,
                        },
                    }),
                    **errors(*_COMMON),
                },
            }
        },
        "/s3/multipart/{uploadId}/{partNumber}": {
            "get": {
                "operationId": "signPart",
                "summary": "Sign a PUT URL for one part (with `md5`, the URL binds the part's Content-MD5)",
                "parameters": [_UPLOAD_ID, {"name": "partNumber", "in": "path", "required": True, "schema": PART_NUMBER}, _KEY, {**_MD5, "description": "The part's base64 MD5."}],
                "responses": {
                    "200": answer("Signed", {"type": "object", "required": ["url", "expires"], "properties": {
                        "url": {"type": "string", "format": "uri"},
                        "expires": _EXPIRES,
                        "headers": {"type": "object", "description": "With md5: the Content-MD5 header to send", "additionalProperties": {"type": "string"}},
                    }}),
                    **errors(*_COMMON),
                },
            }
        },
        "/s3/multipart/{uploadId}/complete": {
            "post": {
                "operationId": "completeMultipartUpload",
                "summary": "Complete the multipart upload; the server HEADs the object before answering",
                "parameters": [_UPLOAD_ID, _KEY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["parts"],
                        "properties": {"parts": {"type": "array", "minItems": 1, "maxItems": MAX_PART_NUMBER, "items": {
                            "type": "object",
                            "required": ["PartNumber", "ETag"],
                            "properties": {"PartNumber": PART_NUMBER, "ETag": ETAG},
                        }}},
                    }}},
                },
                "responses": {"200": _linked(answer("Stored", {"$ref": "#/components/schemas/Completed"}), _COMPLETED_LINKS), **errors(*_COMMON)},
            }
        },
        "/events/s3": {
            "post": {
                "operationId": "ingestS3Events",
                "summary": "S3-style event notifications pushed by Ceph RGW or MinIO",
                "description": "Authenticated by INTAKE_EVENTS_WEBHOOK_TOKEN as `Authorization: Bearer` or `?token=`.",
                "security": [{"webhookToken": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": answer("Stored in the ledger", {
                        "type": "object",
                        "properties": {"recorded": {"type": "integer"}, "duplicates": {"type": "integer"}, "skipped": {"type": "array", "items": {"type": "string"}}},
                    }),
                    "400": answer("No usable event in the message", {"type": "object"}),
                    "401": answer("Wrong or missing token", {"type": "object"}),
                    "404": answer("The webhook is not enabled", {"type": "object"}),
                    "413": answer("Message too large", {"type": "object"}),
                },
            }
        },
        "/events/sns": {
            "post": {
                "operationId": "ingestSnsS3Events",
                "summary": "S3 event notifications delivered by Amazon SNS to an HTTPS subscription",
                "description": (
                    "SNS's JSON message, sent as text/plain. Accepted only for a topic in INTAKE_SNS_TOPIC_ARNS and "
                    "only with a valid SNS signature (SignatureVersion 1 or 2, at least "
                    "INTAKE_SNS_MIN_SIGNATURE_VERSION; certificate from an SNS host). A SubscriptionConfirmation is "
                    "confirmed by visiting its SubscribeURL."
                ),
                "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}},
                "responses": {
                    "200": answer("Stored in the ledger, or the subscription confirmed or its removal noted", {
                        "type": "object",
                        "properties": {
                            "recorded": {"type": "integer"},
                            "duplicates": {"type": "integer"},
                            "skipped": {"type": "array", "items": {"type": "string"}},
                            "confirmed": {"type": "boolean"},
                            "unsubscribed": {"type": "boolean"},
                            "topic": {"type": "string"},
                        },
                    }),
                    "400": answer("The body is not a JSON object", {"type": "object"}),
                    "403": answer("Not provably from SNS for an allowed topic; `reason` says why", {"type": "object"}),
                    "404": answer("No SNS topic is configured", {"type": "object"}),
                    "413": answer("Message too large", {"type": "object"}),
                    "503": answer("SNS or the task queue cannot be reached; SNS retries", {"type": "object"}),
                },
            }
        },
        "/uploads/{id}": {
            "get": {
                "operationId": "getUpload",
                "summary": "One of the caller's uploads",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {"200": answer("The upload", {"$ref": "#/components/schemas/Upload"}), **errors(401, 403, 404, 410, 429)},
            }
        },
        "/uploads": {
            "get": {
                "operationId": "listUploads",
                "summary": "The files the caller may read (role viewer or above, or scope `intake/read`), newest first",
                "parameters": [
                    {"name": "state", "in": "query", "schema": {"enum": ["registered", "uploading", "stored", "rejected", "aborted", "deleted"]}},
                    {"name": "before", "in": "query", "schema": {"type": "string"},
                     "description": "The `next` value of the previous page (a cursor), or an ISO 8601 time: uploads begun before it."},
                ],
                "responses": {
                    "200": answer("A page of at most 100 uploads", {
                        "type": "object",
                        "required": ["uploads", "next"],
                        "properties": {
                            "uploads": {"type": "array", "maxItems": 100, "items": {"$ref": "#/components/schemas/Upload"}},
                            "next": {"type": ["string", "null"], "description": "The `before` of the next page; null on the last."},
                        },
                    }),
                    **errors(400, 401, 403),
                },
            }
        },
        "/uploads/{id}/download": {
            "get": {
                "operationId": "downloadUpload",
                "summary": "Redirect to a short-lived download URL of a stored file (recorded in the audit trail)",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {
                    "302": {"description": "`Location` is the download URL; it expires after INTAKE_DOWNLOAD_EXPIRES_SECONDS."},
                    **errors(401, 403, 404, 409, 503),
                },
            }
        },
    },
    "components": COMPONENTS,
}


@dataclass(frozen=True)
class Section:
    """The paths a package above this one mounts under /api/, and their schemas."""

    paths: dict[str, Any]
    schemas: dict[str, Any]


_installed: tuple[Section, ...] = ()


def install(*sections: Section) -> None:
    """Called once by uploader.apps; a repeat replaces what was installed."""
    global _installed
    _installed = sections


def document() -> dict[str, Any]:
    """The document with the installed sections; a path or schema two of them name is a
    mistake, stopped here rather than shadowed."""
    merged = copy.deepcopy(DOCUMENT)
    for section in _installed:
        for kind, target, new in (
            ("path", merged["paths"], section.paths),
            ("schema", merged["components"]["schemas"], section.schemas),
        ):
            if clash := set(target) & set(new):
                raise ImproperlyConfigured(f"OpenAPI {kind} {sorted(clash)} is described twice.")
            target.update(copy.deepcopy(new))
    return merged


@require_GET
def openapi_document(request: HttpRequest) -> HttpResponse:
    return JsonResponse(document())
