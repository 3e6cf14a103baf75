"""The app's own objects in the bucket (portal logos, thumbnails, extracted text),
through Django's storage API: STORAGES["intake"] is `AppFileStorage`, django-storages'
S3Storage made from the same INTAKE_S3_* settings and client configuration as
`client` when it is first used (settings name it, and import nothing of the app).

Uploads never come through here: browsers send them straight to S3 with pre-signed
requests (`presign`) and the app reads them with ranged GETs (`objects`). Domains
write and delete with `app_file_save`/`app_file_delete`, whose errors are translated
like every other call in this package; `app_storage()` is the storage itself.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from storages.backends.s3 import S3Storage

from uploader.s3.client import s3_client_config
from uploader.s3.errors import StorageRefused, translate_errors

ALIAS = "intake"


class AppFileStorage(S3Storage):
    """S3Storage on the bucket, endpoint, credentials, addressing and timeouts that
    `client` uses; STORAGES["intake"]["OPTIONS"] may override single options."""

    def __init__(self, **overrides: Any) -> None:
        options: dict[str, Any] = {
            "bucket_name": settings.INTAKE_S3_BUCKET,
            "region_name": settings.INTAKE_S3_REGION,
            "endpoint_url": settings.INTAKE_S3_ENDPOINT_URL,
            # Empty keys (and no session token of their own): boto3's chain, as for the client.
            "access_key": settings.INTAKE_S3_ACCESS_KEY_ID or None,
            "secret_key": settings.INTAKE_S3_SECRET_ACCESS_KEY or None,
            "security_token": None,
            "client_config": s3_client_config(),
            # Our keys name the object (derived/<id>/<kind>.<ext>): a retry rewrites it
            # instead of saving a renamed copy nothing points to.
            "file_overwrite": True,
            # Private objects; buckets with ACLs disabled refuse any ACL header.
            "default_acl": None,
            # Any url() is signed: nothing in the bucket is public.
            "querystring_auth": True,
            # Encryption is the bucket's default (SSE-S3, set by setup_bucket), as for
            # uploads: no per-object header, which servers without a key store refuse.
            "object_parameters": {},
        }
        super().__init__(**{**options, **overrides})


def app_storage() -> Storage:
    return storages[ALIAS]


def forget_app_storage() -> None:
    """Drop the storage and the connections it keeps per thread; the next use makes it
    again from STORAGES (`uploader.s3.reset_clients`). Django has no public call for one
    alias; its own test signal clears the same dict."""
    storages._storages.pop(ALIAS, None)  # type: ignore[attr-defined]  # not in django-stubs


class _Body(ContentFile):
    """Bytes with the Content-Type S3Storage stores (it reads `content_type`)."""

    def __init__(self, body: bytes, content_type: str) -> None:
        super().__init__(body)
        self.content_type = content_type


def app_file_save(*, key: str, body: bytes, content_type: str) -> None:
    """Write the object at exactly `key`, replacing what is there."""
    with translate_errors("PutObject"):
        saved = app_storage().save(key, _Body(body, content_type))
    if saved != key:
        # Only if STORAGES stopped overwriting: the caller would record a key with no object.
        raise StorageRefused("KeyChanged", f"the storage saved {key!r} as {saved!r}")


def app_file_delete(*, key: str) -> None:
    """Remove the object; one already gone is not an error."""
    with translate_errors("DeleteObject"):
        app_storage().delete(key)
