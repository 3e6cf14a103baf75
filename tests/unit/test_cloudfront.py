"""CloudFront signed URLs (uploader.s3.cloudfront): each URL is checked the way
CloudFront checks it, with the PUBLIC half of a key pair made here: the canned policy
is rebuilt by hand from the URL (not by botocore, which signed it), the signature is
decoded from CloudFront's URL-safe base64 and verified as RSA-SHA1. No network."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from django.core.exceptions import ImproperlyConfigured

from uploader.s3 import cloudfront
from uploader.s3.presign import attachment_disposition

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "files.example.test"
KEY_ID = "K2JCJMDEHXQW5F"
NOW = 1_900_000_000


def _pem(key: Any, *, password: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


@pytest.fixture(scope="module")
def key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, _pem(key)


@pytest.fixture
def configured(settings, key_pair, monkeypatch):  # type: ignore[no-untyped-def]
    """CloudFront on, the clock fixed at NOW, no signer left from another test."""
    settings.INTAKE_CLOUDFRONT_DOMAIN = DOMAIN
    settings.INTAKE_CLOUDFRONT_KEY_ID = KEY_ID
    settings.INTAKE_CLOUDFRONT_PRIVATE_KEY = key_pair[1]
    settings.INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE = ""
    monkeypatch.setattr(cloudfront, "_epoch_seconds", lambda: NOW)
    cloudfront.forget_signer()
    yield key_pair[0].public_key()
    cloudfront.forget_signer()


def split_signed_url(url: str) -> tuple[str, dict[str, str]]:
    """The resource (the URL without CloudFront's three parameters) and those parameters, raw."""
    base, _, query = url.partition("?")
    own, signing = [], {}
    for pair in query.split("&") if query else []:
        name, _, value = pair.partition("=")
        if name in {"Expires", "Signature", "Key-Pair-Id"}:
            signing[name] = value
        else:
            own.append(pair)
    return (f"{base}?{'&'.join(own)}" if own else base), signing


def canned_policy(resource: str, expires: int) -> bytes:
    # Written out as CloudFront's guide gives it, with no whitespace.
    return (
        '{"Statement":[{"Resource":"'
        + resource
        + '","Condition":{"DateLessThan":{"AWS:EpochTime":'
        + str(expires)
        + "}}}]}"
    ).encode()


def cloudfront_b64decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"), validate=True)


def verify(url: str, public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """Raise InvalidSignature unless CloudFront would accept the URL's signature."""
    resource, signing = split_signed_url(url)
    assert set(signing) == {"Expires", "Signature", "Key-Pair-Id"}, url
    public_key.verify(
        cloudfront_b64decode(signing["Signature"]),
        canned_policy(resource, int(signing["Expires"])),
        padding.PKCS1v15(),
        hashes.SHA1(),  # noqa: S303 - CloudFront's canned-policy signature
    )
    return signing


def test_a_signed_url_verifies_with_the_public_key(configured: rsa.RSAPublicKey, settings) -> None:  # type: ignore[no-untyped-def]
    url = cloudfront.presign_cloudfront_get(
        key="uploads/acme/2026/01/abc/plan.pdf", expires_in=300, filename="plan.pdf"
    )
    signing = verify(url, configured)
    assert url.startswith(f"https://{DOMAIN}/uploads/acme/2026/01/abc/plan.pdf?response-content-disposition=")
    assert signing["Key-Pair-Id"] == KEY_ID
    assert int(signing["Expires"]) == NOW + 300
    # Our own parameter comes first, CloudFront's three last, as its guide lays them out.
    assert (
        url.index("response-content-disposition=")
        < url.index("Expires=")
        < url.index("Signature=")
        < url.index("Key-Pair-Id=")
    )


def test_expiry_is_now_plus_the_download_setting(configured: rsa.RSAPublicKey, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_DOWNLOAD_EXPIRES_SECONDS = 42
    url = cloudfront.presign_cloudfront_get(key="uploads/a", expires_in=settings.INTAKE_DOWNLOAD_EXPIRES_SECONDS)
    assert int(verify(url, configured)["Expires"]) == NOW + 42


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url: url.replace("/plan.pdf", "/other.pdf"), id="path"),
        pytest.param(lambda url: url.replace(f"Expires={NOW + 300}", f"Expires={NOW + 3000}"), id="expiry"),
        pytest.param(lambda url: url.replace("plan.pdf%22", "evil.exe%22"), id="file name"),
        pytest.param(lambda url: url.replace(DOMAIN, "other.example.test"), id="domain"),
    ],
)
def test_a_tampered_url_fails_verification(configured: rsa.RSAPublicKey, tamper: Any) -> None:
    url = cloudfront.presign_cloudfront_get(key="uploads/acme/plan.pdf", expires_in=300, filename="plan.pdf")
    verify(url, configured)
    tampered = tamper(url)
    assert tampered != url
    with pytest.raises(InvalidSignature):
        verify(tampered, configured)


def test_a_url_signed_by_another_key_fails(configured: rsa.RSAPublicKey) -> None:
    url = cloudfront.presign_cloudfront_get(key="uploads/a.pdf", expires_in=300)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(InvalidSignature):
        verify(url, stranger)


HOSTILE_KEYS = [
    "uploads/acme/2026/01/id/résumé 2026.pdf",
    "uploads/acme/2026/01/id/a+b=c.txt",
    "uploads/acme/2026/01/id/100%25 done%.txt",
    "uploads/acme/2026/01/id/#hash?query=1&x.txt",
    "uploads/acme/2026/01/id/日本語 ファイル.png",
    "uploads/acme/2026/01/id/semi;colon,comma'quote\".txt",
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_encoded_exactly_once(configured: rsa.RSAPublicKey, key: str) -> None:
    url = cloudfront.presign_cloudfront_get(key=key, expires_in=60)
    verify(url, configured)
    parts = urlsplit(url)
    assert parts.netloc == DOMAIN
    assert not parts.fragment
    # The whole key is in the path (a `?` or `#` in it did not start a query or fragment)...
    assert parts.query.startswith("Expires=")
    # ...decoding it once gives the key back (twice-encoded would still hold %25...)...
    assert unquote(parts.path[1:]) == key
    # ...and nothing in it needs encoding any more.
    assert all(ch.isascii() and (ch.isalnum() or ch in "/-._~%") for ch in parts.path), parts.path


def test_the_file_name_rides_in_the_disposition_parameter(configured: rsa.RSAPublicKey) -> None:
    name = 'Quarterly "final" résumé & notes; 100%.pdf'
    url = cloudfront.presign_cloudfront_get(key="uploads/x/file.pdf", expires_in=60, filename=name)
    resource, _ = split_signed_url(url)
    (pair,) = urlsplit(resource).query.split("&")
    parameter, _, value = pair.partition("=")
    assert parameter == "response-content-disposition"
    assert unquote(value) == attachment_disposition(name)
    assert "filename*=UTF-8''Quarterly%20%22final%22%20r%C3%A9sum%C3%A9%20%26%20notes%3B%20100%25.pdf" in unquote(value)


def test_the_disposition_has_a_safe_ascii_fallback_and_the_exact_utf8_name() -> None:
    value = attachment_disposition('a "b"\\c%d\r\né.pdf')
    assert value == "attachment; filename=\"a _b__c_d__e.pdf\"; filename*=UTF-8''a%20%22b%22%5Cc%25d%0D%0A%C3%A9.pdf"
    assert attachment_disposition("日本.pdf").startswith('attachment; filename="__.pdf"; ')


def test_the_key_is_loaded_once_per_process(configured: rsa.RSAPublicKey) -> None:
    for _ in range(5):
        cloudfront.presign_cloudfront_get(key="uploads/a", expires_in=60)
    info = cloudfront._signer.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_the_key_may_come_from_a_file_or_with_escaped_newlines(settings, key_pair, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    key, pem = key_pair
    settings.INTAKE_CLOUDFRONT_DOMAIN, settings.INTAKE_CLOUDFRONT_KEY_ID = DOMAIN, KEY_ID
    monkeypatch.setattr(cloudfront, "_epoch_seconds", lambda: NOW)
    key_file = tmp_path / "cloudfront.pem"
    key_file.write_text(pem, encoding="ascii")
    for inline, path in ((pem.replace("\n", "\\n"), ""), ("", str(key_file))):
        settings.INTAKE_CLOUDFRONT_PRIVATE_KEY, settings.INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE = inline, path
        verify(cloudfront.presign_cloudfront_get(key="uploads/a", expires_in=60), key.public_key())
    cloudfront.forget_signer()


# --- configuration errors ---------------------------------------------------------------


def _check(**values: str) -> None:
    cloudfront.check_configuration(
        **{"domain": DOMAIN, "key_id": KEY_ID, "inline_key": "", "key_path": "", **values}  # type: ignore[arg-type]
    )


def _too_small_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the key CloudFront refuses


def _secret_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_configuration_off_needs_nothing() -> None:
    cloudfront.check_configuration(domain="", key_id="", inline_key="", key_path="")


def test_configuration_errors_are_clear(key_pair, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, pem = key_pair
    with pytest.raises(
        ImproperlyConfigured, match=r"INTAKE_CLOUDFRONT_PRIVATE_KEY .*INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE"
    ):
        _check()
    with pytest.raises(ImproperlyConfigured, match="INTAKE_CLOUDFRONT_KEY_ID"):
        _check(key_id="", inline_key=pem)
    with pytest.raises(ImproperlyConfigured, match="not both"):
        _check(inline_key=pem, key_path=str(tmp_path / "k.pem"))
    with pytest.raises(ImproperlyConfigured, match="lower-case host name"):
        _check(domain="https://files.example.test/", inline_key=pem)

    missing = tmp_path / "missing.pem"
    with pytest.raises(
        ImproperlyConfigured, match=r"INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE '.*missing\.pem' cannot be read: No such file"
    ):
        _check(key_path=str(missing))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        _check(key_path=str(tmp_path))  # a directory

    with pytest.raises(ImproperlyConfigured, match="INTAKE_CLOUDFRONT_PRIVATE_KEY is not a PEM private key"):
        _check(inline_key="-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ImproperlyConfigured, match="not a PEM private key"):
        _check(inline_key=pem.replace("-----BEGIN PRIVATE KEY-----", ""))  # pasted without its first line
    public_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ImproperlyConfigured, match="not a PEM private key"):
        _check(inline_key=public_pem)  # the half that goes to CloudFront, not the app

    ec_file = tmp_path / "ec.pem"
    ec_file.write_text(_pem(ec.generate_private_key(ec.SECP256R1())), encoding="ascii")
    with pytest.raises(
        ImproperlyConfigured, match=r"INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE is not an RSA key \(ECPrivateKey\).*genrsa"
    ):
        _check(key_path=str(ec_file))
    with pytest.raises(ImproperlyConfigured, match="RSA 1024 bits; CloudFront needs at least 2048"):
        _check(inline_key=_pem(_too_small_rsa_key()))
    with pytest.raises(ImproperlyConfigured, match="encrypted"):
        _check(inline_key=_pem(key_pair[0], password=b"passphrase"))


def test_the_private_key_never_shows_in_errors_logs_or_reprs(configured, key_pair, caplog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, pem = key_pair
    secret = _secret_lines(pem)
    caplog.set_level(logging.DEBUG)
    url = cloudfront.presign_cloudfront_get(key="uploads/a", expires_in=60)
    signer = cloudfront._signer(KEY_ID, pem, "")
    shown = [caplog.text, url, repr(signer), repr(vars(signer)), repr(cloudfront._signer.cache_info())]

    # A key broken in its middle, and a short RSA key: the errors describe, never quote.
    broken = pem.replace(secret[5], secret[5][::-1])
    small = _pem(_too_small_rsa_key())
    key_file = tmp_path / "small.pem"
    key_file.write_text(small, encoding="ascii")
    for values in ({"inline_key": broken}, {"inline_key": small}, {"key_path": str(key_file)}):
        with pytest.raises(ImproperlyConfigured) as caught:
            _check(**values)
        shown.append("".join(traceback.format_exception(caught.value)))
    everything = "\n".join(shown)
    assert "CloudFront signing key K2JCJMDEHXQW5F loaded" in caplog.text
    for line in secret + _secret_lines(small):
        assert line not in everything
    assert secret[5][::-1] not in everything


# --- start-up -----------------------------------------------------------------------------


def _load_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_"))}
    code = "import django; django.setup(); from django.conf import settings; print(settings.INTAKE_CLOUDFRONT_DOMAIN)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_refuse_a_bad_key_at_start_up_and_load_a_good_one(key_pair, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, pem = key_pair
    base = {"INTAKE_CLOUDFRONT_DOMAIN": DOMAIN, "INTAKE_CLOUDFRONT_KEY_ID": KEY_ID}
    refused = _load_settings({**base, "INTAKE_CLOUDFRONT_PRIVATE_KEY": pem.replace("\n", "\\n").replace("MII", "XXX")})
    assert refused.returncode != 0
    assert "ImproperlyConfigured: INTAKE_CLOUDFRONT_PRIVATE_KEY is not a PEM private key" in refused.stderr
    assert not any(line in refused.stderr for line in _secret_lines(pem)[1:])

    unreadable = _load_settings({**base, "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE": str(tmp_path / "nope.pem")})
    assert unreadable.returncode != 0
    assert "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE" in unreadable.stderr

    key_file = tmp_path / "cloudfront.pem"
    key_file.write_text(pem, encoding="ascii")
    loaded = _load_settings({**base, "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE": str(key_file)})
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == DOMAIN
