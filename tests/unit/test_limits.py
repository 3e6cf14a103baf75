import pytest

from uploader.uploads.errors import InvalidInput, LimitExceeded
from uploader.uploads.limits import UploadLimits, check_declared, check_stored, normalize_content_type

LIMITS = UploadLimits(max_bytes=10 * 1024 * 1024, allowed_content_types=("image/*", "application/pdf"))


def test_accepts_a_file_within_limits() -> None:
    check_declared(LIMITS, filename="a.png", content_type="image/png", size=1024)
    check_declared(LIMITS, filename="a.pdf", content_type="application/pdf", size=LIMITS.max_bytes)


def test_refuses_oversized_file_naming_both_sizes() -> None:
    with pytest.raises(LimitExceeded) as caught:
        check_declared(LIMITS, filename="a.png", content_type="image/png", size=LIMITS.max_bytes + 1)
    assert caught.value.field == "size"
    assert "10 MiB" in caught.value.message


@pytest.mark.parametrize("size", [0, -5])
def test_refuses_empty_or_negative_size(size: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_declared(LIMITS, filename="a.png", content_type="image/png", size=size)
    assert caught.value.field == "size"


def test_undeclared_size_is_left_to_the_policy() -> None:
    check_declared(LIMITS, filename="a.png", content_type="image/png", size=None)


def test_refuses_type_not_allowed() -> None:
    with pytest.raises(LimitExceeded) as caught:
        check_declared(LIMITS, filename="a.exe", content_type="application/x-msdownload", size=10)
    assert caught.value.field == "type"
    assert "image/*" in caught.value.message


def test_empty_allow_list_allows_any_type() -> None:
    check_declared(UploadLimits(max_bytes=10), filename="a.bin", content_type="application/x-anything", size=5)


@pytest.mark.parametrize(("name", "field"), [("", "filename"), ("   ", "filename"), ("x" * 256, "filename")])
def test_refuses_bad_file_names(name: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_declared(LIMITS, filename=name, content_type="image/png", size=1)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("Image/PNG", "image/png"),
        ("text/plain; charset=utf-8", "text/plain"),
    ],
)
def test_normalises_content_types(raw: str | None, expected: str) -> None:
    assert normalize_content_type(raw) == expected


@pytest.mark.parametrize("raw", ["notatype", "a/b/c", "text/plain\u00e9", "text/ plain", "x/" + "y" * 300])
def test_refuses_malformed_content_types(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_content_type(raw)
    assert caught.value.field == "type"


def test_stored_object_checks() -> None:
    assert check_stored(LIMITS, declared_size=100, stored_size=100) is None
    assert check_stored(LIMITS, declared_size=None, stored_size=100) is None
    assert "declared" in (check_stored(LIMITS, declared_size=100, stored_size=101) or "")
    assert "limit" in (check_stored(LIMITS, declared_size=None, stored_size=LIMITS.max_bytes + 1) or "")
