"""Our fast SigV4 signer must produce byte-identical URLs to botocore's."""

import datetime as dt
from unittest import mock

import boto3
import pytest
from botocore.config import Config

from uploader.s3.signing import QueryStringSigner, SigningCredentials

NOW = dt.datetime(2026, 11, 28, 19, 47, 16)


def _client(endpoint_url: str | None, region: str, style: str, token: str | None = None):  # type: ignore[no-untyped-def]
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
        config=Config(
            signature_version="s3v4", s3={"addressing_style": style}, request_checksum_calculation="when_required"
        ),
    )


def _botocore_url(client, operation: str, params: dict, expires: int) -> str:  # type: ignore[no-untyped-def]
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        return str(client.generate_presigned_url(operation, Params=params, ExpiresIn=expires))


def _our_signer(client, bucket: str) -> QueryStringSigner:  # type: ignore[no-untyped-def]
    probe = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "__probe__"})
    return QueryStringSigner(
        object_url_prefix=probe.split("?")[0].removesuffix("__probe__"), region=client.meta.region_name
    )


ENDPOINTS = [
    ("http://127.0.0.1:9000", "us-east-1", "path"),
    ("http://localhost:80", "eu-west-1", "path"),
    (None, "eu-central-1", "virtual"),
    (None, "us-east-1", "virtual"),
    ("https://s3.example.test:8443", "ap-southeast-2", "path"),
]
KEYS = [
    "uploads/staff/2026/11/0d9c/report.pdf",
    "uploads/staff/2026/11/0d9c/Grüße aus Köln (1).jpg",
    "uploads/a+b=c&d/~tilde/!*'();:@$,?#[]",
    "uploads/😀/x",
]


@pytest.mark.parametrize(("endpoint", "region", "style"), ENDPOINTS)
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE//session+token=="])
def test_put_object_url_is_byte_identical(
    endpoint: str | None, region: str, style: str, key: str, token: str | None
) -> None:
    client = _client(endpoint, region, style, token)
    expected = _botocore_url(
        client,
        "put_object",
        {"Bucket": "intake-bucket", "Key": key, "ContentType": "image/jpeg", "ContentLength": 123456},
        900,
    )
    ours = _our_signer(client, "intake-bucket").presign(
        credentials=SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        method="PUT",
        key=key,
        expires_in=900,
        now=NOW,
        headers={"content-length": "123456", "content-type": "image/jpeg"},
    )
    assert ours == expected


@pytest.mark.parametrize(("endpoint", "region", "style"), ENDPOINTS)
@pytest.mark.parametrize("upload_id", ["2~abc.DEF_ghi-jkl", "VXBsb2FkIElE+/=", "x"])
@pytest.mark.parametrize("part_number", [1, 37, 10000])
def test_upload_part_url_is_byte_identical(
    endpoint: str | None, region: str, style: str, upload_id: str, part_number: int
) -> None:
    client = _client(endpoint, region, style)
    key = KEYS[1]
    expected = _botocore_url(
        client,
        "upload_part",
        {"Bucket": "intake-bucket", "Key": key, "UploadId": upload_id, "PartNumber": part_number},
        3600,
    )
    ours = _our_signer(client, "intake-bucket").presign(
        credentials=SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        method="PUT",
        key=key,
        expires_in=3600,
        now=NOW,
        operation_params=[("uploadId", upload_id), ("partNumber", str(part_number))],
    )
    assert ours == expected


def test_signature_changes_with_every_bound_input() -> None:
    client = _client("http://127.0.0.1:9000", "us-east-1", "path")
    signer = _our_signer(client, "b")
    creds = SigningCredentials("AK", "SK")
    base = {
        "credentials": creds,
        "method": "PUT",
        "key": "k",
        "expires_in": 60,
        "now": NOW,
        "headers": {"content-type": "a/b", "content-length": "1"},
    }
    reference = signer.presign(**base)  # type: ignore[arg-type]
    variants = [
        {**base, "key": "k2"},
        {**base, "expires_in": 61},
        {**base, "now": NOW + dt.timedelta(seconds=1)},
        {**base, "headers": {"content-type": "a/c", "content-length": "1"}},
        {**base, "headers": {"content-type": "a/b", "content-length": "2"}},
        {**base, "credentials": SigningCredentials("AK", "SK2")},
    ]
    signatures = {signer.presign(**v).rsplit("=", 1)[1] for v in variants}  # type: ignore[arg-type]
    assert reference.rsplit("=", 1)[1] not in signatures
    assert len(signatures) == len(variants)


@pytest.mark.parametrize(("endpoint", "region", "style"), ENDPOINTS)
@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE//session+token=="])
def test_batch_part_urls_equal_one_by_one_and_botocore(
    endpoint: str | None, region: str, style: str, token: str | None
) -> None:
    client = _client(endpoint, region, style, token)
    signer = _our_signer(client, "intake-bucket")
    creds = SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    numbers = [1, 2, 9, 10, 11, 100, 10000]
    batch = signer.presign_parts(
        credentials=creds, key=KEYS[1], upload_id="2~a+b/c=", part_numbers=numbers, expires_in=900, now=NOW
    )
    assert list(batch) == numbers
    for number in numbers:
        one = signer.presign(
            credentials=creds,
            method="PUT",
            key=KEYS[1],
            expires_in=900,
            now=NOW,
            operation_params=[("uploadId", "2~a+b/c="), ("partNumber", str(number))],
        )
        assert batch[number] == one
        assert batch[number] == _botocore_url(
            client,
            "upload_part",
            {"Bucket": "intake-bucket", "Key": KEYS[1], "UploadId": "2~a+b/c=", "PartNumber": number},
            900,
        )


UPLOAD_IDS = ["2~abc.DEF_ghi-jkl", "VXBsb2FkIElE+/=", "x", "a b&c=d%e", "ü/é"]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("upload_id", UPLOAD_IDS)
@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE//session+token=="])
def test_batch_part_urls_are_byte_identical_for_hostile_keys_and_ids(
    key: str, upload_id: str, token: str | None
) -> None:
    # presign_parts hashes a prepared head of the canonical request and copies a
    # prepared HMAC for each part: every key/id encoding must still land in the
    # same bytes as botocore's.
    client = _client("http://127.0.0.1:9000", "us-east-1", "path", token)
    creds = SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    numbers = [3, 1, 9999, 42]
    batch = _our_signer(client, "intake-bucket").presign_parts(
        credentials=creds, key=key, upload_id=upload_id, part_numbers=numbers, expires_in=604800, now=NOW
    )
    assert list(batch) == numbers
    for number in numbers:
        assert batch[number] == _botocore_url(
            client,
            "upload_part",
            {"Bucket": "intake-bucket", "Key": key, "UploadId": upload_id, "PartNumber": number},
            604800,
        )


def test_batch_prepared_state_is_not_shared_between_batches() -> None:
    # One signer serves every request of a process: a batch must not reuse the
    # prepared hashes of an earlier batch signed with other credentials or at
    # another time (the day key is cached per secret and date).
    client = _client("http://127.0.0.1:9000", "us-east-1", "path")
    signer = _our_signer(client, "b")
    first = SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    second = SigningCredentials("AKIDOTHER", "other-secret")
    later = NOW + dt.timedelta(days=1, seconds=3)
    for creds, now in [(first, NOW), (second, NOW), (first, later), (second, later), (first, NOW)]:
        batch = signer.presign_parts(
            credentials=creds, key="k/x", upload_id="u", part_numbers=[1, 2], expires_in=60, now=now
        )
        for number in (1, 2):
            assert batch[number] == signer.presign(
                credentials=creds,
                method="PUT",
                key="k/x",
                expires_in=60,
                now=now,
                operation_params=[("uploadId", "u"), ("partNumber", str(number))],
            )
    assert batch[1] != batch[2]


def test_empty_batch_signs_nothing() -> None:
    signer = _our_signer(_client("http://127.0.0.1:9000", "us-east-1", "path"), "b")
    creds = SigningCredentials("AK", "SK")
    assert (
        signer.presign_parts(credentials=creds, key="k", upload_id="u", part_numbers=[], expires_in=60, now=NOW) == {}
    )


MiB = 1024 * 1024
# (declared size, part size): a many-part upload (first, middle and last part) and a
# one-part upload whose only part is also its last.
BOUND_UPLOADS = [(3 * 8 * MiB + 123, 8 * MiB), (4 * MiB + 1, 8 * MiB), (5 * MiB, 5 * MiB)]


def _lengths(size: int, part_size: int) -> dict[int, int]:
    count = -(-size // part_size)
    return {n: part_size if n < count else size - part_size * (count - 1) for n in range(1, count + 1)}


@pytest.mark.parametrize(("endpoint", "region", "style"), ENDPOINTS)
@pytest.mark.parametrize(("size", "part_size"), BOUND_UPLOADS)
@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE//session+token=="])
def test_part_urls_binding_content_length_are_byte_identical(
    endpoint: str | None, region: str, style: str, size: int, part_size: int, token: str | None
) -> None:
    client = _client(endpoint, region, style, token)
    creds = SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    lengths = _lengths(size, part_size)
    numbers = sorted(lengths, reverse=True)  # last part first: order must not matter
    batch = _our_signer(client, "intake-bucket").presign_parts(
        credentials=creds,
        key=KEYS[1],
        upload_id="2~a+b/c=",
        part_numbers=numbers,
        expires_in=900,
        now=NOW,
        content_lengths=lengths,
    )
    assert list(batch) == numbers
    for number in numbers:
        expected = _botocore_url(
            client,
            "upload_part",
            {
                "Bucket": "intake-bucket",
                "Key": KEYS[1],
                "UploadId": "2~a+b/c=",
                "PartNumber": number,
                "ContentLength": lengths[number],
            },
            900,
        )
        assert "X-Amz-SignedHeaders=content-length%3Bhost" in expected
        assert batch[number] == expected
        assert batch[number] == _our_signer(client, "intake-bucket").presign(
            credentials=creds,
            method="PUT",
            key=KEYS[1],
            expires_in=900,
            now=NOW,
            operation_params=[("uploadId", "2~a+b/c="), ("partNumber", str(number))],
            headers={"content-length": str(lengths[number])},
        )


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("upload_id", UPLOAD_IDS)
def test_part_urls_binding_content_length_for_hostile_keys_and_ids(key: str, upload_id: str) -> None:
    client = _client("http://127.0.0.1:9000", "us-east-1", "path")
    creds = SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    lengths = {1: 5 * MiB, 2: 5 * MiB, 3: 1}
    batch = _our_signer(client, "intake-bucket").presign_parts(
        credentials=creds,
        key=key,
        upload_id=upload_id,
        part_numbers=[2, 3, 1],
        expires_in=604800,
        now=NOW,
        content_lengths=lengths,
    )
    for number, length in lengths.items():
        assert batch[number] == _botocore_url(
            client,
            "upload_part",
            {
                "Bucket": "intake-bucket",
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": number,
                "ContentLength": length,
            },
            604800,
        )


def test_bound_length_changes_the_signature_and_is_required_for_every_part() -> None:
    signer = _our_signer(_client("http://127.0.0.1:9000", "us-east-1", "path"), "b")
    creds = SigningCredentials("AK", "SK")
    common = {"credentials": creds, "key": "k", "upload_id": "u", "part_numbers": [1], "expires_in": 60, "now": NOW}
    unbound = signer.presign_parts(**common)[1]  # type: ignore[arg-type]
    five = signer.presign_parts(**common, content_lengths={1: 5 * MiB})[1]  # type: ignore[arg-type]
    six = signer.presign_parts(**common, content_lengths={1: 5 * MiB + 1})[1]  # type: ignore[arg-type]
    assert len({unbound, five, six}) == 3
    assert "X-Amz-SignedHeaders=host&" in unbound
    with pytest.raises(ValueError, match="no content length"):
        signer.presign_parts(**{**common, "part_numbers": [1, 2]}, content_lengths={1: 5 * MiB})  # type: ignore[arg-type]


MD5 = "XUFAKrxLKna5cZ2REBfFkg=="  # base64 MD5 of b"hello"


@pytest.mark.parametrize(("endpoint", "region", "style"), ENDPOINTS)
@pytest.mark.parametrize("key", KEYS)
def test_put_object_url_binding_content_md5_is_byte_identical(
    endpoint: str | None, region: str, style: str, key: str
) -> None:
    client = _client(endpoint, region, style)
    expected = _botocore_url(
        client,
        "put_object",
        {"Bucket": "intake-bucket", "Key": key, "ContentType": "image/jpeg", "ContentLength": 5, "ContentMD5": MD5},
        900,
    )
    ours = _our_signer(client, "intake-bucket").presign(
        credentials=SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        method="PUT",
        key=key,
        expires_in=900,
        now=NOW,
        headers={"content-length": "5", "content-type": "image/jpeg", "content-md5": MD5},
    )
    assert ours == expected
    assert "X-Amz-SignedHeaders=content-length%3Bcontent-md5%3Bcontent-type%3Bhost" in ours


@pytest.mark.parametrize(("endpoint", "region", "style"), ENDPOINTS)
@pytest.mark.parametrize("content_length", [None, 8 * 1024**2])
def test_upload_part_url_binding_content_md5_is_byte_identical(
    endpoint: str | None, region: str, style: str, content_length: int | None
) -> None:
    client = _client(endpoint, region, style)
    params: dict = {
        "Bucket": "intake-bucket",
        "Key": KEYS[2],
        "UploadId": "VXBsb2FkIElE+/=",
        "PartNumber": 7,
        "ContentMD5": MD5,
    }
    headers = {"content-md5": MD5}
    if content_length is not None:
        params["ContentLength"] = content_length
        headers["content-length"] = str(content_length)
    expected = _botocore_url(client, "upload_part", params, 3600)
    ours = _our_signer(client, "intake-bucket").presign(
        credentials=SigningCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        method="PUT",
        key=KEYS[2],
        expires_in=3600,
        now=NOW,
        operation_params=[("uploadId", "VXBsb2FkIElE+/="), ("partNumber", "7")],
        headers=headers,
    )
    assert ours == expected


@pytest.mark.parametrize(("endpoint", "region", "style"), ENDPOINTS)
@pytest.mark.parametrize("key", KEYS[1:3])
@pytest.mark.parametrize(
    "disposition", [None, "attachment; filename=\"Gr_e.pdf\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.pdf"]
)
def test_get_object_url_is_byte_identical(
    endpoint: str | None, region: str, style: str, key: str, disposition: str | None
) -> None:
    client = _client(endpoint, region, style, "FQoGZXIvYXdzE//session+token==")
    params = {"Bucket": "intake-bucket", "Key": key}
    if disposition:
        params["ResponseContentDisposition"] = disposition
    expected = _botocore_url(client, "get_object", params, 300)
    ours = _our_signer(client, "intake-bucket").presign(
        credentials=SigningCredentials(
            "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FQoGZXIvYXdzE//session+token=="
        ),
        method="GET",
        key=key,
        expires_in=300,
        now=NOW,
        operation_params=[("response-content-disposition", disposition)] if disposition else None,
    )
    assert ours == expected
