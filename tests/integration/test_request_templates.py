"""Admins manage request templates on the staff pages: list, make, edit the items,
delete; each save and delete audited; staff make requests from them but may not
change them (the role matrix has the rest)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from uploader.audit.models import AuditEntry
from uploader.requests.models import RequestItem, RequestTemplate, TemplateItem
from uploader.requests.services import ItemSpec, request_create

pytestmark = [pytest.mark.integration]

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "x" * 20))
    return client


def rows(*items: dict[str, str], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(initial),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "50",
    }
    for n, values in enumerate(items):
        data.update({f"items-{n}-{key}": value for key, value in values.items()})
    return data


def test_admins_make_edit_and_delete_a_template_each_audited(admin_client: Client, staff_user: User) -> None:
    made = admin_client.post(
        "/requests/templates/new",
        {
            "name": f"Tax pack {SCRIPT}",
            "description": "Every spring.",
            **rows(
                {"title": "P60", "required": "on", "allowed_extensions": "PDF, .jpg", "max_files": "1"},
                {"title": "Receipts", "instructions": "All of them."},
                {"title": ""},  # an empty row is nothing
            ),
        },
    )
    assert made.status_code == 302
    template = RequestTemplate.objects.get()
    items = list(template.items.values_list("title", "required", "allowed_extensions", "max_files"))
    assert items == [("P60", True, [".pdf", ".jpg"], 1), ("Receipts", False, [], None)]
    listing = admin_client.get("/requests/templates/")
    assert f"Tax pack {SCRIPT}".encode() not in listing.content  # names are text
    assert b"Tax pack &lt;script&gt;" in listing.content

    # A request made from it keeps its copies when the template changes.
    request = request_create(
        actor=staff_user,
        client_name="Ann",
        client_emails=["ann@example.test"],
        items=[ItemSpec(title=t.title) for t in template.items.all()],
        template=template,
    )
    form = admin_client.get(f"/requests/templates/{template.pk}/")
    assert b'value="P60"' in form.content
    edited = admin_client.post(
        f"/requests/templates/{template.pk}/",
        {
            "name": "Tax pack",
            "description": "",
            **rows({"title": "P60 for 2026", "required": "on"}, {"title": "Receipts", "DELETE": "on"}, initial=2),
        },
    )
    assert edited.status_code == 302
    assert list(TemplateItem.objects.filter(template=template).values_list("title", flat=True)) == ["P60 for 2026"]
    assert list(RequestItem.objects.filter(request=request).values_list("title", flat=True)) == ["P60", "Receipts"]

    assert admin_client.get(f"/requests/templates/{template.pk}/delete").status_code == 200
    assert admin_client.post(f"/requests/templates/{template.pk}/delete").status_code == 302
    assert not RequestTemplate.objects.exists()
    request.refresh_from_db()
    assert request.template is None
    assert RequestItem.objects.filter(request=request).count() == 2
    trail = list(
        AuditEntry.objects.filter(action__startswith="request_template.").order_by("id").values_list("action", "detail")
    )
    assert [action for action, _ in trail] == [
        "request_template.saved",
        "request_template.saved",
        "request_template.deleted",
    ]
    assert trail[0][1]["new"] is True
    assert trail[1][1]["items"] == 1


def test_bad_templates_are_clear_400s_and_write_nothing(admin_client: Client) -> None:
    RequestTemplate.objects.create(name="Taken")
    for data, message in [
        ({"name": "Taken", **rows({"title": "A"})}, b"Another template has this name."),
        ({"name": "", **rows({"title": "A"})}, b"This field is required"),
        ({"name": "New", **rows()}, b"needs at least one item"),
        ({"name": "New", **rows({"title": "A", "allowed_extensions": "p d f!"})}, b"is not a file name ending"),
    ]:
        answer = admin_client.post("/requests/templates/new", data)
        assert answer.status_code == 400, data
        assert message in answer.content, data
    assert list(RequestTemplate.objects.values_list("name", flat=True)) == ["Taken"]
    assert not AuditEntry.objects.filter(action__startswith="request_template.").exists()
    assert admin_client.get("/requests/templates/999999999/").status_code == 404
    assert admin_client.post("/requests/templates/999999999/delete").status_code == 404


def test_staff_see_no_templates_link_and_admins_do(admin_client: Client, staff_client: Client) -> None:
    assert b"/requests/templates/" in admin_client.get("/requests/").content
    assert b"/requests/templates/" not in staff_client.get("/requests/").content
