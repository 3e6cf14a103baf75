"""Pre-signed URLs and POST policies: what the browser sends straight to S3.

PUTs, UploadParts and GETs are signed by `uploader.s3.signing` (byte-identical to
botocore's, much cheaper per URL) unless INTAKE_S3_FAST_SIGNING is off; POST policies
go through botocore.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings

from uploader.s3.client import _client, _session
from uploader.s3.errors import StorageUnavailable, translate_errors
from uploader.s3.signing import QueryStringSigner, SigningCredentials

_PROBE_KEY = "__intake_probe__"


@functools.cache
def _signer() -> QueryStringSigner:
    # Let botocore resolve the endpoint and addressing once; every later URL only
    # differs in key, query and signature.
    probe = _client().generate_presigned_url(
        "get_object", Params={"Bucket": settings.INTAKE_S3_BUCKET, "Key": _PROBE_KEY}, ExpiresIn=60
    )
    prefix = probe.split("?", 1)[0].removesuffix(_PROBE_KEY)
    return QueryStringSigner(object_url_prefix=prefix, region=_client().meta.region_name)


def forget_signer() -> None:
    """Drop the cached signer with the clients it was made from (`uploader.s3.reset_clients`)."""
    _signer.cache_clear()


def _credentials() -> SigningCredentials:
    credentials = _session().get_credentials()
    if credentials is None:
        raise StorageUnavailable("no AWS credentials are configured")
    # Frozen per call: role credentials refresh behind this object.
    frozen = credentials.get_frozen_credentials()
    return SigningCredentials(frozen.access_key, frozen.secret_key, frozen.token)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _presign_with_botocore(operation: str, params: dict[str, Any], expires_in: int) -> str:
    return str(
        _client().generate_presigned_url(
            operation, Params={"Bucket": settings.INTAKE_S3_BUCKET, **params}, ExpiresIn=expires_in
        )
    )


def presign_put_object(
    *, key: str, content_type: str, content_length: int, expires_in: int, content_md5: str | None = None
) -> str:
    """A PUT URL whose signature binds the key, the Content-Type and the Content-Length,
    and with `content_md5` (base64) the Content-MD5: S3 then refuses other bytes."""
    with translate_errors("presign PutObject"):
        if not settings.INTAKE_S3_FAST_SIGNING:
            params: dict[str, Any] = {"Key": key, "ContentType": content_type, "ContentLength": content_length}
            if content_md5:
                params["ContentMD5"] = content_md5
            return _presign_with_botocore("put_object", params, expires_in)
        headers = {"content-length": str(content_length), "content-type": content_type}
        if content_md5:
            headers["content-md5"] = content_md5
        return _signer().presign(
            credentials=_credentials(), method="PUT", key=key, expires_in=expires_in, now=_utcnow(), headers=headers
        )


def presign_upload_part(
    *,
    key: str,
    upload_id: str,
    part_number: int,
    expires_in: int,
    content_length: int | None = None,
    content_md5: str | None = None,
) -> str:
    """One part's URL; with `content_md5` (base64) it also signs the part's
    Content-MD5, so S3 refuses a part whose bytes differ from what the client hashed."""
    if content_md5 is None:
        lengths = None if content_length is None else {part_number: content_length}
        return presign_upload_parts(
            key=key, upload_id=upload_id, part_numbers=[part_number], expires_in=expires_in, content_lengths=lengths
        )[part_number]
    with translate_errors("presign UploadPart"):
        if not settings.INTAKE_S3_FAST_SIGNING:
            params: dict[str, Any] = {"Key": key, "UploadId": upload_id, "PartNumber": part_number}
            if content_length is not None:
                params["ContentLength"] = content_length
            params["ContentMD5"] = content_md5
            return _presign_with_botocore("upload_part", params, expires_in)
        headers = {"content-md5": content_md5}
        if content_length is not None:
            headers["content-length"] = str(content_length)
        return _signer().presign(
            credentials=_credentials(),
            method="PUT",
            key=key,
            expires_in=expires_in,
            now=_utcnow(),
            # botocore's order for UploadPart: uploadId, then partNumber.
            operation_params=[("uploadId", upload_id), ("partNumber", str(part_number))],
            headers=headers,
        )


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


def presign_post_object(*, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
    """A browser form POST whose policy fixes the key and type and caps the size."""
    with translate_errors("presign PostObject"):
        answer = _client().generate_presigned_post(
            Bucket=settings.INTAKE_S3_BUCKET,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
    return PresignedPost(url=str(answer["url"]), fields={k: str(v) for k, v in answer["fields"].items()})


def presign_upload_parts(
    *,
    key: str,
    upload_id: str,
    part_numbers: list[int],
    expires_in: int,
    content_lengths: Mapping[int, int] | None = None,
) -> dict[int, str]:
    """Part URLs for a batch: one clock reading and one credential lookup for all.

    With `content_lengths` (one per part number) each URL binds its part's
    Content-Length, so S3 refuses a body of any other length."""
    with translate_errors("presign UploadPart"):
        if not settings.INTAKE_S3_FAST_SIGNING:
            return {
                number: _presign_with_botocore(
                    "upload_part",
                    {
                        "Key": key,
                        "UploadId": upload_id,
                        "PartNumber": number,
                        **({} if content_lengths is None else {"ContentLength": content_lengths[number]}),
                    },
                    expires_in,
                )
                for number in part_numbers
            }
        return _signer().presign_parts(
            credentials=_credentials(),
            key=key,
            upload_id=upload_id,
            part_numbers=part_numbers,
            expires_in=expires_in,
            now=_utcnow(),
            content_lengths=content_lengths,
        )


def presign_get_object(*, key: str, expires_in: int, filename: str | None = None) -> str:
    """A GET URL; with `filename` the download is saved under that name. A portal's
    page signs a preview for each of its files, so this is the fast signer's too."""
    disposition = attachment_disposition(filename) if filename else None
    with translate_errors("presign GetObject"):
        if not settings.INTAKE_S3_FAST_SIGNING:
            params = {"Key": key} if disposition is None else {"Key": key, "ResponseContentDisposition": disposition}
            return _presign_with_botocore("get_object", params, expires_in)
        return _signer().presign(
            credentials=_credentials(),
            method="GET",
            key=key,
            expires_in=expires_in,
            now=_utcnow(),
            operation_params=None if disposition is None else [("response-content-disposition", disposition)],
        )


def attachment_disposition(filename: str) -> str:
    """The Content-Disposition that saves a download under its original name, for
    S3's `response-content-disposition` (S3 and CloudFront downloads use the same).

    `filename*` (RFC 6266/5987) carries the exact name in UTF-8; the plain `filename`
    is an ASCII stand-in for the rare client that ignores `filename*`, with quotes,
    backslashes and control characters taken out so it cannot end the quoted string."""
    fallback = (
        "".join(
            ch if " " <= ch <= "~" and ch not in '"\\%' else "_"
            for ch in unicodedata.normalize("NFKD", filename)
            if not unicodedata.combining(ch)
        ).strip()
        or "download"
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{_rfc5987(filename)}"


def _rfc5987(value: str) -> str:
    return quote(value, safe="")
