"""STORAGES["intake"] follows the INTAKE_S3_* values a test changes.

`AppFileStorage` reads them when it is made; Django keeps the storage once made, so a
test that points INTAKE_S3_* elsewhere drops it (`uploader.s3.reset_clients` does) or
overrides single options here.
"""

from __future__ import annotations

from typing import Any

from uploader import s3


def point_app_storage(settings: Any, **overrides: Any) -> None:
    """Make STORAGES["intake"] again from the current INTAKE_S3_* settings, with
    `overrides` of single S3Storage options (e.g. endpoint_url). Assigning STORAGES
    through pytest-django's `settings` drops Django's cached storages and puts the old
    value back after the test."""
    intake = {"BACKEND": "uploader.s3.app_files.AppFileStorage", "OPTIONS": overrides}
    settings.STORAGES = {**settings.STORAGES, "intake": intake}
    s3.reset_clients()
