"""Portal pieces that need no database: tokens, size and type parsing, colours, limits in words."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ValidationError

from uploader.portals import tokens as portal_tokens
from uploader.portals.identity import client_title
from uploader.portals.limits import Allowance, extension_of, limits_summary, portal_upload_limits
from uploader.portals.models import Portal
from uploader.portals.services import normalize_content_types, normalize_extensions, parse_list, parse_size
from uploader.portals.views import text_colour_on


def test_tokens_carry_at_least_128_random_bits_and_are_url_safe() -> None:
    nonce = portal_tokens.new_nonce()
    token = portal_tokens.token_for(nonce)
    assert len(base64.urlsafe_b64decode(token)) * 8 >= 128
    assert portal_tokens.looks_like_token(token)
    assert token == portal_tokens.token_for(nonce)  # staff can be shown the link again
    assert token != portal_tokens.token_for(portal_tokens.new_nonce())
    assert len({portal_tokens.new_nonce() for _ in range(100)}) == 100


def test_the_stored_digest_is_not_the_token_and_both_must_match() -> None:
    nonce = portal_tokens.new_nonce()
    token = portal_tokens.token_for(nonce)
    digest = portal_tokens.digest_of(token)
    assert token not in (nonce, digest)
    assert portal_tokens.token_matches(token=token, nonce=nonce, digest=digest)
    other = portal_tokens.token_for(portal_tokens.new_nonce())
    assert not portal_tokens.token_matches(token=other, nonce=nonce, digest=digest)
    assert not portal_tokens.token_matches(token=token, nonce=portal_tokens.new_nonce(), digest=digest)


def test_the_token_depends_on_the_server_key(settings) -> None:  # type: ignore[no-untyped-def]
    nonce = portal_tokens.new_nonce()
    settings.INTAKE_PORTAL_TOKEN_KEY = "one key"
    first = portal_tokens.token_for(nonce)
    settings.INTAKE_PORTAL_TOKEN_KEY = "another key"
    assert portal_tokens.token_for(nonce) != first


@pytest.mark.parametrize("bad", ["", "short", "A" * 31, "A" * 33, "A" * 31 + "/", "A" * 31 + "="])
def test_malformed_tokens_are_refused_before_any_lookup(bad: str) -> None:
    assert not portal_tokens.looks_like_token(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1048576", 1048576), ("50 MiB", 50 * 1024**2), ("2GB", 2 * 1000**3), ("1.5 KiB", 1536), ("", None), (None, None)],
)
def test_parse_size(text: str | None, expected: int | None) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["lots", "5 parsecs", "-3", "1e9"])
def test_parse_size_refuses_nonsense(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_size(bad)


def test_extensions_and_types_are_normalized_and_checked() -> None:
    assert normalize_extensions(parse_list(".PDF, jpg *.png\n.pdf")) == [".pdf", ".jpg", ".png"]
    assert normalize_content_types(["Image/*", "application/pdf; charset=x"]) == ["image/*", "application/pdf"]
    with pytest.raises(ValidationError):
        normalize_extensions(["<script>"])
    with pytest.raises(ValidationError):
        normalize_content_types(["*/*"])
    with pytest.raises(ValidationError):
        normalize_content_types(["not a type"])


@pytest.mark.parametrize(
    ("name", "extension"),
    [("a.PDF", ".pdf"), ("archive.tar.gz", ".gz"), (".bashrc", ""), ("noext", ""), ("x/y.jpg", ".jpg")],
)
def test_extension_of(name: str, extension: str) -> None:
    assert extension_of(name) == extension


@pytest.mark.parametrize(
    ("colour", "text"), [("#ffffff", "#111418"), ("#000000", "#ffffff"), ("#1f5fbf", "#ffffff"), ("#ffd400", "#111418")]
)
def test_text_on_the_brand_colour_has_the_better_contrast(colour: str, text: str) -> None:
    assert text_colour_on(colour) == text


def test_portal_limits_never_exceed_the_site_limits_and_read_as_sentences(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_MAX_UPLOAD_BYTES = 10 * 1024**2
    portal = Portal(max_file_bytes=50 * 1024**2, max_files=3, max_total_bytes=20 * 1024**2, allowed_extensions=[".pdf"])
    assert portal_upload_limits(portal).max_bytes == 10 * 1024**2
    assert limits_summary(portal) == [
        "Each file can be up to 10 MiB.",
        "Up to 3 files in all.",
        "Up to 20 MiB in total.",
        "Accepted file names end in .pdf.",
    ]


@pytest.mark.parametrize(
    ("allowance", "words"),
    [
        (Allowance(bytes_left=int(12.5 * 1024**2), files_left=3), "12.5 MiB and 3 files left"),
        (Allowance(bytes_left=None, files_left=1), "1 file left"),
        (Allowance(bytes_left=900, files_left=None), "900 bytes left"),
        (Allowance(bytes_left=None, files_left=None), ""),
    ],
)
def test_what_is_left_on_a_link_reads_as_words(allowance: Allowance, words: str) -> None:
    assert allowance.in_words() == words
    assert not allowance.exhausted


def test_an_allowance_with_nothing_left_of_either_kind_is_exhausted() -> None:
    assert Allowance(bytes_left=0, files_left=3).exhausted
    assert Allowance(bytes_left=None, files_left=0).exhausted


def test_clients_never_see_the_portal_name_as_its_title(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_BUSINESS_NAME = "Harbour & Finch"
    assert client_title(Portal(name="HF batch 7", title="Your 2026 documents")) == "Your 2026 documents"
    # A portal made without a title got its name as title: clients see the business instead.
    assert client_title(Portal(name="HF batch 7", title="HF batch 7")) == "Files for Harbour & Finch"
    settings.INTAKE_BUSINESS_NAME = ""
    assert client_title(Portal(name="HF batch 7", title="HF batch 7")) == "Send your files"
