"""SigV4 query-string signing for S3 pre-signed URLs, without botocore's per-call cost.

Why not just `client.generate_presigned_url`: botocore builds a whole request
object, runs its event hooks and endpoint resolution for every URL, which makes a
signing call noticeably slower than the Django request around it (see
docs/benchmarks.md). The URL itself is plain SigV4: a canonical request, a string to
sign and an HMAC chain whose day key can be cached. This module does only that and
is tested to produce byte-identical URLs to botocore's for the same inputs and clock
(tests/unit/test_signing.py), so S3 sees no difference.

Only the S3 flavour is implemented: the path is signed as sent (S3 does not
normalise it) and the payload is UNSIGNED-PAYLOAD.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# botocore's percent_encode safe set for query strings, and for the object key.
_QUERY_SAFE = "-._~"
_KEY_SAFE = "/~"


@dataclass(frozen=True)
class SigningCredentials:
    access_key: str
    secret_key: str
    session_token: str | None = None


def _encode_query(value: str) -> str:
    return quote(value.encode("utf-8"), safe=_QUERY_SAFE)


def encode_key(key: str) -> str:
    """Percent-encode an object key for the URL path, as botocore does."""
    return quote(key.encode("utf-8"), safe=_KEY_SAFE)


def host_header(url: str) -> str:
    """The Host value botocore signs: hostname plus the port unless it is the default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    return host


class QueryStringSigner:
    """Signs S3 URLs for one bucket endpoint, region and service.

    `object_url_prefix` is everything before the encoded key, e.g.
    `http://127.0.0.1:9000/bucket/` (path style) or `https://bucket.s3.amazonaws.com/`.
    """

    def __init__(self, *, object_url_prefix: str, region: str, service: str = "s3") -> None:
        self._prefix = object_url_prefix
        parts = urlsplit(object_url_prefix)
        self._host = host_header(object_url_prefix)
        self._path_prefix = parts.path
        self._region = region
        self._service = service
        self._key_cache: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def _signing_key(self, secret_key: str, datestamp: str) -> bytes:
        # The day key depends only on the secret and the date: derive it once a day
        # instead of four HMACs per URL.
        cache_key = (secret_key, datestamp)
        key = self._key_cache.get(cache_key)
        if key is None:
            k_date = hmac.new(f"AWS4{secret_key}".encode(), datestamp.encode(), hashlib.sha256).digest()
            k_region = hmac.new(k_date, self._region.encode(), hashlib.sha256).digest()
            k_service = hmac.new(k_region, self._service.encode(), hashlib.sha256).digest()
            key = hmac.new(k_service, b"aws4_request", hashlib.sha256).digest()
            with self._lock:
                if len(self._key_cache) > 8:
                    self._key_cache.clear()
                self._key_cache[cache_key] = key
        return key

    def _auth_params(
        self, credentials: SigningCredentials, now: dt.datetime, expires_in: int, signed_headers: str
    ) -> tuple[str, str, str, list[tuple[str, str]]]:
        """Timestamp, date, credential scope and the encoded X-Amz-* query parameters
        (in botocore's order) shared by every URL signed at `now`."""
        timestamp = now.strftime("%Y%m%dT%H%M%SZ")
        datestamp = timestamp[:8]
        scope = f"{datestamp}/{self._region}/{self._service}/aws4_request"
        params = [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", str(expires_in)),
            ("X-Amz-SignedHeaders", signed_headers),
        ]
        if credentials.session_token is not None:
            params.append(("X-Amz-Security-Token", credentials.session_token))
        return timestamp, datestamp, scope, [(_encode_query(k), _encode_query(v)) for k, v in params]

    def presign(
        self,
        *,
        credentials: SigningCredentials,
        method: str,
        key: str,
        expires_in: int,
        now: dt.datetime,
        operation_params: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Return the pre-signed URL.

        `operation_params` are the operation's query parameters in the order botocore
        serialises them (e.g. uploadId then partNumber); `headers` are the extra
        headers the client must send exactly (names lower-case), e.g. content-type.
        """
        signed = dict(headers or {})
        signed["host"] = self._host
        signed_names = sorted(signed)
        signed_headers = ";".join(signed_names)
        timestamp, datestamp, scope, encoded_auth = self._auth_params(credentials, now, expires_in, signed_headers)
        encoded_operation = [(_encode_query(k), _encode_query(v)) for k, v in operation_params or ()]
        query = "&".join(f"{k}={v}" for k, v in encoded_operation + encoded_auth)
        canonical_query = "&".join(f"{k}={v}" for k, v in sorted(encoded_operation + encoded_auth))

        encoded_key = encode_key(key)
        canonical_headers = "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in signed_names)
        canonical_request = "\n".join(
            (
                method.upper(),
                self._path_prefix + encoded_key,
                canonical_query,
                canonical_headers,
                signed_headers,
                UNSIGNED_PAYLOAD,
            )
        )
        string_to_sign = "\n".join(
            (ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest())
        )
        signature = hmac.new(
            self._signing_key(credentials.secret_key, datestamp), string_to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        return f"{self._prefix}{encoded_key}?{query}&X-Amz-Signature={signature}"

    def presign_parts(
        self,
        *,
        credentials: SigningCredentials,
        key: str,
        upload_id: str,
        part_numbers: list[int],
        expires_in: int,
        now: dt.datetime,
        content_lengths: Mapping[int, int] | None = None,
    ) -> dict[int, str]:
        """UploadPart URLs for many parts of one upload, the same bytes `presign`
        gives for each.

        With `content_lengths` (one per part number) each URL also signs its part's
        Content-Length, as botocore does for `upload_part` given `ContentLength`: S3
        then refuses a body of any other length.

        The URLs differ only in the part number (and length), so everything else is
        worked out once per batch. In the canonical query the parameters sort as
        X-Amz-* (upper case first), then partNumber, then uploadId, so the canonical
        request is a fixed head, the part number, a fixed middle, the part's
        content-length header line and a fixed tail: the SHA-256 of the head and the
        HMAC keyed with the day key over the string-to-sign's head are computed once
        and copied for each part, which then costs one short hash update and one
        short HMAC update.
        """
        if content_lengths is not None:
            missing = [number for number in part_numbers if number not in content_lengths]
            if missing:
                raise ValueError(f"no content length for parts {missing}")
        signed_headers = "host" if content_lengths is None else "content-length;host"
        timestamp, datestamp, scope, encoded_auth = self._auth_params(credentials, now, expires_in, signed_headers)
        encoded_key = encode_key(key)
        encoded_upload_id = _encode_query(upload_id)
        canonical_auth = "&".join(f"{k}={v}" for k, v in sorted(encoded_auth))
        request_head = hashlib.sha256(f"PUT\n{self._path_prefix}{encoded_key}\n{canonical_auth}&partNumber=".encode())
        request_middle = f"&uploadId={encoded_upload_id}\n".encode()
        request_tail = f"host:{self._host}\n\n{signed_headers}\n{UNSIGNED_PAYLOAD}".encode()
        string_to_sign_head = hmac.new(
            self._signing_key(credentials.secret_key, datestamp),
            f"{ALGORITHM}\n{timestamp}\n{scope}\n".encode(),
            hashlib.sha256,
        )
        url_head = f"{self._prefix}{encoded_key}?uploadId={encoded_upload_id}&partNumber="
        url_tail = "&" + "&".join(f"{k}={v}" for k, v in encoded_auth) + "&X-Amz-Signature="
        urls: dict[int, str] = {}
        for number in part_numbers:
            part = str(number)
            length_line = b"" if content_lengths is None else f"content-length:{content_lengths[number]}\n".encode()
            request_hash = request_head.copy()
            request_hash.update(part.encode() + request_middle + length_line + request_tail)
            signature = string_to_sign_head.copy()
            signature.update(request_hash.hexdigest().encode())
            urls[number] = f"{url_head}{part}{url_tail}{signature.hexdigest()}"
        return urls
