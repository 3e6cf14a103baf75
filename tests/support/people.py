"""People with a role, signed in through Django's test client: the one way the
integration tests make them."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import User
from django.test import Client

from uploader.access.accounts import user_set_role
from uploader.access.roles import Role


def person(role: Role | None, name: str = "") -> User:
    """A user with `role` (None: no role), named `name` or after the role."""
    user = User.objects.create_user(
        username=name or f"{role or 'norole'}-{uuid.uuid4().hex[:6]}",
        password="x" * 20,
        email=f"{name or 'someone'}@example.test",
    )
    user_set_role(user=user, role=role, source="test")
    return user


def signed_in(role: Role | None, name: str = "") -> Client:
    """A test client signed in as a new person with `role`."""
    client = Client()
    client.force_login(person(role, name))
    return client


def person_and_client(role: Role | None) -> tuple[User, Client]:
    user = person(role)
    client = Client()
    client.force_login(user)
    return user, client
