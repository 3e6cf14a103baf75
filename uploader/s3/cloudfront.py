"""CloudFront signed URLs: how staff download stored files when INTAKE_CLOUDFRONT_DOMAIN is set.

The distribution (deploy/intake.yaml) reads the bucket through Origin Access Control
and trusts one key group, so it serves only URLs signed with a private key of that
group. A URL here is a canned policy (the exact URL, an expiry) signed with RSA and
SHA-1 by botocore's CloudFrontSigner: SHA-1 is CloudFront's default and the only hash
botocore's signer offers (CloudFront also accepts SHA-256 with a `Hash-Algorithm`
parameter; see docs/operations.md).

The URL's path is the object key, percent-encoded once; the original file name rides
in `response-content-disposition`, which the distribution forwards to S3 (S3 honours
it because CloudFront signs its origin request). The policy's resource is the URL
with that parameter, so it cannot be changed without breaking the signature.

The private key is loaded once per process and never logged: nothing here puts it in
a message, a repr or an exception.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from pathlib import Path
from urllib.parse import quote

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from uploader.s3.presign import attachment_disposition

logger = logging.getLogger(__name__)

# CloudFront key groups take RSA 2048-bit public keys (and ECDSA P-256, which
# botocore's signer does not produce).
MIN_KEY_BITS = 2048
DISPOSITION_PARAMETER = "response-content-disposition"


def cloudfront_enabled() -> bool:
    """Downloads go through CloudFront: its domain is configured."""
    return bool(settings.INTAKE_CLOUDFRONT_DOMAIN)


def private_key_pem(*, inline: str, path: str) -> str:
    """The private key's PEM text, from INTAKE_CLOUDFRONT_PRIVATE_KEY (where `\\n` may
    stand for newlines, as one-line environment files need) or from the file
    INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE names; exactly one of them."""
    if inline and path:
        raise ImproperlyConfigured("Set INTAKE_CLOUDFRONT_PRIVATE_KEY or INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE, not both")
    if path:
        try:
            return Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            # The reason (missing, permissions), never the contents.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ImproperlyConfigured(
                f"INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE {path!r} cannot be read: {reason}"
            ) from None
    if inline:
        return inline.replace("\\n", "\n")
    raise ImproperlyConfigured(
        "INTAKE_CLOUDFRONT_DOMAIN is set, so CloudFront needs the key group's private key: set "
        "INTAKE_CLOUDFRONT_PRIVATE_KEY (PEM text) or INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE (a path)"
    )


def load_private_key(pem: str, *, source: str) -> rsa.RSAPrivateKey:
    """Parse and check the key: an unencrypted PEM private key, RSA, at least 2048 bits.
    `source` names the setting in the message; the message never quotes the key."""
    try:
        key = serialization.load_pem_private_key(pem.strip().encode("ascii"), password=None)
    except TypeError:
        raise ImproperlyConfigured(f"{source} is encrypted; CloudFront needs the key without a passphrase") from None
    except (ValueError, UnicodeEncodeError):
        raise ImproperlyConfigured(
            f"{source} is not a PEM private key (expected '-----BEGIN PRIVATE KEY-----' or "
            "'-----BEGIN RSA PRIVATE KEY-----', as openssl writes it)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured(
            f"{source} is not an RSA key ({type(key).__name__}); CloudFront signed URLs here need an RSA key "
            f"of {MIN_KEY_BITS} bits (openssl genrsa -out private_key.pem {MIN_KEY_BITS})"
        )
    if key.key_size < MIN_KEY_BITS:
        raise ImproperlyConfigured(f"{source} is RSA {key.key_size} bits; CloudFront needs at least {MIN_KEY_BITS}")
    return key


def check_configuration(*, domain: str, key_id: str, inline_key: str, key_path: str) -> None:
    """Start-up check (uploader.apps): with a domain, a key id and a usable key."""
    if not domain:
        return
    if "/" in domain or ":" in domain or domain != domain.strip().lower():
        raise ImproperlyConfigured(
            f"INTAKE_CLOUDFRONT_DOMAIN must be a lower-case host name such as files.example.com, not {domain!r}"
        )
    if not key_id:
        raise ImproperlyConfigured(
            "INTAKE_CLOUDFRONT_DOMAIN is set, so INTAKE_CLOUDFRONT_KEY_ID (the public key's id in the "
            "distribution's key group, e.g. K2JCJMDEHXQW5F) is required"
        )
    source = "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE" if key_path else "INTAKE_CLOUDFRONT_PRIVATE_KEY"
    load_private_key(private_key_pem(inline=inline_key, path=key_path), source=source)


def configured_public_key_pem() -> str:
    """The public half of the configured private key (SubjectPublicKeyInfo PEM, as
    CloudFront holds it), for `manage.py doctor` to compare; nothing secret."""
    path = settings.INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE
    source = "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE" if path else "INTAKE_CLOUDFRONT_PRIVATE_KEY"
    key = load_private_key(private_key_pem(inline=settings.INTAKE_CLOUDFRONT_PRIVATE_KEY, path=path), source=source)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode("ascii")


def same_public_key(first_pem: str, second_pem: str) -> bool:
    """Whether two PEM public keys are the same key (whatever their line breaks)."""
    try:
        first = serialization.load_pem_public_key(first_pem.strip().encode("ascii"))
        second = serialization.load_pem_public_key(second_pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return bool(
        isinstance(first, rsa.RSAPublicKey)
        and isinstance(second, rsa.RSAPublicKey)
        and first.public_numbers() == second.public_numbers()
    )


@functools.lru_cache(maxsize=4)
def _signer(key_id: str, inline_key: str, key_path: str) -> CloudFrontSigner:
    # Keyed on the settings' values, so a changed key (tests, rotation with a reload)
    # is picked up while each process loads a key once.
    source = "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE" if key_path else "INTAKE_CLOUDFRONT_PRIVATE_KEY"
    key = load_private_key(private_key_pem(inline=inline_key, path=key_path), source=source)
    logger.info("CloudFront signing key %s loaded (RSA %s bits)", key_id, key.key_size)

    def sign_with_rsa_sha1(message: bytes) -> bytes:
        # CloudFront's default signature: RSASSA-PKCS1-v1_5 over SHA-1 of the policy.
        return key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - what CloudFront verifies

    return CloudFrontSigner(key_id, sign_with_rsa_sha1)


def object_url(key: str) -> str:
    """`https://<domain>/<key>`, the key percent-encoded once: everything but letters,
    digits, `-._~` and the `/` between segments (so `+`, `%`, `#`, `?`, spaces and
    non-ASCII letters reach S3 as the key they are)."""
    return f"https://{settings.INTAKE_CLOUDFRONT_DOMAIN}/{quote(key, safe='/')}"


def _epoch_seconds() -> int:
    return int(time.time())


def presign_cloudfront_get(*, key: str, expires_in: int, filename: str | None = None) -> str:
    """A CloudFront URL for the object, valid for `expires_in` seconds; with `filename`
    the browser saves it under that name (the same Content-Disposition S3 URLs ask for)."""
    url = object_url(key)
    if filename:
        url += f"?{DISPOSITION_PARAMETER}={quote(attachment_disposition(filename), safe='')}"
    expires = dt.datetime.fromtimestamp(_epoch_seconds() + expires_in, tz=dt.UTC)
    signer = _signer(
        settings.INTAKE_CLOUDFRONT_KEY_ID,
        settings.INTAKE_CLOUDFRONT_PRIVATE_KEY,
        settings.INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE,
    )
    return str(signer.generate_presigned_url(url, date_less_than=expires))


def forget_signer() -> None:
    """Drop the loaded key (tests; a process that must re-read a rotated key file)."""
    _signer.cache_clear()
