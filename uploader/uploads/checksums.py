"""Browser-computed MD5 digests: parsing what the client declares, and checking what
S3 stored against it.

Why MD5 (Content-MD5) and not S3's newer SHA-256 checksums: every S3 we sign for
verifies Content-MD5 on PutObject and UploadPart (AWS, Ceph RGW, MinIO), and the
pre-signed URL signs the header, so the bytes must match the digest the browser
computed or S3 refuses them (400 BadDigest). The flexible SHA-256 checksums are
not checked by every S3-compatible server (Ceph 16 ignores them), and MD5 is what
makes a single PUT's ETag comparable after the fact: where the ETag is the MD5
(no SSE-KMS, not multipart) we compare it again once the object is stored, so
even an S3 that checks nothing (the local emulator) cannot store other bytes
unnoticed. See docs/architecture.md, "Checksums".
"""

from __future__ import annotations

import base64
import binascii
import re

from uploader.uploads.errors import InvalidInput

_PLAIN_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
MISMATCH_REASON = "the stored bytes differ from the file the browser checksummed (MD5 mismatch)"


def parse_content_md5(value: str | None, *, field: str) -> str | None:
    """The base64 Content-MD5 value a client declared, or None when it sent none.
    Anything that is not the base64 of 16 bytes is a 400 naming the field."""
    if value is None or value == "":
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise InvalidInput(f"{field} must be the base64 of a 16-byte MD5 digest.", field=field)
    return base64.b64encode(digest).decode("ascii")


def md5_hex(content_md5: str) -> str:
    return base64.b64decode(content_md5).hex()


def stored_digest_problem(*, expected_md5_hex: str, etag: str, encryption: str | None) -> str | None:
    """Why the stored object is not the bytes the browser hashed, or None.

    Only a plain ETag whose encryption is known can be compared: with SSE-KMS S3's
    ETag is not the MD5 of the bytes (callers HEAD the object when an event's or a
    listing's ETag differs, since those do not say), and a multipart ETag has a `-N`
    suffix. S3 itself already refused a mismatch on the way in; this is the check
    that holds where it does not.
    """
    if not expected_md5_hex or etag == expected_md5_hex:
        return None
    if encryption is None or encryption.startswith("aws:kms") or not _PLAIN_MD5_ETAG.fullmatch(etag):
        return None
    if etag != expected_md5_hex:
        return MISMATCH_REASON
    return None
