"""The shared pieces of the OpenAPI document (uploader.api.openapi): answers, the
error answer, the security schemes and the schemas calls refer to."""

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "Bad input; `field` names the offending field.",
        401: "Not signed in, or the access token was refused (`WWW-Authenticate` says why).",
        403: "The caller's role or token scopes do not allow this, a cross-site request, or (code `csrf`) a "
        "session call from another origin or without the CSRF token it needed.",
        404: "No such upload for this caller (someone else's upload looks the same).",
        409: "The upload is in a state that does not allow this call.",
        429: "Too many requests from this address (portals); `Retry-After` says when to try again.",
        503: "S3 cannot be reached; try again.",
    }
    return {str(status): answer(meaning[status], ERROR) for status in statuses}


COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "webhookToken": {"type": "http", "scheme": "bearer"},
        "staffSession": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        "cognitoAccessToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": (
                "A Cognito access token from the client-credentials flow of an app client listed in "
                "INTAKE_MACHINE_CLIENT_IDS. Scope `intake/upload` allows the /s3 calls, `intake/read` the "
                "/uploads calls. No CSRF token is needed with it."
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
                "url": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "key": {"type": "string"},
                "id": {"type": "string", "format": "uuid"},
            },
        },
        "Part": {
            "type": "object",
            "required": ["PartNumber", "ETag"],
            "properties": {"PartNumber": {"type": "integer"}, "ETag": {"type": "string"}, "Size": {"type": "integer"}},
        },
        "Upload": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "key": {"type": "string"},
                "filename": {"type": "string"},
                "state": {"enum": ["registered", "uploading", "stored", "rejected", "aborted"]},
                "declaredSize": {"type": ["integer", "null"]},
                "storedSize": {"type": ["integer", "null"]},
                "contentType": {"type": "string"},
                "etag": {"type": "string"},
                "multipart": {"type": "boolean"},
                "rejectionReason": {"type": ["string", "null"]},
                "createdAt": {"type": "string", "format": "date-time"},
                "storedAt": {"type": ["string", "null"], "format": "date-time"},
                "location": {"type": "string"},
            },
        },
        "Completed": {
            "type": "object",
            "required": ["location", "key"],
            "properties": {"location": {"type": "string"}, "key": {"type": "string"}, "upload": {"$ref": "#/components/schemas/Upload"}},
        },
    },
}
