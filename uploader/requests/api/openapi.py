"""The requests API's part of the OpenAPI document (/api/openapi.json), kept next to
its views; `uploader.apps` installs it into uploader.api.openapi. Field limits repeat
the forms' (uploader.requests.api.forms), so generated input is meaningful."""

from __future__ import annotations

from typing import Any

from uploader.api.openapi import Section
from uploader.api.openapi_schemas import ERROR, answer
from uploader.requests.api import forms
from uploader.requests.models import ItemState, RequestState
from uploader.requests.services import MAX_EMAILS, MAX_ITEMS, MAX_REASON

_SCOPE = "Staff whose role manages requests (staff, admins), or a machine client with the scope `intake/requests`."
_MEANINGS = {
    400: "Bad input; `field` names the offending field (`items[2].title`, `reminders.onDueDate`).",
    401: "Not signed in, or the access token was refused (`WWW-Authenticate` says why).",
    403: "The caller's role or token scopes do not allow this, a cross-site request, or (code `csrf`) a session "
    "call from another origin or without the CSRF token it needed.",
    404: "No such request, or no such item of this request (an item of another request looks the same).",
    409: "The request or item is in a state that does not allow this (code `item_wrong_state`): the request is "
    "closed, the item is not waiting for review, or a required item is not accepted yet.",
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): answer(_MEANINGS[status], ERROR) for status in statuses}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any], kind: str) -> dict[str, Any]:
    return {**schema, "type": [kind, "null"]}


_TEXT = {"type": "string", "pattern": "\\S"}  # not blank
_DAY = {
    "type": "string",
    "format": "date",
    "pattern": "^(19[0-9]{2}|2[0-9]{3})-[0-9]{2}-[0-9]{2}$",
    "description": "YYYY-MM-DD, between 1900 and 2999.",
}
_TIME = {"type": "string", "format": "date-time"}
_ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
_REQUEST_ID = {"name": "requestId", "in": "path", "required": True, "schema": _ID}
_ITEM_ID = {"name": "itemId", "in": "path", "required": True, "schema": _ID}
_REMINDER_DAYS = {"type": ["integer", "null"], "minimum": 0, "maximum": forms.MAX_REMINDER_DAYS}

_ITEM_INPUT = {
    "type": "object",
    "required": ["title"],
    "additionalProperties": False,
    "properties": {
        "title": {**_TEXT, "minLength": 1, "maxLength": 200},
        "instructions": {"type": "string", "maxLength": forms.MAX_INSTRUCTIONS},
        "required": {"type": "boolean", "description": "Default true."},
        "allowedExtensions": {
            "type": "array",
            "maxItems": forms.MAX_RULES,
            "items": {"type": "string", "pattern": "^\\.?[A-Za-z0-9]{1,16}$"},
            "description": "File name endings such as `.pdf`; empty accepts any.",
        },
        "allowedContentTypes": {
            "type": "array",
            "maxItems": forms.MAX_RULES,
            "items": {"type": "string", "maxLength": 255, "pattern": "^[A-Za-z0-9.+-]+/([A-Za-z0-9.+-]+|\\*)$"},
            "description": "Media types such as `application/pdf` or `image/*`; empty accepts any.",
        },
        "maxFiles": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": forms.MAX_FILES_PER_ROUND,
            "description": "Files per round (counted again after the item is sent back); null: no limit of its own.",
        },
        "dueDate": _nullable(_DAY, "string"),
    },
}

_REQUEST_INPUT = {
    "type": "object",
    "required": ["clientName", "clientEmails"],
    "additionalProperties": False,
    "description": "The template's items are copied unless `items` are given (then the template is only recorded).",
    "properties": {
        "clientName": {**_TEXT, "minLength": 1, "maxLength": 200},
        "clientEmails": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_EMAILS,
            "items": {"type": "string", "format": "email", "maxLength": 254},
        },
        "company": {"type": "string", "maxLength": 200},
        "dueDate": _nullable(_DAY, "string"),
        "template": {**_nullable(_ID, "integer"), "description": "A template's id."},
        "items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": _ITEM_INPUT},
        "requireCode": {
            "type": ["boolean", "null"],
            "description": "The client proves who they are with an e-mailed one-time code (default: "
            "INTAKE_REQUEST_REQUIRE_CODE).",
        },
        "waitsForStaff": {
            "type": ["boolean", "null"],
            "description": "When complete, wait for staff to close it (default: INTAKE_REQUEST_WAITS_FOR_STAFF).",
        },
        "retentionDays": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": forms.MAX_RETENTION_DAYS,
            "description": "Delete each file this many days after it arrives; null keeps them. Left out: the "
            "template's. Only admins may give another value than the template's.",
        },
        "reminders": {
            "type": "object",
            "additionalProperties": False,
            "description": "The reminder schedule; a kind left out keeps the settings' default, 0 or null is off.",
            "properties": {
                "daysBeforeDue": _REMINDER_DAYS,
                "onDueDate": {"type": ["boolean", "null"]},
                "overdueEveryDays": _REMINDER_DAYS,
                "nothingReceivedDays": _REMINDER_DAYS,
            },
        },
    },
}

_COMMON = {
    "id": _ID,
    "clientName": {"type": "string"},
    "clientEmails": {"type": "array", "items": {"type": "string"}},
    "company": {"type": "string"},
    "state": {"enum": list(RequestState.values)},
    "dueDate": {"type": ["string", "null"], "format": "date"},
    "overdue": {"type": "boolean", "description": "Open and past its due date (in the business's time zone)."},
    "template": {"type": ["integer", "null"], "description": "The template it was made from, if any."},
    "createdAt": _TIME,
    "closedAt": _nullable(_TIME, "string"),
    "location": {"type": "string", "format": "uri", "description": "This request in the API."},
}
_COUNT = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, Any] = {
    "RequestSummary": {
        "type": "object",
        "required": [*_COMMON, "items"],
        "properties": {
            **_COMMON,
            "items": {
                "type": "object",
                "required": ["total", "accepted", "waitingForReview"],
                "properties": {"total": _COUNT, "accepted": _COUNT, "waitingForReview": _COUNT},
            },
        },
    },
    "RequestFile": {
        "type": "object",
        "required": ["id", "filename", "size", "contentType", "storedAt", "scanState", "sha256", "download"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "filename": {"type": "string"},
            "size": {"type": ["integer", "null"], "minimum": 0},
            "contentType": {"type": "string"},
            "storedAt": _nullable(_TIME, "string"),
            "scanState": {"enum": ["pending", "clean", "infected", "unscannable", "released", "not_scanned"]},
            "sha256": {
                "type": ["string", "null"],
                "pattern": "^[0-9a-f]{64}$",
                "description": "Computed by the worker after the item is accepted; null until then.",
            },
            "download": {
                "type": "string",
                "format": "uri",
                "description": "`GET` it for a short-lived download URL (needs the role viewer or above, or the "
                "scope `intake/read`).",
            },
        },
    },
    "RequestItem": {
        "type": "object",
        "required": [
            "id",
            "title",
            "instructions",
            "required",
            "allowedExtensions",
            "allowedContentTypes",
            "maxFiles",
            "dueDate",
            "state",
            "changesReason",
            "stateChangedAt",
            "files",
        ],
        "properties": {
            "id": _ID,
            "title": {"type": "string"},
            "instructions": {"type": "string"},
            "required": {"type": "boolean"},
            "allowedExtensions": {"type": "array", "items": {"type": "string"}},
            "allowedContentTypes": {"type": "array", "items": {"type": "string"}},
            "maxFiles": {"type": ["integer", "null"], "minimum": 1},
            "dueDate": {"type": ["string", "null"], "format": "date"},
            "state": {"enum": list(ItemState.values)},
            "changesReason": {"type": ["string", "null"], "description": "Why staff last sent it back."},
            "stateChangedAt": _nullable(_TIME, "string"),
            "files": {"type": "array", "items": _ref("RequestFile"), "description": "Its stored files, oldest first."},
        },
    },
    "Request": {
        "type": "object",
        "required": [
            *_COMMON,
            "link",
            "staffPage",
            "requireCode",
            "waitsForStaff",
            "retentionDays",
            "createdBy",
            "remindersPausedUntil",
            "complete",
            "items",
        ],
        "properties": {
            **_COMMON,
            "link": {"type": "string", "format": "uri", "description": "The client's link, to send them."},
            "staffPage": {"type": "string", "format": "uri"},
            "requireCode": {"type": "boolean"},
            "waitsForStaff": {"type": "boolean"},
            "retentionDays": {"type": ["integer", "null"], "minimum": 1},
            "createdBy": {
                "type": ["string", "null"],
                "description": "The user (or `machine:<client id>`) who made it.",
            },
            "remindersPausedUntil": _nullable(_TIME, "string"),
            "complete": {"type": "boolean", "description": "Every required item is accepted."},
            "items": {"type": "array", "items": _ref("RequestItem")},
        },
    },
    "ReviewResult": {
        "type": "object",
        "required": ["moved", "closed", "waitingForStaff", "emailed", "request"],
        "properties": {
            "moved": {**_COUNT, "description": "Items whose state changed."},
            "closed": {"type": "boolean", "description": "The request closed (the client's receipt is on its way)."},
            "waitingForStaff": {"type": "boolean", "description": "Complete, and waits for staff to close it."},
            "emailed": {
                "type": "boolean",
                "description": "Sending back: the client was e-mailed. Closing: the staff member who made it was told.",
            },
            "request": _ref("Request"),
        },
    },
}

_REQUEST_EXAMPLE = {
    "clientName": "Ann Client",
    "clientEmails": ["ann@example.com"],
    "dueDate": "2030-01-31",
    "items": [
        {"title": "P60 for 2025", "instructions": "From your employer.", "allowedExtensions": [".pdf"], "maxFiles": 1},
        {"title": "Photo ID", "allowedContentTypes": ["image/*", "application/pdf"]},
    ],
}
_ON_REQUEST = {"path.requestId": "$response.body#/id"}
_ON_FIRST_ITEM = {**_ON_REQUEST, "path.itemId": "$response.body#/items/0/id"}
_REVIEW = {"200": answer("What changed, and the request now", _ref("ReviewResult")), **_errors(401, 403, 404, 409)}


def _review(operation_id: str, summary: str, parameters: list[Any], **more: Any) -> dict[str, Any]:
    """A review call: POST, answered with what changed and the request now."""
    responses = {**_REVIEW, **_errors(400)} if "requestBody" in more else _REVIEW
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "description": _SCOPE,
            "parameters": parameters,
            "responses": responses,
            **more,
        }
    }


PATHS: dict[str, Any] = {
    "/requests": {
        "get": {
            "operationId": "listRequests",
            "summary": "Document requests, newest first",
            "description": _SCOPE,
            "parameters": [
                {"name": "state", "in": "query", "schema": {"enum": list(RequestState.values)}},
                {
                    "name": "overdue",
                    "in": "query",
                    "schema": {"type": "boolean"},
                    "description": "Open and past due only.",
                },
                {
                    "name": "client",
                    "in": "query",
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "Part of the client's name, an e-mail address or the company (any case).",
                },
                {
                    "name": "before",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "The `next` value of the previous page.",
                },
            ],
            "responses": {
                "200": answer(
                    "A page of at most 100 requests",
                    {
                        "type": "object",
                        "required": ["requests", "next"],
                        "properties": {
                            "requests": {"type": "array", "maxItems": 100, "items": _ref("RequestSummary")},
                            "next": {
                                "type": ["string", "null"],
                                "description": "The `before` of the next page; null on the last.",
                            },
                        },
                    },
                ),
                **_errors(400, 401, 403),
            },
        },
        "post": {
            "operationId": "createRequest",
            "summary": "Make a document request (audited `request.created`); answers it with the client's link",
            "description": _SCOPE + " Nothing is sent to the client: send them `link`.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _REQUEST_INPUT, "example": _REQUEST_EXAMPLE}},
            },
            "responses": {
                "201": {
                    **answer("Made; `Location` is its address in the API", _ref("Request")),
                    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                    "links": {
                        "GetRequest": {"operationId": "getRequest", "parameters": _ON_REQUEST},
                        "AcceptAll": {"operationId": "acceptAllItems", "parameters": _ON_REQUEST},
                        "Close": {"operationId": "closeRequest", "parameters": _ON_REQUEST},
                        "AcceptFirstItem": {"operationId": "acceptItem", "parameters": _ON_FIRST_ITEM},
                        "SendFirstItemBack": {"operationId": "sendItemBack", "parameters": _ON_FIRST_ITEM},
                    },
                },
                **_errors(400, 401, 403),
            },
        },
    },
    "/requests/{requestId}": {
        "get": {
            "operationId": "getRequest",
            "summary": "A request with its items, their states and stored files",
            "description": _SCOPE,
            "parameters": [_REQUEST_ID],
            "responses": {"200": answer("The request", _ref("Request")), **_errors(401, 403, 404)},
        }
    },
    "/requests/{requestId}/items/{itemId}/accept": _review(
        "acceptItem",
        "Accept an item waiting for review (closes the request when it was the last)",
        [_REQUEST_ID, _ITEM_ID],
    ),
    "/requests/{requestId}/items/{itemId}/send-back": _review(
        "sendItemBack",
        "Send an item back with a reason; the client is e-mailed the reason and the link at once",
        [_REQUEST_ID, _ITEM_ID],
        requestBody={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["reason"],
                        "additionalProperties": False,
                        "properties": {"reason": {**_TEXT, "minLength": 1, "maxLength": MAX_REASON}},
                    },
                    "example": {"reason": "The photo is blurred; please send a sharper one."},
                }
            },
        },
    ),
    "/requests/{requestId}/accept-all": _review(
        "acceptAllItems", "Accept every item waiting for review", [_REQUEST_ID]
    ),
    "/requests/{requestId}/close": _review(
        "closeRequest", "Close a complete request that waits for staff; the client's receipt goes", [_REQUEST_ID]
    ),
}
SECTION = Section(paths=PATHS, schemas=SCHEMAS)
