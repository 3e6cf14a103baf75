"""Answer shapes and error mapping of the upload API, with the services stubbed out."""

from __future__ import annotations

import ast
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from django.conf import settings
from django.db.models import Q
from django.middleware.csrf import get_token
from django.test import RequestFactory

from uploader.access.principals import UploadPrincipal
from uploader.access.roles import Permission
from uploader.api import contract as api
from uploader.api import decorators
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
    with mock.patch.object(decorators, "_principal_for", return_value=principal):
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


def test_the_csrf_check_of_a_get_takes_the_header_token_and_leaves_the_request_alone() -> None:
    """A GET is checked as if it were a POST, on a copy: the token must be in the header
    (not in a form body the GET carries), and the request keeps its method and body."""
    seed = RequestFactory().get("/")
    token = get_token(seed)
    factory = RequestFactory()
    factory.cookies[settings.CSRF_COOKIE_NAME] = seed.META["CSRF_COOKIE"]
    form_body = f"csrfmiddlewaretoken={token}"
    in_body = factory.generic("GET", "/api/s3/params", form_body, content_type="application/x-www-form-urlencoded")
    refusal = decorators.csrf_failure(in_body)
    assert refusal is not None
    assert refusal.status_code == 403
    assert json.loads(refusal.content) == {"message": decorators.CSRF_REFUSED, "code": "csrf", "field": None}
    assert in_body.method == "GET"
    assert in_body.body == form_body.encode()
    in_header = factory.get("/api/s3/params", headers={"X-CSRFToken": token})
    assert decorators.csrf_failure(in_header) is None
    assert in_header.method == "GET"
    assert not getattr(in_header, "csrf_processing_done", False)


@pytest.mark.parametrize(
    ("secure", "origin", "passes"),
    [
        (True, "https://testserver", True),
        (False, "http://testserver", True),
        (False, "https://testserver", False),  # another scheme is another origin
        (True, "https://testserver:8443", False),
        (True, "https://testserver.elsewhere.example", False),
    ],
)
def test_the_origin_must_be_the_requests_own_scheme_and_host(secure: bool, origin: str, passes: bool) -> None:
    request = RequestFactory().post("/api/s3/multipart", headers={"Origin": origin}, secure=secure)
    refusal = decorators.session_call_refusal(request)
    assert (refusal is None) == passes
    if refusal is not None:
        assert json.loads(refusal.content)["code"] == "csrf"


def test_the_scheme_behind_a_tls_proxy_is_the_one_the_proxy_vouches_for(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = {"Host": "testserver", "Origin": "https://testserver", "X-Forwarded-Proto": "https"}
    assert decorators.session_call_refusal(RequestFactory().post("/api/s3/multipart", headers=forwarded)) is None
    plain = {**forwarded, "X-Forwarded-Proto": "http"}
    assert decorators.session_call_refusal(RequestFactory().post("/api/s3/multipart", headers=plain)) is not None


def test_the_api_package_imports_at_module_level_and_never_from_the_portals() -> None:
    """Portals build on the API (their URL mount passes the principal resolver), not
    the other way round; an import inside a function would hide such a cycle."""
    package = Path(api.__file__).parent
    for module in sorted(package.glob("*.py")):
        tree = ast.parse(module.read_text())
        top_level = set(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                assert node in top_level, f"{module.name}:{node.lineno} imports inside a function"
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.startswith("uploader.portals") for n in names), f"{module.name}:{node.lineno}"
