"""Keeping people's roles in step with their Cognito groups, and recording each change.

Sign-in calls `user_sign_in_from_claims` with the verified ID token's claims; it finds
the user by (issuer, sub), creates them on first sign-in, and sets their role from
`cognito:groups`. A change of role made in Django admin is recorded too (signals).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction
from django.utils import timezone

from uploader.access.models import OidcIdentity
from uploader.access.roles import ROLE_GROUP_NAMES, ROLES_BY_STRENGTH, Role, forget_cached_role, role_of
from uploader.audit.services import audit_record

logger = logging.getLogger(__name__)

# Machine clients act as users named machine:<client id> (uploader.access.machine); no
# person may ever be given such a name.
MACHINE_USERNAME_PREFIX = "machine:"


def role_from_cognito_groups(groups: Iterable[str]) -> Role | None:
    """The strongest role any of the groups gives, per INTAKE_ROLE_GROUPS_*; None if none."""
    names = set(groups)
    configured = {
        Role.ADMIN: settings.INTAKE_ROLE_GROUPS_ADMIN,
        Role.STAFF: settings.INTAKE_ROLE_GROUPS_STAFF,
        Role.VIEWER: settings.INTAKE_ROLE_GROUPS_VIEWER,
    }
    return next((role for role in ROLES_BY_STRENGTH if names.intersection(configured[role])), None)


def user_set_role(*, user: User, role: Role | None, source: str) -> bool:
    """Give the user exactly this role (or none): their role group, is_staff (admin and
    staff may open Django admin) and is_superuser (admin). Records the change; returns
    whether anything changed."""
    before = role_of(user)
    wanted_group = ROLE_GROUP_NAMES[role] if role is not None else None
    user._intake_role_sync = True  # type: ignore[attr-defined]  # recorded below, not by the signal
    try:
        with transaction.atomic():
            current = set(user.groups.filter(name__in=ROLE_GROUP_NAMES.values()).values_list("name", flat=True))
            for name in current - {wanted_group}:
                user.groups.remove(Group.objects.get(name=name))
            if wanted_group is not None and wanted_group not in current:
                group, _ = Group.objects.get_or_create(name=wanted_group)
                user.groups.add(group)
            is_staff = role in {Role.ADMIN, Role.STAFF}
            is_superuser = role is Role.ADMIN
            flags_changed = (user.is_staff, user.is_superuser) != (is_staff, is_superuser)
            if flags_changed:
                user.is_staff, user.is_superuser = is_staff, is_superuser
                user.save(update_fields=["is_staff", "is_superuser"])
            forget_cached_role(user)
            after = role_of(user)
            changed = before != after or flags_changed or current != ({wanted_group} - {None})
            if before != after:
                audit_record(
                    action="auth.role_changed",
                    user=user,
                    detail={"user": user.get_username(), "from": before, "to": after, "source": source},
                )
    finally:
        user._intake_role_sync = False  # type: ignore[attr-defined]
    return changed


def _username_for(claims: dict[str, Any]) -> str:
    """A readable, unique username for a new person: their e-mail when free, else the
    Cognito username, else the subject; a suffix from the subject settles clashes."""
    subject = str(claims["sub"])
    email = claims.get("email") if isinstance(claims.get("email"), str) and len(claims["email"]) <= 150 else None
    for candidate in (email, claims.get("cognito:username"), subject):
        if (
            isinstance(candidate, str)
            and candidate
            # Machine clients' users are named machine:<client id>; no person may take one.
            and not candidate.startswith(MACHINE_USERNAME_PREFIX)
            and not User.objects.filter(username=candidate[:150]).exists()
        ):
            return candidate[:150]
    base = str(claims.get("email") or claims.get("cognito:username") or "user")[:130].removeprefix(MACHINE_USERNAME_PREFIX)
    return f"{base}#{subject[:16]}"


MAX_EMAIL_LENGTH = 254  # Django's EmailField; a longer claimed address is not kept


def _identity_for(*, issuer: str, subject: str, claims: dict[str, Any], email: str) -> OidcIdentity:
    """The (locked) identity for this subject, made with its user on first sign-in.
    Two first sign-ins at once (two tabs) both try to insert; the loser finds the
    winner's rows instead of failing."""
    identity = OidcIdentity.objects.select_for_update().select_related("user").filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        return identity
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the outer transaction usable
            user = User(username=_username_for(claims), email=email, password=make_password(None))
            user.save()
            identity = OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
            logger.info("first sign-in of %s: user %s created", subject, user.pk)
            return identity
    except IntegrityError:
        return OidcIdentity.objects.select_for_update().select_related("user").get(issuer=issuer, subject=subject)


def user_sign_in_from_claims(*, issuer: str, claims: dict[str, Any], groups: Sequence[str]) -> tuple[User, Role | None]:
    """The user these verified claims name (made on first sign-in), with their role set
    from `groups`. A person in no allowed group is still recorded (so an admin can see
    who tried) but has no role, and sign-in refuses them. A disabled account's groups
    are not synced: re-enabling it must not silently grant what Cognito said meanwhile."""
    subject = str(claims["sub"])
    claimed = claims.get("email")
    email = claimed if isinstance(claimed, str) and len(claimed) <= MAX_EMAIL_LENGTH else ""
    role = role_from_cognito_groups(groups)
    with transaction.atomic():
        identity = _identity_for(issuer=issuer, subject=subject, claims=claims, email=email)
        user = identity.user
        if email and user.email != email:
            user.email = email
            user.save(update_fields=["email"])
        identity.email = email
        identity.provider_username = str(claims.get("cognito:username") or "")[:255]
        identity.groups = list(groups)
        identity.last_sign_in_at = timezone.now()
        identity.save()
        if user.is_active:
            user_set_role(user=user, role=role, source="cognito")
    return user, role
