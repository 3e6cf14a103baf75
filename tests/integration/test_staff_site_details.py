"""Small things a new user meets: the admin's name, record names spelled right, the icon."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.test import Client

from tests.integration.test_upload_deletion import person
from uploader.access.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_django_admin_is_branded_and_spells_its_records(client: Client) -> None:
    admin = person(Role.ADMIN)
    admin.is_superuser = True
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    html = client.get("/admin/").content.decode()
    assert "Intake administration" in html
    assert "Django administration" not in html
    assert "Webhook deliveries" in html
    assert "deliverys" not in html.lower()


def test_every_model_has_a_plural_people_would_write() -> None:
    odd = [
        str(model._meta.verbose_name_plural)
        for model in apps.get_app_config("uploader").get_models()
        if str(model._meta.verbose_name_plural).endswith(("ys", "ss", "sses", "ys"))
        and not str(model._meta.verbose_name_plural).endswith(("ays", "eys", "oys"))
    ]
    assert odd == []


def test_the_favicon_is_served(client: Client) -> None:
    answer = client.get("/favicon.ico")
    assert answer.status_code == 302
    assert answer["Location"].endswith("intake/favicon.svg")
    assert client.get("/accounts/login/").content.decode().count('rel="icon"') == 1
