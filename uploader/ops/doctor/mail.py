"""E-mail, when it is sent over SMTP: the server answers and takes the login, and with
Amazon SES the sender's identity is verified."""

from __future__ import annotations

import contextlib
import re
import smtplib
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import get_connection

from uploader import s3
from uploader.ops.cors_check.results import CheckResult, failed, passed, skipped

PART = "e-mail"
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# SES's SMTP endpoints name their region: email-smtp.eu-west-1.amazonaws.com.
SES_HOST = re.compile(r"email-smtp(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")


def mail_checks() -> list[CheckResult]:
    if settings.EMAIL_BACKEND != SMTP_BACKEND:
        return [skipped(PART, "SMTP", f"not sent over SMTP ({settings.EMAIL_BACKEND})")]
    results = [smtp_check()]
    if match := SES_HOST.fullmatch(settings.EMAIL_HOST):
        results.append(ses_identity_check(settings.DEFAULT_FROM_EMAIL, region=match.group(1)))
    return results


def smtp_check() -> CheckResult:
    where = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    name = f"SMTP {where}"
    connection = get_connection(SMTP_BACKEND, fail_silently=False)
    try:
        connection.open()
    except smtplib.SMTPAuthenticationError as exc:
        fix = "check DJANGO_EMAIL_HOST_USER and DJANGO_EMAIL_HOST_PASSWORD (SES: SMTP credentials, not access keys)"
        return failed(PART, name, f"the server refused the login ({exc.smtp_code})", fix)
    except smtplib.SMTPNotSupportedError:
        return failed(
            PART, name, "the server offers no login or no STARTTLS", "check DJANGO_EMAIL_USE_TLS and the port"
        )
    except (OSError, smtplib.SMTPException) as exc:
        fix = "check DJANGO_EMAIL_HOST, DJANGO_EMAIL_PORT, DJANGO_EMAIL_USE_TLS and that outbound SMTP is allowed"
        return failed(PART, name, f"no connection ({type(exc).__name__})", fix)
    # The server may hang up first; it answered, which is what was checked.
    with contextlib.suppress(OSError, smtplib.SMTPException):
        connection.close()
    login = " and took the login" if settings.EMAIL_HOST_USER else ""
    return passed(PART, name, f"answered{login}")


def ses_identity_check(from_email: str, *, region: str) -> CheckResult:
    """The From address, or its domain, is a verified SES identity in `region`."""
    address = parseaddr(from_email)[1] or from_email
    name = f"SES identity for {address}"
    domain = address.rpartition("@")[2]
    try:
        statuses = {identity: s3.ses_identity_status(identity, region=region) for identity in (address, domain)}
    except s3.StorageRefused as exc:
        fix = "allow ses:GetIdentityVerificationAttributes to the app's role, or check the identity in the SES console"
        return failed(PART, name, f"SES refused to say ({exc.code})", fix)
    except s3.StorageError as exc:
        return failed(PART, name, f"SES does not answer ({exc})", "check the network")
    verified = [identity for identity, status in statuses.items() if status == "Success"]
    if verified:
        return passed(PART, name, f"{verified[0]} is verified in {region}")
    seen = ", ".join(f"{identity}: {status or 'unknown to SES'}" for identity, status in statuses.items())
    fix = (
        f"verify {address} (the link SES sent) or the domain {domain} in SES {region}; "
        "DJANGO_DEFAULT_FROM_EMAIL must be that address"
    )
    return failed(PART, name, f"not verified ({seen}): SES refuses to send", fix)
