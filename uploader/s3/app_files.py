"""The app's own objects in the bucket (portal logos, thumbnails, extracted text),
through Django's storage API: STORAGES["intake"], django-storages' S3Storage, set up
in settings from the same INTAKE_S3_* values as `client`.

Uploads never come through here: browsers send them straight to S3 with pre-signed
requests (`presign`) and the app reads them with ranged GETs (`objects`). Domains
write and delete with `app_file_save`/`app_file_delete`, whose errors are translated
like every other call in this package; `app_storage()` is the storage itself.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from uploader.s3.errors import StorageRefused, translate_errors

ALIAS = "intake"


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
