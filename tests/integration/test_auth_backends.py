"""The signed-in user is loaded together with their role: one query, not two."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.signin.auth_backends import PasswordBackend, user_with_role_groups
from uploader.access.accounts import user_set_role
from uploader.access.roles import ROLE_GROUP_NAMES, Role, forget_cached_role, role_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _user(role: Role | None, **flags: bool) -> User:
    user = User.objects.create_user(username=f"u-{uuid.uuid4().hex[:8]}", password="x" * 20, **flags)
    user_set_role(user=user, role=role, source="test")
    return user


@pytest.mark.parametrize("role", [Role.ADMIN, Role.STAFF, Role.VIEWER, None])
def test_user_and_role_in_one_query(role: Role | None, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    user_id = _user(role).pk
    with django_assert_num_queries(1):
        loaded = user_with_role_groups(user_id)
        assert loaded is not None
        assert role_of(loaded) == role


def test_several_role_groups_give_the_strongest_and_other_groups_do_not_count(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    user = _user(Role.VIEWER)
    user.groups.add(Group.objects.get_or_create(name=ROLE_GROUP_NAMES[Role.STAFF])[0])
    user.groups.add(Group.objects.create(name="intake-admin-lookalike"))
    with django_assert_num_queries(1):
        assert role_of(user_with_role_groups(user.pk)) == Role.STAFF


def test_a_group_change_is_seen_once_the_cache_is_forgotten() -> None:
    user = _user(Role.VIEWER)
    loaded = user_with_role_groups(user.pk)
    assert loaded is not None
    assert role_of(loaded) == Role.VIEWER
    user_set_role(user=loaded, role=Role.ADMIN, source="test")
    forget_cached_role(loaded)
    assert role_of(loaded) == Role.ADMIN


def test_superusers_are_admins_and_disabled_accounts_are_signed_out() -> None:
    admin = _user(None)
    User.objects.filter(pk=admin.pk).update(is_superuser=True)  # made by createsuperuser, say
    assert role_of(user_with_role_groups(admin.pk)) == Role.ADMIN
    disabled = _user(Role.STAFF)
    User.objects.filter(pk=disabled.pk).update(is_active=False)
    assert PasswordBackend().get_user(disabled.pk) is None
    assert PasswordBackend().get_user(admin.pk) is not None


@pytest.mark.parametrize("user_id", [987654321, "not a number", None])
def test_unknown_ids_are_no_user(user_id: object) -> None:
    assert user_with_role_groups(user_id) is None


def test_a_signed_in_page_loads_user_and_role_with_one_query(client) -> None:  # type: ignore[no-untyped-def]
    user = _user(Role.STAFF)
    client.force_login(user, backend="dashboard.signin.auth_backends.PasswordBackend")
    client.get("/uploads/")  # warm: the session row, the content types
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/uploads/").status_code == 200
    sql = [query["sql"] for query in queries.captured_queries]
    assert sum('FROM "auth_user"' in statement for statement in sql) == 1
    assert not any('FROM "auth_group"' in statement and "EXISTS" not in statement for statement in sql)


def test_changing_groups_through_the_loaded_user_drops_its_role_at_once() -> None:
    user = user_with_role_groups(_user(Role.VIEWER).pk)
    assert user is not None
    assert role_of(user) == Role.VIEWER
    user.groups.clear()  # Django admin or a shell, on this very object
    assert role_of(user) is None
