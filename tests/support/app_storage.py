"""STORAGES["intake"] follows the INTAKE_S3_* values a test changes.

Settings build it once, at start-up, from the environment; a test that points
INTAKE_S3_* at the emulator (or somewhere else) builds it again with the same
function, so the app's own objects go where its other S3 calls go.
"""

from __future__ import annotations

from typing import Any

from config.settings.base import intake_storage


def point_app_storage(settings: Any, **changes: Any) -> None:
    """Rebuild STORAGES["intake"] from the current INTAKE_S3_* settings (`changes`
    override single options of `intake_storage`, e.g. endpoint_url). Assigning
    STORAGES through pytest-django's `settings` drops Django's cached storages and
    puts the old value back after the test."""
    values: dict[str, Any] = {
        "bucket": settings.INTAKE_S3_BUCKET,
        "region": settings.INTAKE_S3_REGION,
        "endpoint_url": settings.INTAKE_S3_ENDPOINT_URL,
        "addressing_style": settings.INTAKE_S3_ADDRESSING_STYLE,
        "access_key_id": settings.INTAKE_S3_ACCESS_KEY_ID,
        "secret_access_key": settings.INTAKE_S3_SECRET_ACCESS_KEY,
        "connect_timeout": settings.INTAKE_S3_CONNECT_TIMEOUT,
        "read_timeout": settings.INTAKE_S3_READ_TIMEOUT,
    }
    settings.STORAGES = {**settings.STORAGES, "intake": intake_storage(**{**values, **changes})}
