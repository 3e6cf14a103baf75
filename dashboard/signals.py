"""Sign-in, sign-out and refused sign-in go to the audit trail (Django's own signals:
the auth views are Django's, so these are the only hooks)."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from uploader.audit import audit_record


@receiver(user_logged_in)
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(action="auth.sign_in", user=user)


@receiver(user_logged_out)
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="auth.sign_out", user=user)


@receiver(user_login_failed)
def _sign_in_refused(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Only the user name: never the password Django passes along (already masked).
    audit_record(action="auth.sign_in_refused", detail={"username": str(credentials.get("username", ""))[:150]})
