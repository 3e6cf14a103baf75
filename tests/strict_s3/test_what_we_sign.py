"""Every URL and policy we hand out, used as intended (accepted) and then with each
thing it binds changed (refused), against a gateway that enforces SigV4."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.conf import settings
from django.test import Client

from tests.strict_s3.conftest import ALLOWED_ORIGIN
from uploader import s3
from uploader.uploads.models import Upload, UploadState

pytestmark = pytest.mark.strict_s3

MiB = 1024 * 1024


def _complete(api, created: dict, etags: list[str]):  # type: ignore[no-untyped-def]
    """The contract's complete call with parts 1..n and their ETags."""
    return api.post(
        f"/api/s3/multipart/{created['uploadId']}/complete?key={created['key']}",
        data=json.dumps({"parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]}),
        content_type="application/json",
    )


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = [(k, changes.get(k, v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _error_code(response: requests.Response) -> str:
    text = response.text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""


def _single(api: Client, *, size: int, type_: str = "text/plain") -> dict:
    response = api.get("/api/s3/params", {"filename": "strict.txt", "type": type_, "size": size})
    assert response.status_code == 200, response.content
    return response.json()


# --- single PUT ----------------------------------------------------------------------------------------


def test_signed_put_is_accepted_as_intended(strict_api: Client) -> None:
    body = os.urandom(1000)
    signed = _single(strict_api, size=len(body))
    assert signed["method"] == "PUT"
    put = requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10)
    assert put.status_code == 200, (signed["url"], put.text)
    assert strict_api.post(f"/api/s3/complete?key={signed['key']}").status_code == 200
    upload = Upload.objects.get(pk=signed["id"])
    assert (upload.state, upload.stored_size) == (UploadState.STORED, 1000)
    assert s3.get_object_bytes(key=upload.key) == body


@pytest.mark.parametrize(
    "tamper",
    [
        "other content type",
        "no content type",
        "one byte more",
        "one byte less",
        "other key",
        "tampered signature",
        "other expiry",
    ],
)
def test_signed_put_refuses_anything_it_does_not_bind(strict_api: Client, tamper: str) -> None:
    body = b"x" * 100
    signed = _single(strict_api, size=len(body))
    url, headers, data = signed["url"], dict(signed["headers"]), body
    if tamper == "other content type":
        headers["content-type"] = "text/html"
    elif tamper == "no content type":
        headers.pop("content-type")
    elif tamper == "one byte more":
        data = body + b"x"
    elif tamper == "one byte less":
        data = body[:-1]
    elif tamper == "other key":
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(path=parts.path.rsplit("/", 1)[0] + "/evil.html"))
    elif tamper == "tampered signature":
        signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
        url = _with_query(url, **{"X-Amz-Signature": signature[:-1] + ("0" if signature[-1] != "0" else "1")})
    elif tamper == "other expiry":
        url = _with_query(url, **{"X-Amz-Expires": "604800"})
    response = requests.put(url, data=data, headers=headers, timeout=10)
    assert response.status_code == 403, (tamper, response.status_code, response.text[:300])
    assert _error_code(response) in {"SignatureDoesNotMatch", "AccessDenied"}
    with pytest.raises(s3.ObjectNotFound):
        s3.head_object(key=signed["key"])
    # The same URL used as intended still works: the refusal was the tamper's doing.
    assert requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).status_code == 200


def test_signed_put_expires(strict_api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PRESIGN_EXPIRES_SECONDS = 1
    signed = _single(strict_api, size=3)
    time.sleep(2.5)
    response = requests.put(signed["url"], data=b"abc", headers=signed["headers"], timeout=10)
    assert response.status_code == 403
    assert _error_code(response) == "AccessDenied"


# --- POST policy ------------------------------------------------------------------------------------------


def _policy(api: Client) -> dict:
    response = api.get("/api/s3/params", {"filename": "form.txt", "type": "text/plain"})
    assert response.status_code == 200
    signed = response.json()
    assert signed["method"] == "POST"
    return signed


def _post(signed: dict, body: bytes, **field_changes: str) -> requests.Response:
    fields = {**signed["fields"], **field_changes}
    return requests.post(
        signed["url"], data=fields, files={"file": ("form.txt", body, fields.get("Content-Type"))}, timeout=10
    )


def test_post_policy_is_accepted_as_intended(strict_api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_MAX_UPLOAD_BYTES = 1024
    signed = _policy(strict_api)
    assert _post(signed, b"y" * 1024).status_code in {200, 204}
    assert strict_api.post(f"/api/s3/complete?key={signed['key']}").status_code == 200
    assert Upload.objects.get(pk=signed["id"]).stored_size == 1024


@pytest.mark.parametrize(
    ("tamper", "status", "code"),
    [
        ("over the size range", 400, "EntityTooLarge"),
        ("empty file", 400, "EntityTooSmall"),
        ("key outside the policy", 403, "AccessDenied"),
        ("other content type", 403, "AccessDenied"),
        ("tampered policy", 403, "AccessDenied"),
    ],
)
def test_post_policy_refuses_anything_it_does_not_allow(
    strict_api: Client, settings, tamper: str, status: int, code: str
) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_MAX_UPLOAD_BYTES = 1024
    signed = _policy(strict_api)
    body, changes = b"y" * 10, {}
    if tamper == "over the size range":
        body = b"y" * 1025
    elif tamper == "empty file":
        body = b""
    elif tamper == "key outside the policy":
        changes = {"key": signed["fields"]["key"].rsplit("/", 1)[0] + "/other.txt"}
    elif tamper == "other content type":
        changes = {"Content-Type": "text/html"}
    elif tamper == "tampered policy":
        policy = json.loads(base64.b64decode(signed["fields"]["policy"]))
        policy["conditions"] = [
            c for c in policy["conditions"] if not (isinstance(c, list) and c[0] == "content-length-range")
        ]
        changes = {"policy": base64.b64encode(json.dumps(policy).encode()).decode()}
    response = _post(signed, body, **changes)
    assert response.status_code == status, (tamper, response.text[:300])
    assert _error_code(response) == code or code in response.text
    with pytest.raises(s3.ObjectNotFound):
        s3.head_object(key=signed["key"])
    assert _post(signed, b"y" * 10).status_code in {200, 204}, "the untouched form is accepted"


def test_post_policy_expires(strict_api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PRESIGN_EXPIRES_SECONDS = 1
    signed = _policy(strict_api)
    time.sleep(2.5)
    response = _post(signed, b"late")
    assert response.status_code == 403


# --- multipart ------------------------------------------------------------------------------------------


def _create_multipart(api: Client, size: int, part_size: int = 5 * MiB) -> dict:
    response = api.post(
        "/api/s3/multipart",
        data=json.dumps(
            {"filename": "big.bin", "type": "application/octet-stream", "size": size, "partSize": part_size}
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["partSize"] == part_size
    return response.json()


def _part_urls(api: Client, created: dict, numbers: str) -> dict[str, str]:
    response = api.get(
        f"/api/s3/multipart/{created['uploadId']}/batch", {"key": created["key"], "partNumbers": numbers}
    )
    assert response.status_code == 200
    return response.json()["presignedUrls"]


def test_multipart_through_the_contract_completes_with_matching_bytes(strict_api: Client) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(1 * MiB)]
    created = _create_multipart(strict_api, sum(map(len, parts)))
    urls = _part_urls(strict_api, created, "1,2")
    etags = [requests.put(urls[str(n)], data=body, timeout=30).headers["ETag"] for n, body in enumerate(parts, start=1)]
    listed = strict_api.get(f"/api/s3/multipart/{created['uploadId']}", {"key": created["key"]}).json()
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 5 * MiB), (2, 1 * MiB)]
    done = _complete(strict_api, created, etags)
    assert done.status_code == 200, done.content
    upload = Upload.objects.get(key=created["key"])
    assert upload.state == UploadState.STORED
    assert upload.etag, "the gateway's complete answer has no ETag; the HEAD that follows does"
    assert hashlib.sha256(s3.get_object_bytes(key=upload.key)).digest() == hashlib.sha256(b"".join(parts)).digest()


@pytest.mark.parametrize("tamper", ["another part number", "another upload id", "tampered signature"])
def test_part_url_refuses_another_part_or_upload(strict_api: Client, tamper: str) -> None:
    created = _create_multipart(strict_api, 5 * MiB + 1024)  # part 2, the last, is 1 KiB
    url = _part_urls(strict_api, created, "2")["2"]
    if tamper == "another part number":
        url = _with_query(url, partNumber="1")
    elif tamper == "another upload id":
        other = _create_multipart(strict_api, 5 * MiB + 1024)
        url = _with_query(url, uploadId=other["uploadId"])
    else:
        signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
        url = _with_query(url, **{"X-Amz-Signature": ("f" if signature[0] != "f" else "e") + signature[1:]})
    response = requests.put(url, data=b"z" * 1024, timeout=10)
    assert response.status_code == 403, response.text[:300]
    listed = strict_api.get(f"/api/s3/multipart/{created['uploadId']}", {"key": created["key"]}).json()
    assert listed == []
    original = _part_urls(strict_api, created, "2")["2"]
    assert requests.put(original, data=b"z" * 1024, timeout=10).status_code == 200, "the untouched URL works"


@pytest.mark.parametrize("part", ["middle", "last"])
@pytest.mark.parametrize("tamper", ["one byte more", "one byte less"])
def test_part_url_refuses_any_other_length(strict_api: Client, part: str, tamper: str) -> None:
    """Each part URL signs its Content-Length: the part size, the remainder for the
    last part. A body one byte off is refused; the right one is accepted."""
    created = _create_multipart(strict_api, 10 * MiB + 100)  # parts of 5 MiB, 5 MiB and 100 bytes
    number, length = (2, 5 * MiB) if part == "middle" else (3, 100)
    url = _part_urls(strict_api, created, str(number))[str(number)]
    assert dict(parse_qsl(urlsplit(url).query))["X-Amz-SignedHeaders"] == "content-length;host"
    body = os.urandom(length)
    wrong = body + b"x" if tamper == "one byte more" else body[:-1]
    response = requests.put(url, data=wrong, timeout=30)
    assert response.status_code == 403, (part, tamper, response.status_code, response.text[:300])
    assert _error_code(response) in {"SignatureDoesNotMatch", "AccessDenied"}
    listed = strict_api.get(f"/api/s3/multipart/{created['uploadId']}", {"key": created["key"]}).json()
    assert listed == []
    assert requests.put(url, data=body, timeout=30).status_code == 200, "the signed length is accepted"
    listed = strict_api.get(f"/api/s3/multipart/{created['uploadId']}", {"key": created["key"]}).json()
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(number, length)]


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - S3's Content-MD5


@pytest.mark.parametrize(
    "tamper", ["other bytes, same length", "no Content-MD5 header", "another digest in the header"]
)
def test_checksummed_put_refuses_bytes_that_are_not_the_hashed_ones(strict_api: Client, tamper: str) -> None:
    """A PUT signed with the browser's MD5: the gateway refuses other bytes of the same
    length (BadDigest), and a request that drops or swaps the header (signature)."""
    body = os.urandom(2000)
    response = strict_api.get(
        "/api/s3/params", {"filename": "strict.bin", "type": "text/plain", "size": len(body), "md5": _md5(body)}
    )
    assert response.status_code == 200, response.content
    signed = response.json()
    headers = dict(signed["headers"])
    data = body
    if tamper == "other bytes, same length":
        data = os.urandom(len(body))
    elif tamper == "no Content-MD5 header":
        del headers["content-md5"]
    else:
        data = os.urandom(len(body))
        headers["content-md5"] = _md5(data)
    refused = requests.put(signed["url"], data=data, headers=headers, timeout=10)
    assert refused.status_code in {400, 403}, (tamper, refused.status_code, refused.text[:300])
    expected = (
        {"BadDigest", "InvalidDigest"}
        if tamper == "other bytes, same length"
        else {"SignatureDoesNotMatch", "AccessDenied"}
    )
    assert _error_code(refused) in expected, refused.text[:300]
    assert s3.head_object_or_none(key=signed["key"]) is None
    assert requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).status_code == 200
    assert strict_api.post(f"/api/s3/complete?key={signed['key']}").status_code == 200
    assert Upload.objects.get(key=signed["key"]).state == UploadState.STORED


@pytest.mark.parametrize("fast_signing", [True, False], ids=["our signer", "botocore"])
def test_checksummed_part_refuses_bytes_that_are_not_the_hashed_ones(
    strict_api: Client, settings, fast_signing: bool
) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_FAST_SIGNING = fast_signing
    parts = [os.urandom(5 * MiB), os.urandom(300)]
    created = _create_multipart(strict_api, sum(map(len, parts)))
    etags = []
    for number, body in enumerate(parts, start=1):
        answer = strict_api.get(
            f"/api/s3/multipart/{created['uploadId']}/{number}", {"key": created["key"], "md5": _md5(body)}
        ).json()
        assert (
            dict(parse_qsl(urlsplit(answer["url"]).query))["X-Amz-SignedHeaders"] == "content-length;content-md5;host"
        )
        corrupted = bytes([body[0] ^ 0xFF]) + body[1:]
        refused = requests.put(answer["url"], data=corrupted, headers=answer["headers"], timeout=30)
        assert refused.status_code == 400, refused.text[:300]
        assert _error_code(refused) in {"BadDigest", "InvalidDigest"}, refused.text[:300]
        accepted = requests.put(answer["url"], data=body, headers=answer["headers"], timeout=30)
        assert accepted.status_code == 200, accepted.text[:300]
        etags.append(accepted.headers["ETag"])
    done = _complete(strict_api, created, etags)
    assert done.status_code == 200, done.content
    assert s3.get_object_bytes(key=created["key"]) == b"".join(parts)


@pytest.mark.parametrize("fast_signing", [True, False], ids=["our signer", "botocore"])
def test_bound_parts_complete_with_a_smaller_last_part(strict_api: Client, settings, fast_signing: bool) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_FAST_SIGNING = fast_signing
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(100)]
    created = _create_multipart(strict_api, sum(map(len, parts)))
    urls = _part_urls(strict_api, created, "1,2,3")
    etags = []
    for number, body in enumerate(parts, start=1):
        put = requests.put(urls[str(number)], data=body, timeout=30)
        assert put.status_code == 200, (number, put.text[:300])
        etags.append(put.headers["ETag"])
    done = _complete(strict_api, created, etags)
    assert done.status_code == 200, done.content
    upload = Upload.objects.get(key=created["key"])
    assert (upload.state, upload.stored_size) == (UploadState.STORED, 10 * MiB + 100)
    assert s3.get_object_bytes(key=upload.key) == b"".join(parts)


@pytest.mark.parametrize("fast_signing", [True, False], ids=["our signer", "botocore"])
def test_signed_get_downloads_under_its_name_and_nothing_else(strict_bucket: str, settings, fast_signing: bool) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_FAST_SIGNING = fast_signing
    s3.put_object_bytes(key="uploads/strict/Grüße (1).pdf", body=b"the bytes")
    s3.put_object_bytes(key="uploads/strict/other.pdf", body=b"other bytes")
    url = s3.presign_get_object(key="uploads/strict/Grüße (1).pdf", expires_in=60, filename="Grüße (1).pdf")
    got = requests.get(url, timeout=10)
    assert got.status_code == 200, got.text[:300]
    assert got.content == b"the bytes"
    assert (
        got.headers["Content-Disposition"]
        == "attachment; filename=\"Gru_e (1).pdf\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%281%29.pdf"
    )
    # The name and the key are signed: another of either is refused.
    renamed = _with_query(url, **{"response-content-disposition": "attachment; filename=evil.exe"})
    assert requests.get(renamed, timeout=10).status_code == 403
    other_key = url.replace("Gr%C3%BC%C3%9Fe%20%281%29.pdf", "other.pdf", 1)
    assert other_key != url
    assert _error_code(requests.get(other_key, timeout=10)) == "SignatureDoesNotMatch"


def test_part_url_expires(strict_api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PRESIGN_EXPIRES_SECONDS = 1
    created = _create_multipart(strict_api, 5 * MiB + 1)
    url = _part_urls(strict_api, created, "2")["2"]
    time.sleep(2.5)
    assert requests.put(url, data=b"z", timeout=10).status_code == 403


@pytest.mark.parametrize("problem", ["part never uploaded", "wrong etag"])
def test_complete_refused_by_s3_is_a_400_and_changes_nothing(strict_api: Client, problem: str) -> None:
    # Bound part lengths leave no way to send a part too small; these are what S3
    # can still refuse.
    created = _create_multipart(strict_api, 5 * MiB + MiB)
    urls = _part_urls(strict_api, created, "1,2")
    sizes = {1: 5 * MiB, 2: MiB}
    sent = (1,) if problem == "part never uploaded" else (1, 2)
    etags = [requests.put(urls[str(n)], data=os.urandom(sizes[n]), timeout=30).headers["ETag"] for n in sent]
    if problem == "part never uploaded":
        etags.append(etags[0])  # part 2 named with part 1's ETag
    else:
        etags[1] = '"00000000000000000000000000000000"'
    done = _complete(strict_api, created, etags)
    assert done.status_code == 400, done.content
    assert "Storage refused" in done.json()["message"]
    assert Upload.objects.get(key=created["key"]).state == UploadState.UPLOADING


# --- CORS as our set-up command writes it ---------------------------------------------------------------------


def _preflight(origin: str, method: str = "PUT") -> requests.Response:
    return requests.options(
        f"{settings.INTAKE_S3_ENDPOINT_URL}/{settings.INTAKE_S3_BUCKET}/uploads/x",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )


def test_cors_allows_the_configured_origin_and_exposes_etag(strict_bucket: str) -> None:
    response = _preflight(ALLOWED_ORIGIN)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "ETag" in response.headers.get("Access-Control-Expose-Headers", "")


@pytest.mark.parametrize(("origin", "method"), [("https://evil.example", "PUT"), (ALLOWED_ORIGIN, "DELETE")])
def test_cors_refuses_other_origins_and_methods(strict_bucket: str, origin: str, method: str) -> None:
    response = _preflight(origin, method)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
