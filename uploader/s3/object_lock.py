"""S3 Object Lock: legal holds on objects, and deleting every version of a key.

A bucket with Object Lock is versioned, so a plain DeleteObject only hides the object
behind a delete marker; deleting a file for good means deleting each version (and
marker) of its key, which S3 refuses for a version under a legal hold
(`StorageRefused`, code AccessDenied).
"""

from __future__ import annotations

from django.conf import settings

from uploader.s3.client import _client
from uploader.s3.errors import StorageRefused, translate_errors


def put_object_legal_hold(*, key: str, on: bool) -> None:
    """Place (`on`) or lift the legal hold on the key's current version."""
    with translate_errors("PutObjectLegalHold"):
        _client().put_object_legal_hold(
            Bucket=settings.INTAKE_S3_BUCKET, Key=key, LegalHold={"Status": "ON" if on else "OFF"}
        )


def get_object_legal_hold(*, key: str) -> bool:
    """Whether the key's current version is under a legal hold (none set: False)."""
    try:
        with translate_errors("GetObjectLegalHold"):
            answer = _client().get_object_legal_hold(Bucket=settings.INTAKE_S3_BUCKET, Key=key)
    except StorageRefused as exc:
        if exc.code == "NoSuchObjectLockConfiguration":
            return False
        raise
    return str(answer.get("LegalHold", {}).get("Status", "")) == "ON"


def delete_object_versions(*, key: str) -> int:
    """Delete every version and delete marker of exactly this key; returns how many.
    A key with none left succeeds (a repeat after a half-done call works)."""
    deleted = 0
    paginator = _client().get_paginator("list_object_versions")
    with translate_errors("DeleteObjectVersions"):
        for page in paginator.paginate(Bucket=settings.INTAKE_S3_BUCKET, Prefix=key):
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if entry["Key"] != key:
                    continue  # a longer key that starts with this one
                _client().delete_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key, VersionId=entry["VersionId"])
                deleted += 1
    return deleted
