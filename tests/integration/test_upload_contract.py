"""Every call of the upload contract over HTTP against the S3 emulator."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from django.conf import settings
from django.test import Client

from tests.conftest import make_staff_user
from uploader import s3
from uploader.api.decorators import CSRF_REFUSED
from uploader.uploads.models import Upload, UploadState

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def _post_json(client: Client, url: str, body: object) -> object:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _create_multipart(
    api: Client, *, filename: str = "big.bin", size: int = 15 * MiB, type_: str = "application/octet-stream",
    part_size: int | None = None,
) -> dict:
    metadata: dict[str, int] = {"size": size}
    if part_size is not None:
        metadata["partSize"] = part_size
    response = _post_json(api, "/api/s3/multipart", {"filename": filename, "type": type_, "metadata": metadata})
    assert response.status_code == 200, response.content
    return response.json()


# --- single uploads ------------------------------------------------------------------------


def test_single_put_upload_end_to_end(api: Client) -> None:
    body = os.urandom(200 * 1024)
    response = api.get("/api/s3/params", {"filename": "photo.jpg", "type": "image/jpeg", "metadata[size]": len(body)})
    assert response.status_code == 200
    signed = response.json()
    assert signed["method"] == "PUT"
    assert signed["headers"] == {"content-type": "image/jpeg"}
    assert signed["fields"] == {"key": signed["key"]}
    upload = Upload.objects.get(pk=signed["id"])
    assert upload.state == UploadState.REGISTERED
    assert upload.key == signed["key"]

    put = requests.put(signed["url"], data=body, headers=signed["headers"], timeout=30)
    assert put.status_code == 200

    done = api.post(f"/api/s3/complete?key={signed['key']}")
    assert done.status_code == 200, done.content
    assert done.json()["key"] == signed["key"]
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert upload.stored_size == len(body)
    assert upload.etag == hashlib.md5(body).hexdigest()  # noqa: S324 - S3's ETag of a single PUT
    assert hashlib.sha256(s3.get_object_bytes(key=upload.key)).digest() == hashlib.sha256(body).digest()

    detail = api.get(f"/api/uploads/{upload.id}")
    assert detail.json()["state"] == "stored"
    assert detail.json()["storedSize"] == len(body)


def test_signed_put_url_binds_key_type_length_and_expiry(api: Client) -> None:
    signed = api.get("/api/s3/params", {"filename": "../../etc/passwd", "type": "text/plain", "size": 42}).json()
    url = urlsplit(signed["url"])
    query = parse_qs(url.query)
    assert unquote(url.path) == f"/{settings.INTAKE_S3_BUCKET}/{signed['key']}"
    assert signed["key"].startswith("uploads/staff/")
    assert signed["key"].endswith("/passwd")
    assert query["X-Amz-Expires"] == [str(settings.INTAKE_PRESIGN_EXPIRES_SECONDS)]
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].endswith("/us-east-1/s3/aws4_request")


def test_params_without_size_answers_a_post_policy_with_a_size_range(api: Client) -> None:
    signed = api.get("/api/s3/params", {"filename": "doc.pdf", "type": "application/pdf"}).json()
    assert signed["method"] == "POST"
    fields = signed["fields"]
    assert fields["key"] == signed["key"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": signed["key"]} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, settings.INTAKE_MAX_UPLOAD_BYTES] in conditions
    assert policy["expiration"]

    body = b"%PDF-1.7 tiny"
    posted = requests.post(signed["url"], data=fields, files={"file": ("doc.pdf", body)}, timeout=30)
    assert posted.status_code in {200, 204}
    assert api.post(f"/api/s3/complete?key={signed['key']}").status_code == 200
    assert Upload.objects.get(key=signed["key"]).stored_size == len(body)


def test_object_larger_than_declared_is_rejected_and_removed(api: Client) -> None:
    signed = api.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": 10}).json()
    # The emulator does not enforce the signed Content-Length; real S3 would refuse.
    requests.put(signed["url"], data=b"x" * 20, headers=signed["headers"], timeout=30).raise_for_status()
    response = api.post(f"/api/s3/complete?key={signed['key']}")
    assert response.status_code == 400
    assert response.json()["code"] == "limit_exceeded"
    assert "declared" in response.json()["message"]
    upload = Upload.objects.get(key=signed["key"])
    assert upload.state == UploadState.REJECTED
    assert upload.rejection_reason
    with pytest.raises(s3.ObjectNotFound):
        s3.head_object(key=upload.key)


def test_complete_before_the_object_arrived_is_a_409(api: Client) -> None:
    signed = api.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": 10}).json()
    response = api.post(f"/api/s3/complete?key={signed['key']}")
    assert response.status_code == 409
    assert Upload.objects.get(key=signed["key"]).state == UploadState.REGISTERED


# --- multipart ---------------------------------------------------------------------------------


def test_three_part_multipart_upload_with_batch_signing(api: Client) -> None:
    parts = [os.urandom(5 * MiB) for _ in range(3)]
    created = _create_multipart(api, size=sum(map(len, parts)), part_size=5 * MiB)
    assert created["partSize"] == 5 * MiB
    upload = Upload.objects.get(key=created["key"])
    assert upload.multipart_upload_id == created["uploadId"]

    batch = api.get(f"/api/s3/multipart/{created['uploadId']}/batch", {"key": created["key"], "partNumbers": "1,2,3"})
    assert batch.status_code == 200
    urls = batch.json()["presignedUrls"]
    assert sorted(urls) == ["1", "2", "3"]
    upload.refresh_from_db()
    assert upload.state == UploadState.UPLOADING

    etags = []
    for number, body in enumerate(parts, start=1):
        put = requests.put(urls[str(number)], data=body, timeout=60)
        assert put.status_code == 200
        etags.append(put.headers["ETag"])

    listed = api.get(f"/api/s3/multipart/{created['uploadId']}", {"key": created["key"]})
    assert listed.status_code == 200
    assert listed.json() == [
        {"PartNumber": n, "ETag": etags[n - 1], "Size": 5 * MiB} for n in (1, 2, 3)
    ]

    done = _post_json(
        api,
        f"/api/s3/multipart/{created['uploadId']}/complete?key={created['key']}",
        {"parts": [{"PartNumber": n, "ETag": etags[n - 1]} for n in (3, 1, 2)]},  # any order
    )
    assert done.status_code == 200, done.content
    assert done.json()["key"] == created["key"]
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert upload.stored_size == 15 * MiB
    assert upload.etag.endswith("-3")
    stored = s3.get_object_bytes(key=upload.key)
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(b"".join(parts)).hexdigest()

    again = _post_json(
        api, f"/api/s3/multipart/{created['uploadId']}/complete?key={created['key']}",
        {"parts": [{"PartNumber": n, "ETag": etags[n - 1]} for n in (1, 2, 3)]},
    )
    assert again.status_code == 200, "a retried complete answers the same"


def test_sign_one_part(api: Client) -> None:
    created = _create_multipart(api)
    response = api.get(f"/api/s3/multipart/{created['uploadId']}/2", {"key": created["key"]})
    assert response.status_code == 200
    answer = response.json()
    assert answer["expires"] == settings.INTAKE_PRESIGN_EXPIRES_SECONDS
    query = parse_qs(urlsplit(answer["url"]).query)
    assert query["partNumber"] == ["2"]
    assert query["uploadId"] == [created["uploadId"]]
    assert query["X-Amz-SignedHeaders"] == ["content-length;host"]
    # 15 MiB in parts of 8 MiB (the default): part 2 is the last, 7 MiB.
    assert requests.put(answer["url"], data=os.urandom(7 * MiB), timeout=30).status_code == 200


def _create_sizeless(api: Client, **extra: object) -> dict:
    """What Uppy 6's companionEndpoint mode sends: its file's meta, no size."""
    body = {"filename": "nosize.bin", "type": "application/octet-stream", "metadata": {"name": "nosize.bin"}, **extra}
    response = _post_json(api, "/api/s3/multipart", body)
    assert response.status_code == 200, response.content
    return response.json()


def _put_parts_and_complete(api: Client, created: dict, parts: list[bytes]):  # type: ignore[no-untyped-def]
    base = f"/api/s3/multipart/{created['uploadId']}"
    etags = []
    for number, body in enumerate(parts, start=1):
        url = api.get(f"{base}/{number}", {"key": created["key"]}).json()["url"]
        put = requests.put(url, data=body, timeout=60)
        assert put.status_code == 200, put.text
        etags.append({"PartNumber": number, "ETag": put.headers["ETag"]})
    return _post_json(api, f"{base}/complete?key={created['key']}", {"parts": etags})


def test_a_multipart_upload_without_a_size_is_registered_and_stored(api: Client) -> None:
    """Like the single upload's POST policy: without a size nothing binds the parts,
    and what S3 holds is checked when it is completed."""
    created = _create_sizeless(api)
    assert created["partSize"] == settings.INTAKE_PART_SIZE_BYTES
    upload = Upload.objects.get(key=created["key"])
    assert (upload.declared_size, upload.part_size, upload.is_multipart) == (None, settings.INTAKE_PART_SIZE_BYTES, True)
    body = os.urandom(12 * MiB)
    # Uppy 6 cuts its own parts (5 MiB here), whatever part size the answer suggests.
    batch = api.get(f"/api/s3/multipart/{created['uploadId']}/batch", {"key": created["key"], "partNumbers": "1,2,3"})
    for url in batch.json()["presignedUrls"].values():
        assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["host"]
    done = _put_parts_and_complete(api, created, [body[: 5 * MiB], body[5 * MiB : 10 * MiB], body[10 * MiB :]])
    assert done.status_code == 200, done.content
    assert done.json()["upload"]["declaredSize"] is None
    upload.refresh_from_db()
    assert (upload.state, upload.stored_size) == (UploadState.STORED, 12 * MiB)
    assert s3.get_object_bytes(key=upload.key) == body


def test_without_a_size_part_numbers_run_up_to_10000(api: Client) -> None:
    created = _create_sizeless(api)
    base = f"/api/s3/multipart/{created['uploadId']}"
    assert api.get(f"{base}/10000", {"key": created["key"]}).status_code == 200
    assert api.get(f"{base}/batch", {"key": created["key"], "partNumbers": "9998,9999,10000"}).status_code == 200
    beyond = api.get(f"{base}/10001", {"key": created["key"]})
    assert (beyond.status_code, beyond.json()["field"]) == (400, "partNumber")


def test_without_a_size_a_requested_part_size_is_still_checked(api: Client) -> None:
    assert _create_sizeless(api, partSize=6 * MiB)["partSize"] == 6 * MiB
    response = _post_json(api, "/api/s3/multipart", {"filename": "a.bin", "metadata": {"partSize": 1024}})
    assert (response.status_code, response.json()["field"]) == (400, "partSize")


def test_a_multipart_upload_without_a_size_over_the_limit_is_rejected_and_deleted(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_MAX_UPLOAD_BYTES = 8 * MiB
    created = _create_sizeless(api)
    done = _put_parts_and_complete(api, created, [os.urandom(5 * MiB), os.urandom(5 * MiB)])
    assert done.status_code == 400
    assert (done.json()["code"], done.json()["field"]) == ("limit_exceeded", "size")
    upload = Upload.objects.get(key=created["key"])
    assert upload.state == UploadState.REJECTED
    assert "over the 8 MiB limit" in upload.rejection_reason
    assert s3.head_object_or_none(key=upload.key) is None


def test_abort_frees_the_upload(api: Client) -> None:
    created = _create_multipart(api)
    url = api.get(f"/api/s3/multipart/{created['uploadId']}/1", {"key": created["key"]}).json()["url"]
    requests.put(url, data=os.urandom(1024), timeout=30).raise_for_status()

    response = api.delete(f"/api/s3/multipart/{created['uploadId']}?key={created['key']}")
    assert response.status_code == 200
    assert response.json() == {}
    assert Upload.objects.get(key=created["key"]).state == UploadState.ABORTED
    open_uploads = s3.boto3_client().list_multipart_uploads(Bucket=settings.INTAKE_S3_BUCKET).get("Uploads", [])
    assert created["uploadId"] not in {u["UploadId"] for u in open_uploads}
    # Aborting again is harmless; anything else on it is the wrong state.
    assert api.delete(f"/api/s3/multipart/{created['uploadId']}?key={created['key']}").status_code == 200
    assert api.get(f"/api/s3/multipart/{created['uploadId']}/1", {"key": created["key"]}).status_code == 409
    assert api.get(f"/api/s3/multipart/{created['uploadId']}", {"key": created["key"]}).status_code == 409


def test_wrong_states_are_409(api: Client) -> None:
    body = os.urandom(1024)
    created = _create_multipart(api, size=len(body))
    url = api.get(f"/api/s3/multipart/{created['uploadId']}/1", {"key": created["key"]}).json()["url"]
    etag = requests.put(url, data=body, timeout=30).headers["ETag"]
    complete_url = f"/api/s3/multipart/{created['uploadId']}/complete?key={created['key']}"
    assert _post_json(api, complete_url, {"parts": [{"PartNumber": 1, "ETag": etag}]}).status_code == 200
    assert api.get(f"/api/s3/multipart/{created['uploadId']}/2", {"key": created["key"]}).status_code == 409
    assert api.delete(f"/api/s3/multipart/{created['uploadId']}?key={created['key']}").status_code == 409


# --- ownership, auth, bad input, outages ---------------------------------------------------------------


def test_another_users_upload_is_404_on_every_call(api: Client, client: Client, db: None) -> None:
    created = _create_multipart(api)
    single = api.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": 3}).json()
    other = Client()
    other.force_login(make_staff_user("mallory"))
    upload_id, key = created["uploadId"], created["key"]
    calls = [
        other.get(f"/api/s3/multipart/{upload_id}/1", {"key": key}),
        other.get(f"/api/s3/multipart/{upload_id}/batch", {"key": key, "partNumbers": "1,2"}),
        other.get(f"/api/s3/multipart/{upload_id}", {"key": key}),
        _post_json(other, f"/api/s3/multipart/{upload_id}/complete?key={key}", {"parts": [{"PartNumber": 1, "ETag": "x"}]}),
        other.delete(f"/api/s3/multipart/{upload_id}?key={key}"),
        other.post(f"/api/s3/complete?key={single['key']}"),
        other.get(f"/api/uploads/{single['id']}"),
        # The right upload id with another key is not a way in either.
        api.get(f"/api/s3/multipart/{upload_id}/1", {"key": single["key"]}),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls)
    assert all(c.json()["code"] == "not_found" for c in calls)
    assert Upload.objects.get(key=key).state == UploadState.REGISTERED


@pytest.mark.parametrize(
    "path",
    ["/api/uploads/not-a-uuid", "/api/uploads/True/download", "/api/s3/multipart/abc/-1", "/api/s3/no-such-call"],
)
def test_a_path_that_names_no_call_is_a_json_404(api: Client, path: str) -> None:
    """Found by the fuzzing: a malformed upload id or part number missed every route
    and got Django's HTML 404, where the document promises the JSON error."""
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_requires_a_signed_in_staff_member(client: Client, s3_bucket: str, db: None) -> None:
    anonymous = client.get("/api/s3/params", {"filename": "a.txt", "size": 1})
    assert anonymous.status_code == 401
    client.force_login(make_staff_user("bob", is_staff=False))
    assert client.get("/api/s3/params", {"filename": "a.txt", "size": 1}).status_code == 403
    assert Upload.objects.count() == 0


def test_cross_site_requests_are_refused(api: Client) -> None:
    response = api.get("/api/s3/params", {"filename": "a.txt", "size": 1}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert Upload.objects.count() == 0


def test_post_calls_need_the_csrf_token(staff_user, s3_bucket: str) -> None:  # type: ignore[no-untyped-def]
    """From a browser that sends neither Sec-Fetch-Site nor Origin (Django's test client
    sends neither), the token is what proves the call comes from our pages."""
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    response = strict.post("/api/s3/multipart", data=json.dumps({"filename": "a", "size": 6 * MiB}), content_type="application/json")
    assert response.status_code == 403
    assert Upload.objects.count() == 0


SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
SIBLING = "https://files.testserver"  # another host of the same site


@pytest.mark.parametrize(
    ("method", "headers", "with_token", "status"),
    [
        # What current browsers send from our own pages: no token needed (Uppy 6 sends none).
        ("GET", SAME_ORIGIN, False, 200),
        ("POST", {**SAME_ORIGIN, "Origin": "http://testserver"}, False, 200),
        ("POST", {"Origin": "http://testserver"}, False, 200),
        ("POST", {**SAME_ORIGIN, "Origin": "null"}, False, 200),  # a no-referrer policy on our POST
        # Another origin, whatever else comes along: refused, token or not.
        ("GET", {"Origin": "https://elsewhere.example"}, False, 403),
        ("POST", {**SAME_ORIGIN, "Origin": "https://elsewhere.example"}, False, 403),
        ("POST", {"Sec-Fetch-Site": "same-site", "Origin": SIBLING}, True, 403),
        ("POST", {"Origin": "null"}, True, 403),
        # A sibling subdomain's page: same-site is not this site.
        ("GET", {"Sec-Fetch-Site": "same-site"}, False, 403),
        ("GET", {"Sec-Fetch-Site": "same-site"}, True, 403),
        ("GET", {"Sec-Fetch-Site": "none"}, False, 403),
        # A browser that says neither: Django's token check.
        ("GET", {}, False, 403),
        ("POST", {}, False, 403),
        ("GET", {}, True, 200),
        ("POST", {}, True, 200),
    ],
)
def test_session_calls_pass_on_where_the_browser_says_they_come_from_else_on_the_token(  # type: ignore[no-untyped-def]
    staff_user, s3_bucket: str, method: str, headers: dict[str, str], with_token: bool, status: int
) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    strict.get("/")  # the CSRF cookie, which our pages always have
    if with_token:
        headers = {**headers, "X-CSRFToken": strict.cookies["csrftoken"].value}
    if method == "GET":
        response = strict.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": 5}, headers=headers)
    else:
        response = strict.post(
            "/api/s3/multipart", json.dumps({"filename": "a", "size": 6 * MiB}), content_type="application/json", headers=headers
        )
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json() == {"message": CSRF_REFUSED, "code": "csrf", "field": None}
    assert Upload.objects.count() == (1 if status == 200 else 0)


def test_trusted_origins_pass_without_a_token_even_from_a_sibling(staff_user, s3_bucket: str, settings) -> None:  # type: ignore[no-untyped-def]
    """CSRF_TRUSTED_ORIGINS is where staff say which other origins are this site (as
    Django's own Origin check reads it): a sibling listed there passes, one not listed
    does not."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.uploads.testserver", "https://admin.testserver"]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    body = json.dumps({"filename": "a", "size": 6 * MiB})

    def create(origin: str) -> int:
        headers = {"Origin": origin, "Sec-Fetch-Site": "same-site"}
        return strict.post("/api/s3/multipart", body, content_type="application/json", headers=headers).status_code

    assert create("https://admin.testserver") == 200
    assert create("https://eu.uploads.testserver") == 200
    assert create("http://eu.uploads.testserver") == 403  # another scheme
    assert create("https://files.testserver") == 403
    assert Upload.objects.count() == 2


def test_session_calls_get_djangos_whole_csrf_check_on_gets_too(staff_user, s3_bucket: str) -> None:  # type: ignore[no-untyped-def]
    """Origin (and over HTTPS, without Origin, the Referer) as Django checks them for
    POSTs, then the token, on the GETs that register uploads as well; answered as JSON."""
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    strict.get("/")  # the CSRF cookie
    token = {"X-CSRFToken": strict.cookies["csrftoken"].value}
    query = {"filename": "a.txt", "type": "text/plain", "size": 5}
    refusals = [
        strict.get("/api/s3/params", query, headers={**token, "Origin": "https://elsewhere.example"}),
        strict.get("/api/s3/params", query, headers=token, secure=True),  # no Referer
        strict.get("/api/s3/params", query, headers={**token, "Referer": "https://elsewhere.example/"}, secure=True),
        strict.get("/api/s3/params", query, headers={"X-CSRFToken": "x" * 32}),
        strict.post("/api/s3/multipart", json.dumps({"filename": "a", "size": 6 * MiB}), content_type="application/json",
                    headers={**token, "Origin": "https://elsewhere.example"}),
    ]
    for refused in refusals:
        assert refused.status_code == 403
        assert refused.json()["code"] == "csrf"
        assert set(refused.json()) == {"message", "code", "field"}
    assert Upload.objects.count() == 0
    assert strict.get("/api/s3/params", query, headers={**token, "Origin": "http://testserver"}).status_code == 200
    same_site = strict.get("/api/s3/params", query, headers={**token, "Referer": "https://testserver/upload/"}, secure=True)
    assert same_site.status_code == 200, same_site.content


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Negotiate YII=", ""])
def test_an_authorization_header_that_is_not_bearer_leaves_the_session_in_charge(  # type: ignore[no-untyped-def]
    staff_user, s3_bucket: str, authorization: str
) -> None:
    """Behind HTTP auth (a staging site) browsers add `Authorization: Basic` to every
    call: the staff session decides, with CSRF and the cross-site refusal."""
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    strict.get("/")  # the CSRF cookie
    token = strict.cookies["csrftoken"].value
    query = {"filename": "a.txt", "type": "text/plain", "size": 5}
    ok = strict.get("/api/s3/params", query, headers={"Authorization": authorization, "X-CSRFToken": token})
    assert ok.status_code == 200, ok.content
    no_csrf = strict.get("/api/s3/params", query, headers={"Authorization": authorization})
    assert no_csrf.status_code == 403
    cross_site = strict.get(
        "/api/s3/params", query, headers={"Authorization": authorization, "X-CSRFToken": token, "Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == 403
    assert Upload.objects.count() == 1


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({"type": "text/plain", "size": 5}, "filename", "invalid"),
        ({"filename": "a.txt", "size": "five"}, "size", "invalid"),
        ({"filename": "a.txt", "size": 0}, "size", "invalid"),
        ({"filename": "a.txt", "type": "not a type", "size": 5}, "type", "invalid"),
        ({"filename": "a.txt", "size": 6 * 1024**4}, "size", "limit_exceeded"),
    ],
)
def test_bad_single_upload_input_is_a_400_naming_the_field(api: Client, query: dict, field: str, code: str) -> None:
    response = api.get("/api/s3/params", query)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert Upload.objects.count() == 0


def test_disallowed_type_is_refused_before_signing(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_ALLOWED_CONTENT_TYPES = ["image/*"]
    response = api.get("/api/s3/params", {"filename": "a.exe", "type": "application/x-msdownload", "size": 5})
    assert response.status_code == 400
    assert response.json()["field"] == "type"
    assert api.get("/api/s3/params", {"filename": "a.png", "type": "image/png", "size": 5}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", None),
        ("[1, 2]", None),
        (json.dumps({"filename": "", "size": 10}), "filename"),
        (json.dumps({"filename": "a", "size": True}), "size"),
        ("null", None),
        ('"a.bin"', None),
        ("1" * 5_000, None),  # more digits than Python turns into an int
        (json.dumps({"filename": 5, "size": 10}), "filename"),
        (json.dumps({"filename": ["a.bin"], "size": 10}), "filename"),
        (json.dumps({"filename": "a", "type": {"x": 1}, "size": 10}), "type"),
        (json.dumps({"filename": "a", "size": [10]}), "size"),
        (json.dumps({"filename": "a", "size": 10.5}), "size"),
        (json.dumps({"filename": "a", "metadata": {"size": "ten"}}), "size"),
        (json.dumps({"filename": "a", "size": 10**40}), "size"),  # a limit the service checks
        ('{"filename": "a", "size": 1e400}', "size"),  # infinity
        ('{"filename": "a", "size": NaN}', "size"),
    ],
)
def test_bad_multipart_create_input_is_a_400(api: Client, body: str, field: str | None) -> None:
    response = api.post("/api/s3/multipart", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Upload.objects.count() == 0


NESTED_2000_DEEP = "[" * 2_000 + "]" * 2_000


@pytest.mark.parametrize(
    "body",
    [NESTED_2000_DEEP, '{"filename": "a.bin", "size": 10, "metadata": ' + NESTED_2000_DEEP + "}"],
)
def test_json_nested_2000_deep_is_a_400_on_create_and_complete(api: Client, body: str) -> None:
    """Python's parser runs out of stack on it (RecursionError): still a 400, never a 500."""
    created = _create_multipart(api)
    for url in ("/api/s3/multipart", f"/api/s3/multipart/{created['uploadId']}/complete?key={created['key']}"):
        response = api.post(url, data=body, content_type="application/json")
        assert response.status_code == 400, url
        assert response.json() == {"message": "The request body is nested too deeply.", "code": "invalid", "field": None}
    assert Upload.objects.count() == 1
    assert Upload.objects.get().state == UploadState.REGISTERED


def test_a_body_over_djangos_size_limit_is_a_json_400(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = json.dumps({"filename": "a.bin", "size": 10, "padding": "x" * 2_000})
    response = api.post("/api/s3/multipart", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"message": "The request body is too large.", "code": "invalid", "field": None}


def test_whole_numbers_written_with_a_zero_fraction_are_whole_numbers(api: Client) -> None:
    """Found by the fuzzing: JSON Schema's integer includes 20971520.0 (and 2e7), which
    the document allows, so the server takes them too."""
    body = {"filename": "big.bin", "size": 20.0 * MiB, "partSize": 1e7}
    created = _post_json(api, "/api/s3/multipart", body)
    assert created.status_code == 200, created.content
    assert created.json()["partSize"] == 10**7
    complete = f"/api/s3/multipart/{created.json()['uploadId']}/complete?key={created.json()['key']}"
    refused = _post_json(api, complete, {"parts": [{"PartNumber": 1.0, "ETag": "a"}]})
    assert "whole number" not in refused.json()["message"]  # got as far as storage


def test_bad_part_numbers_and_parts_lists_are_400(api: Client) -> None:
    created = _create_multipart(api)
    base = f"/api/s3/multipart/{created['uploadId']}"
    key = created["key"]
    assert api.get(f"{base}/0", {"key": key}).status_code == 400
    assert api.get(f"{base}/10001", {"key": key}).status_code == 400
    assert api.get(f"{base}/batch", {"key": key, "partNumbers": "1,x"}).status_code == 400
    assert api.get(f"{base}/batch", {"key": key, "partNumbers": ""}).status_code == 400
    assert api.get(f"{base}/batch", {"key": key, "partNumbers": "1,2.5"}).status_code == 400
    assert api.get(f"{base}/batch", {"key": key, "partNumbers": "1," * 5_000}).json()["field"] == "partNumbers"
    assert api.get(f"{base}/1").status_code == 400  # key missing
    nul = api.get(f"{base}/1", {"key": key + "\x00"})  # PostgreSQL cannot compare with it
    assert (nul.status_code, nul.json()["field"]) == (400, "key")
    complete = f"{base}/complete?key={key}"
    for parts in (
        [], [{"PartNumber": 1}], [{"PartNumber": 1, "ETag": "a"}, {"PartNumber": 1, "ETag": "b"}], "x", None,
        [{"PartNumber": "one", "ETag": "a"}], [{"PartNumber": True, "ETag": "a"}], [{"PartNumber": [1], "ETag": "a"}],
        [{"PartNumber": 1.5, "ETag": "a"}], [{"PartNumber": 10**40, "ETag": "a"}], [{"PartNumber": 1, "ETag": 5}], ["1"],
        # Found by the fuzzing: a control character made S3's request XML invalid, answered as storage down (503).
        [{"PartNumber": 1, "ETag": "\x0b"}], [{"PartNumber": 1, "ETag": "é"}],
    ):
        response = _post_json(api, complete, {"parts": parts})
        assert response.status_code == 400, parts
        assert response.json()["field"] == "parts"
        assert response.json()["code"] == "invalid"
    not_a_number = _post_json(api, complete, {"parts": [{"PartNumber": "one", "ETag": "a"}]})
    assert not_a_number.json()["message"] == "parts must be a whole number."
    assert Upload.objects.get(key=key).state == UploadState.REGISTERED


def test_part_numbers_beyond_the_declared_size_are_refused(api: Client) -> None:
    """6 MiB in parts of 5 MiB is exactly 2 parts: part 3, or 10,000, would let the
    client upload more than it declared."""
    created = _create_multipart(api, size=6 * MiB, part_size=5 * MiB)
    base = f"/api/s3/multipart/{created['uploadId']}"
    key = created["key"]
    for response in (
        api.get(f"{base}/3", {"key": key}),
        api.get(f"{base}/10000", {"key": key}),
        api.get(f"{base}/batch", {"key": key, "partNumbers": "1,2,3"}),
    ):
        assert response.status_code == 400
        assert response.json()["field"] == "partNumbers"
        assert "need 2 parts" in response.json()["message"]
    assert Upload.objects.get(key=key).state == UploadState.REGISTERED, "nothing was signed"

    batch = api.get(f"{base}/batch", {"key": key, "partNumbers": "1,2"})
    assert batch.status_code == 200
    assert sorted(batch.json()["presignedUrls"]) == ["1", "2"]
    exact = _create_multipart(api, size=10 * MiB, part_size=5 * MiB)  # exactly two parts
    assert api.get(f"/api/s3/multipart/{exact['uploadId']}/2", {"key": exact["key"]}).status_code == 200
    assert api.get(f"/api/s3/multipart/{exact['uploadId']}/3", {"key": exact["key"]}).status_code == 400
    default = _create_multipart(api, size=6 * MiB)  # the default 8 MiB parts: one part
    assert default["partSize"] == settings.INTAKE_PART_SIZE_BYTES
    assert api.get(f"/api/s3/multipart/{default['uploadId']}/2", {"key": default["key"]}).status_code == 400


@pytest.mark.parametrize("where", ["metadata", "top level"])
def test_part_size_is_fixed_at_create_and_answered(api: Client, where: str) -> None:
    body: dict = {"filename": "big.bin", "type": "application/octet-stream", "metadata": {"size": 13 * MiB}}
    if where == "metadata":
        body["metadata"]["partSize"] = str(6 * MiB)  # Uppy's metadata values may be strings
    else:
        body["partSize"] = 6 * MiB
    response = _post_json(api, "/api/s3/multipart", body)
    assert response.status_code == 200, response.content
    created = response.json()
    assert created["partSize"] == 6 * MiB
    assert Upload.objects.get(key=created["key"]).part_size == 6 * MiB
    urls = api.get(
        f"/api/s3/multipart/{created['uploadId']}/batch", {"key": created["key"], "partNumbers": "1,2,3"}
    ).json()["presignedUrls"]
    for url in urls.values():
        assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["content-length;host"]
    over = api.get(f"/api/s3/multipart/{created['uploadId']}/4", {"key": created["key"]})
    assert over.status_code == 400
    assert over.json()["field"] == "partNumbers"


def test_part_size_defaults_to_the_configured_part_size(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PART_SIZE_BYTES = 7 * MiB
    created = _create_multipart(api, size=20 * MiB)
    assert created["partSize"] == 7 * MiB
    assert Upload.objects.get(key=created["key"]).part_size == 7 * MiB
    base = f"/api/s3/multipart/{created['uploadId']}"
    assert api.get(f"{base}/3", {"key": created["key"]}).status_code == 200
    assert api.get(f"{base}/4", {"key": created["key"]}).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"size": 20 * MiB, "partSize": 5 * MiB - 1},
        {"size": 20 * MiB, "partSize": 5 * 1024**3 + 1},
        {"size": 20 * MiB, "partSize": "big"},
        {"size": 20 * MiB, "partSize": True},
        {"size": 20 * MiB, "metadata": {"partSize": 1024}},
        {"size": 10_001 * 5 * MiB, "partSize": 5 * MiB},  # more than 10,000 parts
        {"size": 20 * MiB, "partSize": 10**40},
        {"size": 20 * MiB, "metadata": {"partSize": [5 * MiB]}},
    ],
)
def test_invalid_part_size_is_a_400_naming_it(api: Client, settings, body: dict) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_MAX_UPLOAD_BYTES = 100 * 1024**3
    response = _post_json(api, "/api/s3/multipart", {"filename": "a.bin", **body})
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "partSize"
    assert Upload.objects.count() == 0


def test_s3_unreachable_is_a_503_with_a_plain_message(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    from emulator import free_port

    settings.INTAKE_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    settings.INTAKE_S3_CONNECT_TIMEOUT = 0.5
    s3.reset_clients()
    response = _post_json(api, "/api/s3/multipart", {"filename": "a.bin", "size": 6 * MiB})
    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
    assert "try again" in response.json()["message"]
    assert response["Retry-After"] == "5", "clients are told when to come back"
    assert Upload.objects.count() == 0, "nothing half-written"


def test_fast_and_botocore_signing_give_the_same_kind_of_url(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    fast = api.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": 2}).json()
    settings.INTAKE_S3_FAST_SIGNING = False
    slow = api.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": 2}).json()
    strip = lambda url: sorted(k for k in parse_qs(urlsplit(url).query) if k != "X-Amz-Signature")  # noqa: E731
    assert strip(fast["url"]) == strip(slow["url"])
    for signed in (fast, slow):
        assert requests.put(signed["url"], data=b"ok", headers=signed["headers"], timeout=10).status_code == 200


def test_fast_and_botocore_signing_give_the_same_kind_of_part_url(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    created = _create_multipart(api, size=12 * MiB, part_size=5 * MiB)
    fast = api.get(f"/api/s3/multipart/{created['uploadId']}/3", {"key": created["key"]}).json()["url"]
    settings.INTAKE_S3_FAST_SIGNING = False
    slow = api.get(f"/api/s3/multipart/{created['uploadId']}/3", {"key": created["key"]}).json()["url"]
    strip = lambda url: sorted((k, v) for k, v in parse_qs(urlsplit(url).query).items() if k not in {"X-Amz-Signature", "X-Amz-Date", "X-Amz-Credential"})  # noqa: E731
    assert strip(fast) == strip(slow)
    assert parse_qs(urlsplit(slow).query)["X-Amz-SignedHeaders"] == ["content-length;host"]


def test_uploads_registered_before_part_sizes_keep_unbound_parts(api: Client) -> None:
    """Rows from before the part_size column: parts stay unbound, capped at
    ceil(declared / 5 MiB) as they were when the client started."""
    created = _create_multipart(api, size=6 * MiB)
    Upload.objects.filter(key=created["key"]).update(part_size=None)
    base = f"/api/s3/multipart/{created['uploadId']}"
    url = api.get(f"{base}/2", {"key": created["key"]}).json()["url"]
    assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["host"]
    refused = api.get(f"{base}/3", {"key": created["key"]})
    assert refused.status_code == 400
    assert "need at most 2 parts" in refused.json()["message"]
