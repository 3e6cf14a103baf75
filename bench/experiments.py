"""WSGI entry point for `run_all.py --experiments`: config.wsgi with candidate changes patched in.

Nothing here is used by the app. Each patch is a change to app code that the
benchmarks suggest; measuring it under the same gunicorn, interleaved with the real
app, is the evidence for it (docs/benchmarks.md). BENCH_EXPERIMENTS names the
patches, comma-separated:

- `no-unique-precheck`: Upload.full_clean(validate_unique=False) in registration.
  The id is a fresh uuid4 and the key contains it, so the two `SELECT 1 ... LIMIT 1`
  pre-checks can never find a row; the unique constraint still guards the INSERT.
- `batch-template`: sign part URLs from one template per (key, upload id, second):
  everything but the part number is encoded once, so each further URL costs one
  SHA-256 and one HMAC. Checked at start-up to give byte-identical URLs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from typing import Any

from config.wsgi import application  # noqa: F401 - sets Django up first

EXPERIMENTS = frozenset(filter(None, os.environ.get("BENCH_EXPERIMENTS", "").split(",")))


def _no_unique_precheck() -> None:
    from uploader.models import Upload

    original = Upload.full_clean

    def full_clean(
        self: Upload, exclude: Any = None, validate_unique: bool = True, validate_constraints: bool = True
    ) -> None:
        original(self, exclude=exclude, validate_unique=False, validate_constraints=validate_constraints)

    Upload.full_clean = full_clean  # type: ignore[method-assign,assignment]


def _batch_template() -> None:
    from uploader import s3, signing

    original = s3.presign_upload_part
    cache: dict[tuple[str, ...], tuple[str, str, str, str, str, bytes]] = {}

    def template(key: str, upload_id: str, expires_in: int, now: dt.datetime) -> tuple[str, str, str, str, str, bytes]:
        signer = s3._signer()
        credentials = s3._credentials()
        timestamp = now.strftime("%Y%m%dT%H%M%SZ")
        cache_key = (
            key,
            upload_id,
            str(expires_in),
            timestamp,
            credentials.access_key,
            credentials.session_token or "",
        )
        found = cache.get(cache_key)
        if found is not None:
            return found
        enc = signing._encode_query
        datestamp = timestamp[:8]
        scope = f"{datestamp}/{signer._region}/{signer._service}/aws4_request"
        auth = [
            ("X-Amz-Algorithm", signing.ALGORITHM),
            ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", str(expires_in)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if credentials.session_token is not None:
            auth.append(("X-Amz-Security-Token", credentials.session_token))
        auth_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(auth))
        encoded_key = signing.encode_key(key)
        encoded_upload = enc(upload_id)
        # Canonical query sorted by name: X-Amz-* < partNumber < uploadId.
        canonical_head = f"PUT\n{signer._path_prefix}{encoded_key}\n{auth_query}&partNumber="
        canonical_tail = f"&uploadId={encoded_upload}\nhost:{signer._host}\n\nhost\n{signing.UNSIGNED_PAYLOAD}"
        url_head = f"{signer._prefix}{encoded_key}?uploadId={encoded_upload}&partNumber="
        url_tail = "&" + "&".join(f"{enc(k)}={enc(v)}" for k, v in auth)
        sts_head = f"{signing.ALGORITHM}\n{timestamp}\n{scope}\n"
        found = (
            canonical_head,
            canonical_tail,
            url_head,
            url_tail,
            sts_head,
            signer._signing_key(credentials.secret_key, datestamp),
        )
        cache.clear()
        cache[cache_key] = found
        return found

    def presign_upload_part(*, key: str, upload_id: str, part_number: int, expires_in: int, now: Any = None) -> str:
        canonical_head, canonical_tail, url_head, url_tail, sts_head, signing_key = template(
            key, upload_id, expires_in, now or s3._utcnow()
        )
        number = str(part_number)
        digest = hashlib.sha256(f"{canonical_head}{number}{canonical_tail}".encode()).hexdigest()
        signature = hmac.new(signing_key, (sts_head + digest).encode(), hashlib.sha256).hexdigest()
        return f"{url_head}{number}{url_tail}&X-Amz-Signature={signature}"

    # Byte-identical to the app's signer for the same clock, or the experiment is void.
    frozen = s3._utcnow()
    real_now = s3._utcnow
    s3._utcnow = lambda: frozen
    try:
        for number in (1, 7, 100, 10_000):
            key, upload_id = "uploads/staff/2026/01/ü é+x/a b.bin", "a/b+c=d~"
            expected = original(key=key, upload_id=upload_id, part_number=number, expires_in=900)
            if (
                presign_upload_part(key=key, upload_id=upload_id, part_number=number, expires_in=900, now=frozen)
                != expected
            ):
                raise RuntimeError("batch-template signing differs from uploader.signing; experiment void")
    finally:
        s3._utcnow = real_now
    s3.presign_upload_part = presign_upload_part


if "no-unique-precheck" in EXPERIMENTS:
    _no_unique_precheck()
if "batch-template" in EXPERIMENTS:
    _batch_template()
