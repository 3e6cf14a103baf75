"""Roles from Cognito groups, the permissions of each role, and the audit of changes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from uploader.access.accounts import role_from_cognito_groups, user_set_role, user_sign_in_from_claims
from uploader.access.roles import ROLE_GROUP_NAMES, Permission, Role, has_permission, permissions_of, role_of
from uploader.audit.models import AuditEntry

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        ([], None),
        (["marketing"], None),
        (["intake-viewers"], Role.VIEWER),
        (["intake-staff", "intake-viewers"], Role.STAFF),
        (["intake-viewers", "intake-admins", "intake-staff"], Role.ADMIN),
        (["INTAKE-ADMINS"], None),  # group names are exact, as Cognito's are
    ],
)
def test_the_strongest_configured_group_gives_the_role(groups: list[str], role: Role | None) -> None:
    assert role_from_cognito_groups(groups) is role


def test_group_names_come_from_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_ROLE_GROUPS_STAFF = ["Office", "Front desk"]
    assert role_from_cognito_groups(["Front desk"]) is Role.STAFF
    assert role_from_cognito_groups(["intake-staff"]) is None


def test_permissions_per_role() -> None:
    assert permissions_of(None) == frozenset()
    admin, staff, viewer = (User.objects.create_user(username=n) for n in ("a", "s", "v"))
    for user, role in ((admin, Role.ADMIN), (staff, Role.STAFF), (viewer, Role.VIEWER)):
        user_set_role(user=user, role=role, source="test")
    assert permissions_of(admin) == frozenset(Permission)
    assert has_permission(staff, Permission.MANAGE_PORTALS)
    assert not has_permission(staff, Permission.MANAGE_USERS)
    assert permissions_of(viewer) == {Permission.BROWSE, Permission.DOWNLOAD}
    viewer.is_active = False
    assert permissions_of(viewer) == frozenset()  # a disabled account can do nothing


def test_setting_a_role_sets_flags_and_groups_and_records_the_change() -> None:
    user = User.objects.create_user(username="pat")
    assert user_set_role(user=user, role=Role.ADMIN, source="cognito")
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser) == (True, True)
    assert list(user.groups.values_list("name", flat=True)) == [ROLE_GROUP_NAMES[Role.ADMIN]]
    assert user_set_role(user=user, role=Role.VIEWER, source="cognito")
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert list(user.groups.values_list("name", flat=True)) == [ROLE_GROUP_NAMES[Role.VIEWER]]
    assert not user_set_role(user=user, role=Role.VIEWER, source="cognito")  # no change, no entry
    changes = [e.detail for e in AuditEntry.objects.filter(action="auth.role_changed").order_by("id")]
    assert changes == [
        {"user": "pat", "from": None, "to": "admin", "source": "cognito"},
        {"user": "pat", "from": "admin", "to": "viewer", "source": "cognito"},
    ]


def test_a_role_changed_by_hand_is_recorded() -> None:
    user = User.objects.create_user(username="quinn")
    group, _ = Group.objects.get_or_create(name=ROLE_GROUP_NAMES[Role.STAFF])
    user.groups.add(group)
    user.groups.add(Group.objects.create(name="unrelated"))  # not a role: not recorded
    entries = list(AuditEntry.objects.filter(action="auth.role_changed").values_list("detail", flat=True))
    assert entries == [{"user": "quinn", "change": "add", "groups": ["intake-staff"], "source": "manual"}]


def test_sign_in_keys_users_on_issuer_and_subject() -> None:
    claims = {"sub": "abc-123", "email": "lee@example.test", "cognito:username": "lee"}
    first, role = user_sign_in_from_claims(issuer="https://idp.example/pool", claims=claims, groups=["intake-staff"])
    assert role is Role.STAFF
    # Same subject, new address: same user, address updated.
    again, _ = user_sign_in_from_claims(
        issuer="https://idp.example/pool", claims={**claims, "email": "lee@new.example"}, groups=["intake-staff"]
    )
    assert again.pk == first.pk
    assert again.email == "lee@new.example"
    # Another pool's user with the same subject is someone else.
    other, _ = user_sign_in_from_claims(issuer="https://other.example/pool", claims=claims, groups=[])
    assert other.pk != first.pk
    assert role_of(other) is None


def test_losing_every_group_removes_the_role() -> None:
    claims = {"sub": "s-1", "email": "mo@example.test"}
    user, _ = user_sign_in_from_claims(issuer="https://idp.example/pool", claims=claims, groups=["intake-admins"])
    user, role = user_sign_in_from_claims(issuer="https://idp.example/pool", claims=claims, groups=[])
    user.refresh_from_db()
    assert role is None
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert not user.groups.exists()


def test_a_person_never_gets_a_machine_clients_account_name() -> None:
    claims = {"sub": "s-9", "email": "", "cognito:username": "machine:4machine56789clientcreds00"}
    user, _ = user_sign_in_from_claims(issuer="https://idp.example/pool", claims=claims, groups=["intake-staff"])
    assert not user.username.startswith("machine:")
    assert user.username == "s-9"


def test_a_disabled_accounts_groups_are_not_synced() -> None:
    claims = {"sub": "s-off", "email": "off@example.test"}
    user, _ = user_sign_in_from_claims(issuer="https://idp.example/pool", claims=claims, groups=["intake-viewers"])
    User.objects.filter(pk=user.pk).update(is_active=False)
    before = AuditEntry.objects.filter(action="auth.role_changed").count()
    user, _ = user_sign_in_from_claims(issuer="https://idp.example/pool", claims=claims, groups=["intake-admins"])
    user.refresh_from_db()
    assert (user.is_superuser, user.is_staff) == (False, False)
    assert list(user.groups.values_list("name", flat=True)) == [ROLE_GROUP_NAMES[Role.VIEWER]]
    assert AuditEntry.objects.filter(action="auth.role_changed").count() == before


def test_a_claimed_address_too_long_to_keep_is_dropped() -> None:
    claims = {"sub": "s-long", "email": "a" * 300 + "@example.test"}
    user, _ = user_sign_in_from_claims(issuer="https://idp.example/pool", claims=claims, groups=["intake-staff"])
    assert user.email == ""
    assert user.username == "s-long"


def test_a_role_changed_through_the_flags_is_recorded() -> None:
    user = User.objects.create_user(username="flagged")
    user.is_superuser = True
    user.save()  # as Django admin's user form does
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.last_login = None
    user.save(update_fields=["last_login"])  # sign-in's own save: no check, no entry
    changes = list(
        AuditEntry.objects.filter(action="auth.role_changed", detail__source="manual").order_by("id").values_list("detail", flat=True)
    )
    assert changes == [
        {"user": "flagged", "from": None, "to": "admin", "source": "manual"},
        {"user": "flagged", "from": "admin", "to": None, "source": "manual"},
    ]
