"""Answer shapes and error mapping of the upload API, with the services stubbed out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db.models import Q
from django.test import RequestFactory

from uploader.access.principals import UploadPrincipal
from uploader.access.roles import Permission
from uploader.api import contract as api
from uploader.uploads.errors import InvalidInput, LimitExceeded, StorageUnavailable, UploadNotFound, WrongState
from uploader.uploads.limits import UploadLimits
from uploader.uploads.services import SignedRequest

STAFF = SimpleNamespace(is_authenticated=True, is_active=True, is_staff=True)


@pytest.fixture(autouse=True)
def _staff_principal() -> Iterator[None]:
    """Every call comes from a staff member who may upload and browse."""
    principal = UploadPrincipal(
        owner=None, scope="staff", limits=UploadLimits(max_bytes=100), permissions=frozenset(Permission), visible=Q()
    )
    with mock.patch.object(api, "_principal_for", return_value=principal):
        yield


def _get(path: str, **query: str):  # type: ignore[no-untyped-def]
    request = RequestFactory().get(path, query)
    request.user = STAFF
    request._dont_enforce_csrf_checks = True  # answer shapes only; CSRF has its own tests
    return request


def test_single_upload_answer_is_the_companion_shape() -> None:
    upload = SimpleNamespace(key="uploads/staff/2026/11/x/a.txt", id=uuid.uuid4())
    signed = SignedRequest(method="PUT", url="http://s3/x", fields={"key": upload.key}, headers={"content-type": "text/plain"})
    with mock.patch.object(api.services, "upload_sign_single", return_value=(upload, signed)) as service:
        response = api.sign_single_upload(_get("/api/s3/params", filename="a.txt", type="text/plain", **{"metadata[size]": "12"}))
    assert service.call_args.kwargs["size"] == 12
    assert service.call_args.kwargs["principal"].scope == "staff"
    body = json.loads(response.content)
    assert body == {"method": "PUT", "url": "http://s3/x", "fields": {"key": upload.key},
                    "headers": {"content-type": "text/plain"}, "key": upload.key, "id": str(upload.id)}


def test_list_parts_answer_is_a_bare_array() -> None:
    from uploader.s3 import UploadedPart

    with mock.patch.object(api.selectors, "upload_get_multipart"), mock.patch.object(
        api.services, "upload_list_parts", return_value=[UploadedPart(1, '"e1"', 5), UploadedPart(2, '"e2"', 3)]
    ):
        response = api.multipart_upload(_get("/api/s3/multipart/U", key="k"), upload_id="U")
    assert json.loads(response.content) == [{"PartNumber": 1, "ETag": '"e1"', "Size": 5}, {"PartNumber": 2, "ETag": '"e2"', "Size": 3}]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidInput("bad", field="filename"), 400, "invalid"),
        (LimitExceeded("too big", field="size"), 400, "limit_exceeded"),
        (UploadNotFound("no"), 404, "not_found"),
        (WrongState("late"), 409, "wrong_state"),
        (StorageUnavailable("down"), 503, "storage_unavailable"),
    ],
)
def test_errors_map_to_status_and_json(error: Exception, status: int, code: str) -> None:
    with mock.patch.object(api.services, "upload_sign_single", side_effect=error):
        response = api.sign_single_upload(_get("/api/s3/params", filename="a.txt"))
    assert response.status_code == status
    body = json.loads(response.content)
    assert body["code"] == code
    assert body["message"] == error.message  # type: ignore[attr-defined]
    assert body["field"] == error.field  # type: ignore[attr-defined]
