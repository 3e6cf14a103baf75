"""The pure parts of processing (uploader.processing.derivatives): thumbnails, document text, keys, which kinds
a file gets; and the portal option names. No network, no database."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from tests.support.documents import encrypt_pdf, make_image, make_pdf, png_claiming
from uploader.portals.models import validate_processing_options
from uploader.portals.services import normalize_processing
from uploader.processing.derivatives import (
    CannotProcess,
    derived_key,
    extract_document_text,
    make_thumbnail,
    wanted_kinds,
)

PIXELS = 50_000_000


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_thumbnail_fits_400_by_400_and_keeps_the_aspect() -> None:
    made = make_thumbnail(make_image((1600, 800)), max_pixels=PIXELS)
    image = opened(made.body)
    assert (made.content_type, made.extension, image.format) == ("image/jpeg", "jpg", "JPEG")
    assert image.size == (400, 200)
    assert made.detail == {"width": 400, "height": 200, "source_width": 1600, "source_height": 800}


def test_exif_orientation_is_applied() -> None:
    # Orientation 6: the camera was turned; shown turned 90° clockwise, so the red
    # left half of the stored pixels is the top of the picture.
    image = opened(make_thumbnail(make_image((800, 400), orientation=6), max_pixels=PIXELS).body)
    assert image.size == (200, 400)
    top, bottom = image.convert("RGB").getpixel((100, 50)), image.convert("RGB").getpixel((100, 350))
    assert top[0] > 200
    assert top[2] < 60
    assert bottom[2] > 200
    assert bottom[0] < 60
    assert image.getexif().get(0x0112) is None  # not turned a second time by a viewer


def test_transparent_images_become_png() -> None:
    made = make_thumbnail(make_image((500, 500), fmt="PNG", mode="RGBA"), max_pixels=PIXELS)
    assert made.content_type == "image/png"
    assert opened(made.body).mode == "RGBA"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "TIFF"])
def test_other_formats_pillow_reads(fmt: str) -> None:
    image = opened(make_thumbnail(make_image((300, 900), fmt=fmt), max_pixels=PIXELS).body)
    assert max(image.size) == 400


def colours(image: Image.Image, *points: tuple[int, int]) -> list[tuple[int, ...]]:
    return [image.convert("RGBA").getpixel(point) for point in points]  # type: ignore[misc]


def test_a_large_transparent_png_is_shrunk_right() -> None:
    """Shrunk before it is converted (one full-size copy, not three): still the right
    picture, size and transparency."""
    made = make_thumbnail(make_image((6000, 3000), fmt="PNG", mode="RGBA"), max_pixels=PIXELS)
    image = opened(made.body)
    assert (made.content_type, image.mode, image.size) == ("image/png", "RGBA", (400, 200))
    assert made.detail == {"width": 400, "height": 200, "source_width": 6000, "source_height": 3000}
    left, right = colours(image, (50, 100), (350, 100))
    assert left[0] > 240
    assert left[2] < 15
    assert 120 <= left[3] <= 136
    assert right[2] > 240
    assert right[0] < 15
    assert 120 <= right[3] <= 136


def test_a_large_palette_png_with_transparency_is_shrunk_right() -> None:
    source = Image.new("P", (5000, 2500), 1)
    source.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    source.paste(2, (0, 0, 2500, 2500))
    source.paste(0, (0, 0, 5000, 500))  # a transparent band at the top
    out = io.BytesIO()
    source.save(out, format="PNG", transparency=0)
    image = opened(make_thumbnail(out.getvalue(), max_pixels=PIXELS).body)
    assert (image.mode, image.size) == ("RGBA", (400, 200))
    band, left, right = colours(image, (200, 10), (50, 150), (350, 150))
    assert band[3] == 0
    assert left[2] > 240
    assert left[3] == 255
    assert right[0] > 240
    assert right[3] == 255


def test_a_large_turned_jpeg_is_shrunk_and_turned() -> None:
    image = opened(make_thumbnail(make_image((6000, 3000), orientation=6), max_pixels=PIXELS).body)
    assert image.size == (200, 400)
    top, bottom = colours(image, (100, 50), (100, 350))
    assert top[0] > 200
    assert top[2] < 60
    assert bottom[2] > 200
    assert bottom[0] < 60


def test_only_the_accepted_formats_are_opened() -> None:
    """Pillow's other plugins (BMP, ICO, PSD, EPS ...) never see the file."""
    out = io.BytesIO()
    Image.new("RGB", (50, 50)).save(out, format="BMP")
    with pytest.raises(CannotProcess) as caught:
        make_thumbnail(out.getvalue(), max_pixels=PIXELS)
    assert caught.value.reason == "the file could not be read as an image (PNG, JPEG, WebP, GIF or TIFF)"


def test_small_images_are_not_enlarged() -> None:
    assert opened(make_thumbnail(make_image((40, 30)), max_pixels=PIXELS).body).size == (40, 30)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is not an image", "could not be read as an image"),
        (make_image((100, 100))[:200], "could not be read as an image"),  # cut short
        (make_pdf(["hello"]), "could not be read as an image"),
        (png_claiming(8000, 8000), "too large to process (8000x8000 pixels)"),  # over our limit
        (png_claiming(100_000, 100_000), "decompression bomb"),  # over Pillow's own
    ],
)
def test_what_cannot_be_a_thumbnail_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(CannotProcess) as caught:
        make_thumbnail(data, max_pixels=PIXELS)
    assert reason in caught.value.reason


def test_pdf_text_page_count_and_plain_metadata() -> None:
    data = make_pdf(["Invoice 42 total 99 EUR", "Second page"], title="Q3 <b>report</b>\nx", author="Ann\x07 Client")
    made = extract_document_text(data, max_pages=20, max_bytes=10_000)
    assert made.content_type == "text/plain; charset=utf-8"
    assert made.extension == "txt"
    text = made.body.decode("utf-8")
    assert "Invoice 42 total 99 EUR" in text
    assert "Second page" in text
    assert made.detail == {
        "pages": 2,
        "pages_read": 2,
        "truncated": False,
        "title": "Q3 <b>report</b> x",  # one line of text; escaping is the template's job
        "author": "Ann  Client",
    }


def test_pdf_text_reads_the_first_pages_only_and_is_bounded() -> None:
    data = make_pdf([f"page number {n}" for n in range(1, 6)])
    made = extract_document_text(data, max_pages=2, max_bytes=10_000)
    assert made.detail["pages"] == 5
    assert made.detail["pages_read"] == 2
    assert made.detail["truncated"] is True
    assert "page number 3" not in made.body.decode()
    short = extract_document_text(make_pdf(["ééééé ééééé"]), max_pages=5, max_bytes=5)
    assert len(short.body) <= 5
    short.body.decode("utf-8")  # never a character cut in half
    assert short.detail["truncated"] is True


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4\nnothing else here", "could not be read"),
        (make_pdf(["hello"])[:150], "could not be read"),
        (b"GIF89a not a pdf", "not a PDF"),
        (encrypt_pdf(make_pdf(["secret"]), "pw"), "encrypted"),
    ],
)
def test_what_cannot_give_text_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(CannotProcess) as caught:
        extract_document_text(data, max_pages=5, max_bytes=1000)
    assert reason in caught.value.reason


def test_derived_keys_are_outside_the_uploads_prefix() -> None:
    upload_id = uuid.uuid4()
    assert derived_key(upload_id, "thumbnail", "jpg") == f"derived/{upload_id}/thumbnail.jpg"
    with pytest.raises(ValueError, match="badly formed"):
        derived_key("../uploads/x", "text", "txt")


def test_which_kinds_a_file_gets() -> None:
    both = ["thumbnails", "document_text"]
    assert wanted_kinds(both, filename="a.JPG", content_type="application/octet-stream") == ["thumbnail"]
    assert wanted_kinds(both, filename="scan", content_type="image/png") == ["thumbnail"]
    assert wanted_kinds(both, filename="x.pdf", content_type="application/pdf") == ["text"]
    assert wanted_kinds(["thumbnails"], filename="x.pdf", content_type="application/pdf") == []
    assert wanted_kinds(both, filename="notes.docx", content_type="application/msword") == []
    assert wanted_kinds([], filename="a.jpg", content_type="image/jpeg") == []


def test_processing_option_names() -> None:
    assert normalize_processing(["Document-Text", "thumbnails", "thumbnails"]) == ["thumbnails", "document_text"]
    with pytest.raises(ValidationError, match="'ocr' is not a processing option"):
        normalize_processing(["ocr"])
    validate_processing_options(["thumbnails"])
    for bad in (["ocr"], "thumbnails", ["thumbnails", "thumbnails"], [1]):
        with pytest.raises(ValidationError):
            validate_processing_options(bad)
