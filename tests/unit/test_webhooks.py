"""Webhook pieces that need no database or network: the signature, URL validation and
which addresses a webhook may connect to."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.core.exceptions import ValidationError

from uploader.notify import webhook_http as webhook_delivery
from uploader.notify.webhook_http import (
    WebhookRefused,
    address_allowed,
    resolve_checked,
    signature,
    signature_matches,
    signing_key,
    validate_webhook_url,
    validate_webhook_urls,
)


def test_the_signature_is_the_hex_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"event":"portal.files_arrived"}'
    expected = hmac.new(b"k" * 32, body, hashlib.sha256).hexdigest()
    assert signature(body, b"k" * 32) == f"sha256={expected}"
    assert signature_matches(body, f"sha256={expected}", b"k" * 32)
    assert not signature_matches(body + b" ", f"sha256={expected}", b"k" * 32)
    assert not signature_matches(body, f"sha256={expected}", b"other key")
    assert not signature_matches(body, "sha256=ünicode", b"k" * 32)


def test_the_signing_key_is_the_setting_or_derived_but_never_the_secret_key(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_WEBHOOK_SIGNING_KEY = "configured-signing-key-0123456789ab"
    assert signing_key() == b"configured-signing-key-0123456789ab"
    settings.INTAKE_WEBHOOK_SIGNING_KEY = ""
    derived = signing_key()
    assert derived != settings.SECRET_KEY.encode()
    assert settings.SECRET_KEY.encode() not in derived
    assert len(derived) == 64
    assert derived == signing_key()
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdef"
    assert signing_key() != derived


@pytest.mark.parametrize(
    ("url", "loopback", "message"),
    [
        ("http://hooks.example.test/a", False, "is not an https:// URL"),
        ("ftp://hooks.example.test/a", False, "is not an https:// URL"),
        ("https:///nohost", False, "is not an https:// URL"),
        ("hooks.example.test/a", False, "is not an https:// URL"),
        ("https://user:pw@hooks.example.test/a", False, "user name or password"),
        ("https://user@hooks.example.test/a", False, "user name or password"),
        ("https://hooks.example.test:99999/a", False, "is not a URL"),
        ("http://127.0.0.1:8000/a", False, "points at this server itself"),
        ("https://localhost/a", False, "points at this server itself"),
        ("https://[::1]/a", False, "points at this server itself"),
        ("https://10.1.2.3/a", False, "private or reserved"),
        ("https://192.168.0.10/a", True, "private or reserved"),
        ("https://169.254.169.254/latest/meta-data", True, "private or reserved"),
        ("https://[fd00::1]/a", False, "private or reserved"),
        ("https://[::ffff:10.0.0.1]/a", False, "private or reserved"),
        ("http://192.168.0.10/a", True, "is not an https:// URL"),
        ("https://hooks.example.test/" + "a" * 2100, False, "longer than"),
    ],
)
def test_bad_webhook_urls_are_refused_saying_why(url: str, loopback: bool, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_webhook_url(url, allow_loopback=loopback)


@pytest.mark.parametrize(
    ("url", "loopback", "stored"),
    [
        ("https://hooks.example.test/intake?token=abc", False, "https://hooks.example.test/intake?token=abc"),
        ("  https://hooks.example.test:8443/x#frag ", False, "https://hooks.example.test:8443/x"),
        ("https://93.184.216.34/hook", False, "https://93.184.216.34/hook"),
        ("http://127.0.0.1:8000/hook", True, "http://127.0.0.1:8000/hook"),
        ("http://localhost:8000/hook", True, "http://localhost:8000/hook"),
    ],
)
def test_good_webhook_urls_are_kept(url: str, loopback: bool, stored: str) -> None:
    assert validate_webhook_url(url, allow_loopback=loopback) == stored


def test_at_most_five_urls_and_repeats_are_dropped() -> None:
    five = [f"https://hooks.example.test/{n}" for n in range(5)]
    assert validate_webhook_urls([*five, five[0]], allow_loopback=False) == five
    with pytest.raises(ValidationError, match="At most 5"):
        validate_webhook_urls([*five, "https://hooks.example.test/6"], allow_loopback=False)
    with pytest.raises(ValidationError) as caught:
        validate_webhook_urls(["http://a.example.test/", "https://u:p@b.example.test/"], allow_loopback=False)
    assert len(caught.value.messages) == 2  # every problem at once


@pytest.mark.parametrize(
    ("address", "loopback", "allowed"),
    [
        ("93.184.216.34", False, True),
        ("2606:2800:220:1:248:1893:25c8:1946", False, True),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),
        ("::1", True, True),
        ("::ffff:127.0.0.1", False, False),
        ("10.0.0.1", True, False),
        ("172.16.5.4", False, False),
        ("192.168.1.1", False, False),
        ("100.64.0.1", False, False),  # carrier-grade NAT
        ("169.254.169.254", True, False),  # cloud metadata
        ("fe80::1%eth0", False, False),
        ("fc00::1", False, False),
        ("0.0.0.0", True, False),  # noqa: S104 - an address checked, not bound
        ("224.0.0.1", False, False),
        ("240.0.0.1", False, False),
        ("::ffff:10.0.0.1", False, False),
        ("2002:a9fe:a9fe::1", False, False),  # 6to4 wrapping the metadata address
        ("2002:5db8:d822::1", False, True),  # 6to4 wrapping a public address
    ],
)
def test_which_addresses_a_webhook_may_connect_to(address: str, loopback: bool, allowed: bool) -> None:
    assert address_allowed(address, allow_loopback=loopback) is allowed


def test_names_are_checked_by_every_address_they_resolve_to() -> None:
    # Numeric forms the resolver accepts (no DNS server involved) that are 127.0.0.1.
    for name in ("2130706433", "127.1", "0x7f000001", "localhost"):
        with pytest.raises(WebhookRefused):
            resolve_checked(name, 443, allow_loopback=False)
    assert resolve_checked("2130706433", 443, allow_loopback=True) == "127.0.0.1"


def test_only_the_origin_of_a_url_is_shown() -> None:
    assert webhook_delivery.origin_of("https://hooks.example.test:8443/services/T0/B0/secret?x=1") == (
        "https://hooks.example.test:8443"
    )


@pytest.mark.parametrize(
    ("url", "allow_loopback", "said"),
    [
        ("http://127.0.0.1:9/hook/PATHSECRET?token=QUERYSECRET", False, "points at this server itself"),
        ("https://10.0.0.8/hook/PATHSECRET?token=QUERYSECRET", False, "private or reserved"),
        ("https://user:PASSSECRET@hooks.example.com/PATHSECRET", False, "user name or password"),
        ("ftp://hooks.example.com/PATHSECRET?token=QUERYSECRET", False, "not https"),
    ],
)
def test_a_refused_send_says_why_without_the_url(settings, url: str, allow_loopback: bool, said: str) -> None:  # type: ignore[no-untyped-def]
    """Reasons are shown on the portal page and kept in the audit trail forever; a
    webhook URL's path or query often holds the receiver's secret."""
    settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK = allow_loopback
    attempt = webhook_delivery.post(url, b"{}", {})
    assert not attempt.ok
    assert attempt.permanent
    assert said in attempt.reason
    for secret in ("PATHSECRET", "QUERYSECRET", "PASSSECRET"):
        assert secret not in attempt.reason


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/in?token=SECRET\x01x",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/\x7f",
    ],
)
def test_spaces_and_control_characters_are_refused_when_saved(url: str) -> None:
    with pytest.raises(ValidationError, match="not a URL"):
        validate_webhook_url(url, allow_loopback=False)
