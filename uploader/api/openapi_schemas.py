"""The shared pieces of the OpenAPI document (uploader.api.openapi): answers, the
error answer, the security schemes and the schemas calls refer to."""

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}

# What the services accept (uploader.uploads.limits, .parts, .keys; the Upload model's
# columns), so generated input is meaningful and what the server refuses is on record.
MAX_PART_NUMBER = 10_000
MAX_OBJECT_BYTES = 5 * 1024**4  # S3's largest object; the configured limit is lower (a 400 past it)
UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Not blank, no control characters (Unicode category Cc): what check_declared refuses.
_NO_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
FILENAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": f"^[^{_NO_CONTROL}]*[^\\s{_NO_CONTROL}][^{_NO_CONTROL}]*$",
}
_MEDIA_TYPE_PART = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
CONTENT_TYPE = {
    "type": "string",
    "maxLength": 255,
    "pattern": f"^({_MEDIA_TYPE_PART}/{_MEDIA_TYPE_PART}(;.*)?)?$",
    "description": "A media type; parameters are dropped. Empty means application/octet-stream.",
}
SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_OBJECT_BYTES}
KEY = {
    "type": "string",
    "maxLength": 1024,
    "pattern": f"^([^/{_NO_CONTROL}]*/)*[^/{_NO_CONTROL}]+/[0-9]{{4}}/[0-9]{{2}}/{UUID_PATTERN}/[^/{_NO_CONTROL}]+$",
    "description": "`<prefix>/<scope>/<year>/<month>/<upload id>/<safe file name>`, made by the server.",
}
MULTIPART_UPLOAD_ID = {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": "^[^/]+$"}
PART_NUMBER = {"type": "integer", "minimum": 1, "maximum": MAX_PART_NUMBER}
ETAG = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[ -~]+$", "description": "Printable ASCII, as S3 gives it."}


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "Bad input; `field` names the offending field.",
        401: "Not signed in, or the access token was refused (`WWW-Authenticate` says why).",
        403: "The caller's role or token scopes do not allow this, a cross-site request, or (code `csrf`) a "
        "session call from another origin or without the CSRF token it needed.",
        404: "No such upload for this caller (someone else's upload looks the same), no such portal link, or a path that"
        " names no call.",
        409: "The upload is in a state that does not allow this call.",
        410: "The portal is closed (disabled or past its expiry).",
        429: "Too many requests from this address (portals); `Retry-After` says when to try again.",
        503: "S3 cannot be reached; `Retry-After` says when to try again. Nothing was half-written.",
    }
    answers = {str(status): answer(meaning[status], ERROR) for status in statuses}
    for waits in ("429", "503"):
        if waits in answers:
            answers[waits]["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}}
    return answers


COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "webhookToken": {"type": "http", "scheme": "bearer"},
        "staffSession": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        "cognitoAccessToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": (
                "A Cognito access token from the client-credentials flow of an app client listed in "
                "INTAKE_MACHINE_CLIENT_IDS. Scope `intake/upload` allows the /s3 calls, `intake/read` the "
                "/uploads calls, `intake/requests` the /requests calls. No CSRF token is needed with it."
            ),
        },
    },
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["message", "code"],
            "properties": {"message": {"type": "string"}, "code": {"type": "string"}, "field": {"type": ["string", "null"]}},
        },
        "SignedRequest": {
            "type": "object",
            "required": ["method", "url", "fields", "headers", "key"],
            "properties": {
                "method": {"enum": ["PUT", "POST"]},
                "url": {"type": "string", "format": "uri"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "key": KEY,
                "id": {"type": "string", "format": "uuid"},
            },
        },
        "Part": {
            "type": "object",
            "required": ["PartNumber", "ETag"],
            "properties": {"PartNumber": PART_NUMBER, "ETag": ETAG, "Size": {"type": "integer", "minimum": 0}},
        },
        "Upload": {
            "type": "object",
            "required": [
                "id", "key", "filename", "state", "declaredSize", "storedSize", "contentType", "etag", "multipart",
                "rejectionReason", "createdAt", "storedAt", "location",
            ],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "key": KEY,
                "filename": {"type": "string", "minLength": 1, "maxLength": 255},
                "state": {"enum": ["registered", "uploading", "stored", "rejected", "aborted", "deleted"]},
                "declaredSize": {"type": ["integer", "null"], "minimum": 1},
                "storedSize": {"type": ["integer", "null"], "minimum": 0},
                "contentType": {"type": "string"},
                "etag": {"type": "string"},
                "multipart": {"type": "boolean"},
                "rejectionReason": {"type": ["string", "null"]},
                "scanState": {
                    "enum": ["pending", "clean", "infected", "unscannable", "released", "not_scanned"],
                    "description": "The malware scan; the file can be downloaded once clean, released or not_scanned.",
                },
                "createdAt": {"type": "string", "format": "date-time"},
                "storedAt": {"type": ["string", "null"], "format": "date-time"},
                "location": {"type": "string", "format": "uri"},
            },
        },
        "Completed": {
            "type": "object",
            "required": ["location", "key"],
            "properties": {"location": {"type": "string", "format": "uri"}, "key": KEY, "upload": {"$ref": "#/components/schemas/Upload"}},
        },
    },
}
