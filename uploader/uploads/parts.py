"""Multipart arithmetic: part sizes and how many parts a declared size needs."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from uploader.uploads.errors import InvalidInput

MAX_PART_NUMBER = 10_000  # S3's limit
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum size of every part but the last
MAX_PART_SIZE = 5 * 1024**3  # S3's maximum part size


def multipart_part_size(*, size: int | None, requested: int | None) -> int:
    """The part size of a new multipart upload: the one the client asked for, or
    INTAKE_PART_SIZE_BYTES (raised, as Uppy raises its chunk size, when the file would
    otherwise need more than 10,000 parts). Without a declared size nothing binds
    part lengths, so it is only the size the answer suggests."""
    if requested is None:
        return max(settings.INTAKE_PART_SIZE_BYTES, -(-(size or 0) // MAX_PART_NUMBER))
    if not MIN_PART_SIZE <= requested <= MAX_PART_SIZE:
        raise InvalidInput(f"partSize must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes.", field="partSize")
    if size is not None and -(-size // requested) > MAX_PART_NUMBER:
        raise InvalidInput(
            f"partSize {requested} would split {size} bytes into more than {MAX_PART_NUMBER} parts.", field="partSize"
        )
    return requested


def most_parts(declared_size: int | None, part_size: int | None = None) -> int:
    """The highest part number an upload can need: ceil(declared / part size). Without
    a recorded part size (uploads registered before part sizes were bound) every part
    but the last is at least S3's minimum part size (5 MiB), so no honest client needs
    more than ceil(declared / 5 MiB). Without a declared size: S3's 10,000."""
    if declared_size is None:
        return MAX_PART_NUMBER
    return min(MAX_PART_NUMBER, max(1, -(-declared_size // (part_size or MIN_PART_SIZE))))


def part_lengths(*, declared_size: int, part_size: int, part_numbers: Sequence[int]) -> dict[int, int]:
    """Each part's exact length: the part size, and the remainder for the last part."""
    last = most_parts(declared_size, part_size)
    return {
        number: part_size if number < last else declared_size - part_size * (last - 1) for number in part_numbers
    }
