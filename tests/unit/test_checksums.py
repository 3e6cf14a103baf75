"""Parsing a declared Content-MD5 and comparing a stored object's ETag with it."""

import base64
import hashlib

import pytest

from uploader.uploads.checksums import md5_hex, parse_content_md5, stored_digest_problem
from uploader.uploads.errors import InvalidInput

BODY = b"the quick brown fox"
MD5_B64 = base64.b64encode(hashlib.md5(BODY).digest()).decode()  # noqa: S324 - S3's Content-MD5
MD5_HEX = hashlib.md5(BODY).hexdigest()  # noqa: S324


def test_a_valid_digest_is_normalised_and_converts_to_hex() -> None:
    assert parse_content_md5(f"  {MD5_B64} ", field="md5") == MD5_B64
    assert md5_hex(MD5_B64) == MD5_HEX


@pytest.mark.parametrize("value", [None, ""])
def test_no_digest_is_none(value: str | None) -> None:
    assert parse_content_md5(value, field="md5") is None


@pytest.mark.parametrize(
    "value",
    [
        MD5_HEX,  # hex, not base64
        base64.b64encode(hashlib.sha256(BODY).digest()).decode(),  # 32 bytes
        base64.b64encode(b"short").decode(),
        "not base64 at all!",
        MD5_B64.rstrip("="),  # unpadded
        MD5_B64 + "\n" + MD5_B64,
    ],
)
def test_anything_but_a_base64_md5_is_a_400_naming_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_content_md5(value, field="md5")
    assert refused.value.field == "md5"
    assert refused.value.status == 400


def test_matching_etag_is_fine_and_a_different_one_is_a_problem() -> None:
    assert stored_digest_problem(expected_md5_hex=MD5_HEX, etag=MD5_HEX, encryption="AES256") is None
    problem = stored_digest_problem(expected_md5_hex=MD5_HEX, etag="0" * 32, encryption="AES256")
    assert problem is not None
    assert "MD5" in problem


@pytest.mark.parametrize(
    ("expected", "etag", "encryption"),
    [
        ("", "0" * 32, "AES256"),  # the client declared no digest
        (MD5_HEX, "0" * 32, "aws:kms"),  # with KMS the ETag is not the MD5
        (MD5_HEX, "0" * 32, "aws:kms:dsse"),
        (MD5_HEX, "0" * 32 + "-3", ""),  # a multipart ETag
        (MD5_HEX, "", ""),  # no ETag known
    ],
)
def test_etags_that_are_not_an_md5_are_not_compared(expected: str, etag: str, encryption: str) -> None:
    assert stored_digest_problem(expected_md5_hex=expected, etag=etag, encryption=encryption) is None
