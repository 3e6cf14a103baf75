"""A portal's logo: checked, cleaned and kept in S3.

Staff upload it through the dashboard (a few hundred KB through Django, unlike client
files). It is never stored as sent: Pillow must recognise it as PNG, JPEG, WebP or
GIF within size and pixel limits (no SVG: it can carry script), and it is re-drawn
into a new PNG no larger than the banner needs, which drops metadata and anything
hidden in the original. The PNG lives at `branding/<slug>/logo-<random>.png`, outside
the uploads prefix, so bucket events and reconciliation never take it for a file,
and is written through the app files' storage (`s3.app_file_save`, STORAGES["intake"]).
Clients see it through a short-lived signed URL.
"""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from PIL import Image, UnidentifiedImageError

from uploader import s3
from uploader.access.roles import Permission, require_permission
from uploader.audit.services import audit_record
from uploader.portals.models import Portal
from uploader.uploads.errors import InvalidInput, LimitExceeded, StorageUnavailable

logger = logging.getLogger(__name__)

ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})
MAX_SOURCE_PIXELS = 4096 * 4096  # refuse decompression bombs before decoding
LOGO_BOX = (600, 200)  # the banner shows it at most this big (2x for sharp screens)
BRANDING_PREFIX = "branding"


def _clean_png(data: bytes) -> bytes:
    """The image re-drawn as a PNG fitting LOGO_BOX, or InvalidInput saying why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise InvalidInput("The logo must be a PNG, JPEG, WebP or GIF image.", field="logo")
                if probe.width * probe.height > MAX_SOURCE_PIXELS:
                    raise LimitExceeded("The logo is too large; use an image of at most 4096 by 4096 pixels.", field="logo")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)  # the first frame of an animation
                drawn = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput("The logo could not be read as an image.", field="logo") from None
    drawn.thumbnail(LOGO_BOX)
    out = io.BytesIO()
    drawn.save(out, format="PNG", optimize=True)
    return out.getvalue()


def portal_set_logo(*, actor: Any, portal: Portal, upload: IO[bytes], size: int) -> Portal:
    """Replace the portal's logo with a cleaned copy of `upload`."""
    require_permission(actor, Permission.MANAGE_PORTALS)
    limit = settings.INTAKE_PORTAL_LOGO_MAX_BYTES
    if size > limit:
        raise LimitExceeded(f"The logo can be at most {limit // 1024} KB.", field="logo")
    png = _clean_png(upload.read(limit + 1))
    key = f"{BRANDING_PREFIX}/{portal.slug}/logo-{uuid.uuid4().hex}.png"
    try:
        s3.app_file_save(key=key, body=png, content_type="image/png")
    except s3.StorageError as exc:
        raise StorageUnavailable("File storage is not reachable right now; please try again shortly.") from exc
    old_key = portal.logo_key
    try:
        with transaction.atomic():
            portal.logo_key = key
            portal.save(update_fields=["logo_key", "updated_at"])
            audit_record(action="portal.changed", detail={"portal": portal.pk, "changed": ["logo"]})
    except Exception:
        s3.app_file_delete(key=key)  # no orphan in the bucket when the row was not saved
        raise
    _delete_quietly(old_key)
    return portal


def portal_remove_logo(*, actor: Any, portal: Portal) -> Portal:
    require_permission(actor, Permission.MANAGE_PORTALS)
    if not portal.logo_key:
        return portal
    old_key = portal.logo_key
    with transaction.atomic():
        portal.logo_key = ""
        portal.save(update_fields=["logo_key", "updated_at"])
        audit_record(action="portal.changed", detail={"portal": portal.pk, "changed": ["logo removed"]})
    _delete_quietly(old_key)
    return portal


def portal_logo_url(portal: Portal) -> str | None:
    """A short-lived URL of the logo, or None when there is none."""
    if not portal.logo_key:
        return None
    return s3.presign_get_object(key=portal.logo_key, expires_in=settings.INTAKE_PORTAL_LOGO_URL_SECONDS)


def _delete_quietly(key: str) -> None:
    """An old logo left behind costs a few KB; failing the change for it would be worse."""
    if not key:
        return
    try:
        s3.app_file_delete(key=key)
    except s3.StorageError:
        logger.warning("could not delete the replaced logo %s; it can be removed by hand", key)
