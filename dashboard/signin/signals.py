"""Sign-in, sign-out and refused sign-in go to the audit trail (Django's own signals:
the auth views are Django's, so these are the only hooks)."""

from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from uploader.access.roles import ROLE_GROUP_NAMES, forget_cached_role, role_of
from uploader.audit.services import audit_record


@receiver(user_logged_in)
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(action="auth.sign_in", user=user)


@receiver(user_logged_out)
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="auth.sign_out", user=user)


@receiver(user_login_failed)
def _sign_in_refused(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    if "username" not in credentials:
        return  # a Cognito callback that did not sign anyone in: dashboard.signin.oidc records why
    # Only the user name: never the password Django passes along (already masked).
    audit_record(action="auth.sign_in_refused", detail={"username": str(credentials.get("username", ""))[:150]})


@receiver(m2m_changed, sender=User.groups.through)
def _role_groups_changed(sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any) -> None:
    """A role changed by hand (Django admin, shell) is recorded like one from Cognito.
    Sign-in's own changes record themselves (uploader.access.accounts) and are skipped here."""
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(instance, User):
        return
    forget_cached_role(instance)  # the role this object carries is no longer true
    if getattr(instance, "_intake_role_sync", False):
        return
    names = set(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
    if action != "post_clear" and not names.intersection(ROLE_GROUP_NAMES.values()):
        return
    audit_record(
        action="auth.role_changed",
        detail={"user": instance.get_username(), "change": action.removeprefix("post_"), "groups": sorted(names),
                "source": "manual"},
    )


_ROLE_FLAGS = frozenset({"is_staff", "is_superuser", "is_active"})


def _flags_may_change(update_fields: Any) -> bool:
    return update_fields is None or bool(_ROLE_FLAGS.intersection(update_fields))


@receiver(pre_save, sender=User)
def _remember_role_before_save(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    """Superuser, staff and active flags change a role too (Django admin's user form)."""
    if instance.pk is None or getattr(instance, "_intake_role_sync", False) or not _flags_may_change(update_fields):
        return
    stored = User.objects.filter(pk=instance.pk).first()
    instance._intake_role_before = role_of(stored) if stored is not None else None  # type: ignore[attr-defined]


@receiver(post_save, sender=User)
def _record_role_after_save(sender: Any, instance: User, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    if created or not hasattr(instance, "_intake_role_before"):
        return
    before = instance.__dict__.pop("_intake_role_before")
    forget_cached_role(instance)
    after = role_of(instance)
    if before != after:
        audit_record(
            action="auth.role_changed",
            detail={"user": instance.get_username(), "from": before, "to": after, "source": "manual"},
        )
