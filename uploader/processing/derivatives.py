"""What processing makes of a file's bytes: thumbnails of images, text of PDF documents,
and where each goes (`derived/<upload id>/<kind>.<ext>`).

These functions take bytes and raise `CannotProcess`; they never touch S3 or the
database (uploader.processing.services reads, stores and records).
"""

from __future__ import annotations

import io
import logging
import re
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader

from uploader.portals.models import ProcessingOption
from uploader.processing.models import DerivativeKind

logger = logging.getLogger(__name__)

DERIVED_PREFIX = "derived"
THUMBNAIL_BOX = (400, 400)
IMAGE_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "GIF", "TIFF"})
# Only these Pillow plugins may open a source file (JPEG's also opens MPO files).
OPEN_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "TIFF")
ACCEPTED_NAMES = "PNG, JPEG, WebP, GIF or TIFF"
SHRINK_BOX = (THUMBNAIL_BOX[0] * 2, THUMBNAIL_BOX[1] * 2)  # decoded images are first shrunk to this
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff"})
METADATA_CHARS = 300  # a title or author longer than this is cut
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CannotProcess(Exception):
    """This file cannot be made into this kind of derivative; `reason` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Made:
    """A derived file ready to store."""

    body: bytes
    content_type: str
    extension: str
    detail: dict[str, Any] = field(default_factory=dict)


def derived_key(upload_id: uuid.UUID | str, kind: str, extension: str) -> str:
    return f"{DERIVED_PREFIX}/{uuid.UUID(str(upload_id))}/{kind}.{extension}"


def wanted_kinds(options: list[str], *, filename: str, content_type: str) -> list[str]:
    """Which derivatives this file should get under these options, by what the client
    declared (the content is checked when it is read: a liar gets a failure entry)."""
    extension = PurePosixPath(filename.lower()).suffix
    kinds = []
    if ProcessingOption.THUMBNAILS in options and (content_type.startswith("image/") or extension in IMAGE_EXTENSIONS):
        kinds.append(DerivativeKind.THUMBNAIL.value)
    if ProcessingOption.DOCUMENT_TEXT in options and (content_type == "application/pdf" or extension == ".pdf"):
        kinds.append(DerivativeKind.TEXT.value)
    return kinds


def make_thumbnail(data: bytes, *, max_pixels: int) -> Made:
    """A PNG (images with transparency) or JPEG of at most 400x400, EXIF orientation
    applied. The size is checked from the header, before any pixel is decoded.

    Shrink first: only the accepted formats' plugins may open the file, a JPEG is
    decoded at a reduced scale (`draft`), and the decoded image is shrunk in place
    before it is turned and converted, so one full-size copy exists at a time, not
    three (a 7000x7000 RGBA PNG took a worker to over 800 MB when it was turned and
    converted at full size)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as image:
                if image.format not in IMAGE_FORMATS:
                    raise CannotProcess(f"{image.format or 'this'} images are not made into thumbnails")
                width, height = image.size
                if width * height > max_pixels:
                    raise CannotProcess(f"the image is too large to process ({width}x{height} pixels)")
                image.seek(0)  # the first frame of an animation
                if image.format in {"JPEG", "MPO"}:
                    image.draft("RGB", SHRINK_BOX)  # decode at a reduced scale
                image.getexif()  # read (and keep) the orientation before the pixels change
                # Palette and bilevel images are only ever resized by nearest neighbour:
                # shrink them to twice the box here and smoothly after converting.
                image.thumbnail(SHRINK_BOX, Image.Resampling.NEAREST if image.mode in {"1", "P"} else Image.Resampling.BICUBIC)
                turned = ImageOps.exif_transpose(image)
                has_alpha = turned.mode in {"RGBA", "LA", "PA"} or "transparency" in turned.info
                drawn = turned.convert("RGBA" if has_alpha else "RGB")
                drawn.thumbnail(THUMBNAIL_BOX)
    except CannotProcess:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise CannotProcess("the image is too large to process (decompression bomb)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise CannotProcess(f"the file could not be read as an image ({ACCEPTED_NAMES})") from None
    out = io.BytesIO()
    if has_alpha:
        drawn.save(out, format="PNG", optimize=True)
        content_type, extension = "image/png", "png"
    else:
        drawn.save(out, format="JPEG", quality=85, optimize=True)
        content_type, extension = "image/jpeg", "jpg"
    return Made(
        out.getvalue(),
        content_type,
        extension,
        {"width": drawn.width, "height": drawn.height, "source_width": width, "source_height": height},
    )


def _plain(value: object) -> str:
    """A PDF info value as one line of plain text (it may be any PDF object)."""
    text = _CONTROL.sub(" ", str(value or "")).replace("\r", " ").replace("\n", " ").strip()
    return text[:METADATA_CHARS]


def extract_document_text(data: bytes, *, max_pages: int, max_bytes: int) -> Made:
    """The text of a PDF's first `max_pages` pages as UTF-8 (at most `max_bytes`),
    with its page count, title and author in `detail`."""
    if not data.startswith(b"%PDF-"):
        raise CannotProcess("the file is not a PDF document")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise CannotProcess("the PDF is encrypted with a password")
        page_count = len(reader.pages)
        info = reader.metadata
        title, author = (_plain(info.title), _plain(info.author)) if info is not None else ("", "")
        parts = []
        size = 0
        pages_read = 0
        for page in reader.pages[:max_pages]:
            text = (page.extract_text() or "").replace("\x00", "")
            parts.append(text)
            pages_read += 1
            size += len(text.encode("utf-8", "replace"))
            if size > max_bytes:
                break
    except CannotProcess:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on malformed input; all mean "cannot read"
        logger.info("PDF could not be read: %s", type(exc).__name__)
        raise CannotProcess("the PDF could not be read (it may be damaged)") from None
    body = "\n\n".join(parts).encode("utf-8", "replace")
    truncated = len(body) > max_bytes or pages_read < page_count
    body = body[:max_bytes].decode("utf-8", "ignore").encode("utf-8")  # never cut a character in half
    return Made(
        body,
        "text/plain; charset=utf-8",
        "txt",
        {"pages": page_count, "pages_read": pages_read, "truncated": truncated, "title": title, "author": author},
    )
