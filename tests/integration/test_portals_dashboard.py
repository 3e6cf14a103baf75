"""Staff portal pages: list, create, edit, copy the link, rotate, disable; roles."""

from __future__ import annotations

import re
from html import unescape

import pytest
import requests
from django.test import Client

from tests.integration.test_portals import SCRIPT, enter, upload_file, visitor_client
from tests.support.people import person_and_client as person
from uploader.access.roles import NotAllowed, Role
from uploader.audit.models import AuditEntry
from uploader.portals import tokens as portal_tokens
from uploader.portals.models import Portal
from uploader.portals.services import portal_create, portal_link
from uploader.uploads.models import Upload

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("generous_rates")]



def link_path(html: str) -> str:
    match = re.search(r'id="portal-link" type="text" readonly value="https?://[^/"]+(/p/[^"]+)"', html)
    assert match, "no portal link on the page"
    return match.group(1)


FORM = {
    "name": "Smith & Co",
    "title": "Send Smith & Co your documents",
    "welcome_message": "Hello!",
    "brand_colour": "#0B6E4F",
    "password": "",
    "max_file_bytes": "20 MiB",
    "max_files": "5",
    "max_total_bytes": "",
    "allowed_extensions": ".pdf, .jpg",
    "allowed_content_types": "",
    "require_name": "on",
    "require_email": "on",
    "notify_emails": "office@example.test",
}


def test_staff_create_a_portal_and_copy_its_working_link(db, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    user, staff = person(Role.STAFF)
    assert b'href="/portals/"' in staff.get("/portals/new").content  # the nav link
    response = staff.post("/portals/new", FORM)
    assert response.status_code == 302, response.content
    portal = Portal.objects.get(slug="smith-co")
    assert response["Location"] == f"/portals/{portal.pk}/"
    assert (portal.max_file_bytes, portal.max_files, portal.brand_colour) == (20 * 1024**2, 5, "#0b6e4f")
    assert portal.allowed_extensions == [".pdf", ".jpg"]
    assert portal.created_by == user
    detail = staff.get(f"/portals/{portal.pk}/").content.decode()
    assert "Portal created" in detail
    path = link_path(detail)
    assert portal_link(portal).endswith(path)
    # The link is the same every time staff look (copy it again later).
    assert link_path(staff.get(f"/portals/{portal.pk}/").content.decode()) == path
    visitor = visitor_client()
    assert b"Send Smith &amp; Co your documents" in visitor.get(path).content
    assert staff.get("/portals/").status_code == 200
    assert AuditEntry.objects.get(action="portal.created").actor_label == user.username


def test_edit_rotate_and_disable_from_the_dashboard(db, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    user, staff = person(Role.ADMIN)
    portal = portal_create(actor=user, name="Jones", password="first password")
    old = link_path(staff.get(f"/portals/{portal.pk}/").content.decode())
    form = staff.get(f"/portals/{portal.pk}/edit")
    assert form.status_code == 200
    assert b'name="slug"' not in form.content  # fixed once created
    edited = {**FORM, "name": "Jones", "title": "Jones docs", "is_active": "on", "remove_password": "on"}
    assert staff.post(f"/portals/{portal.pk}/edit", edited).status_code == 302
    portal.refresh_from_db()
    assert portal.title == "Jones docs"
    assert portal.password_hash == ""
    changed = AuditEntry.objects.get(action="portal.changed")
    assert "password removed" in changed.detail["changed"]
    assert "first password" not in str(changed.detail)

    # Both ask first: the page, or a POST without the confirmation, changes nothing.
    asked = staff.get(f"/portals/{portal.pk}/rotate")
    assert asked.status_code == 200
    assert b"data-confirm" in asked.content
    assert staff.post(f"/portals/{portal.pk}/rotate").status_code == 200
    assert link_path(staff.get(f"/portals/{portal.pk}/").content.decode()) == old
    assert staff.post(f"/portals/{portal.pk}/rotate", {"confirmed": "yes"}).status_code == 302
    new = link_path(staff.get(f"/portals/{portal.pk}/").content.decode())
    assert new != old
    visitor = visitor_client()
    assert visitor.get(old).status_code == 404
    assert visitor.get(new).status_code == 200

    assert staff.post(f"/portals/{portal.pk}/disable").status_code == 200
    assert visitor.get(new).status_code == 200
    assert staff.post(f"/portals/{portal.pk}/disable", {"confirmed": "yes"}).status_code == 302
    assert visitor.get(new).status_code == 410
    assert AuditEntry.objects.filter(action__in=["portal.link_rotated", "portal.disabled"]).count() == 2

    # A disabled portal can be re-opened: the same link works again.
    page = staff.get(f"/portals/{portal.pk}/").content.decode()
    assert f'href="/portals/{portal.pk}/reopen"' in page
    assert staff.post(f"/portals/{portal.pk}/reopen", {"confirmed": "yes"}).status_code == 302
    assert visitor.get(new).status_code == 200
    [reopened] = AuditEntry.objects.filter(action="portal.reopened")
    assert reopened.actor_id is not None
    portal.refresh_from_db()
    assert (portal.is_active, portal.disabled_at) == (True, None)


def test_bad_input_is_a_400_naming_the_field(db) -> None:  # type: ignore[no-untyped-def]
    _, staff = person(Role.STAFF)
    response = staff.post("/portals/new", {**FORM, "brand_colour": "red;}</style><script>", "max_file_bytes": "lots"})
    assert response.status_code == 400
    assert b"hex colour" in response.content
    assert b"is not a size" in response.content
    assert b"</style><script>" not in response.content
    assert Portal.objects.count() == 0
    staff.post("/portals/new", FORM)
    # A folder name typed in must be free; one made from the name is numbered.
    again = staff.post("/portals/new", {**FORM, "slug": "smith-co"})
    assert again.status_code == 400
    assert b"already uses this link name" in again.content
    assert b"slug" not in again.content.lower().replace(b'name="slug"', b"").replace(b'id_slug', b"")
    assert staff.post("/portals/new", FORM).status_code == 302
    assert staff.post("/portals/new", FORM).status_code == 302
    assert sorted(Portal.objects.values_list("slug", flat=True)) == ["smith-co", "smith-co-2", "smith-co-3"]


@pytest.mark.parametrize("role", [Role.VIEWER, None])
def test_viewers_and_people_without_a_role_cannot_manage_portals(db, role: Role | None) -> None:  # type: ignore[no-untyped-def]
    user, client = person(role)
    owner, _ = person(Role.STAFF)
    portal = portal_create(actor=owner, name="Private")
    for url in ("/portals/", "/portals/new", f"/portals/{portal.pk}/", f"/portals/{portal.pk}/edit"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/portals/{portal.pk}/rotate").status_code == 403
    assert client.post(f"/portals/{portal.pk}/disable").status_code == 403
    assert client.post(f"/portals/{portal.pk}/reopen", {"confirmed": "yes"}).status_code == 403
    assert client.post(f"/portals/{portal.pk}/download-all").status_code == 403
    assert b'href="/portals/"' not in client.get("/portals/").content
    with pytest.raises(NotAllowed):
        portal_create(actor=user, name="Sneaky")
    portal.refresh_from_db()
    assert portal.is_active


def test_signed_out_visitors_are_sent_to_sign_in(db) -> None:  # type: ignore[no-untyped-def]
    response = Client().get("/portals/")
    assert response.status_code == 302
    assert "next=/portals/" in response["Location"]


def test_staff_see_uploads_under_the_portal_with_html_shown_as_text(db, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    user, staff = person(Role.STAFF)
    portal = portal_create(actor=user, name=f"Evil {SCRIPT}", slug="evil", title=f"T {SCRIPT}", welcome_message=SCRIPT)
    token = portal_tokens.token_for(portal.token_nonce)
    visitor = visitor_client()
    enter(visitor, token, name=f"Mallory {SCRIPT}", email="mallory@example.test")
    upload_file(visitor, token, b"m" * 321, filename=f"{SCRIPT}.pdf")
    for url in ("/portals/", f"/portals/{portal.pk}/", f"/portals/{portal.pk}/edit"):
        page = staff.get(url)
        assert page.status_code == 200
        assert SCRIPT.encode() not in page.content, url
        assert b"&lt;script&gt;" in page.content, url
    detail = staff.get(f"/portals/{portal.pk}/").content.decode()
    assert 'data-state="stored"' in detail
    assert "Mallory &lt;script&gt;" in detail
    assert "mallory@example.test" in detail


def test_a_portals_file_list_links_each_file_and_downloads_them_all(make_portal, s3_bucket, generous_rates) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(name="Files everywhere")
    visitor = visitor_client()
    enter(visitor, token)
    upload_file(visitor, token, b"first file", filename="first.pdf", type_="application/pdf")
    upload_file(visitor, token, b"second file", filename="second.pdf", type_="application/pdf")
    _, staff = person(Role.STAFF)
    page = staff.get(f"/portals/{portal.pk}/").content.decode()
    uploads = list(Upload.objects.filter(portal=portal))
    for upload in uploads:
        assert f'<a href="/uploads/{upload.pk}/">{upload.original_filename}</a>' in page
        assert f'action="/uploads/{upload.pk}/download"' in page
    assert "Download all 2 stored files" in page

    answer = staff.post(f"/portals/{portal.pk}/download-all")
    assert answer.status_code == 200
    html = answer.content.decode()
    links = re.findall(r'<a href="([^"]+)" data-download-link>([^<]+)</a>', html)
    assert sorted(name for _, name in links) == ["first.pdf", "second.pdf"]
    bodies = {name: requests.get(unescape(url), timeout=10).content for url, name in links}
    assert bodies == {"first.pdf": b"first file", "second.pdf": b"second file"}
    assert AuditEntry.objects.filter(action="upload.downloaded", upload__portal=portal).count() == 2
