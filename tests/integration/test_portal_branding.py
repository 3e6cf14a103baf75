"""Portal logos: staff upload one, it is cleaned into a small PNG in S3 outside the
uploads prefix, and clients see it; what is not a plain image is refused."""

from __future__ import annotations

import io
from unittest import mock

import pytest
import requests
from django.contrib.auth.models import User
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, PngImagePlugin
from storages.backends.s3 import S3Storage

from tests.support.app_storage import point_app_storage
from uploader import s3
from uploader.access.accounts import user_set_role
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.portals import tokens as portal_tokens
from uploader.portals.models import Portal
from uploader.portals.services import portal_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (1200, 300), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (11, 110, 79)).save(out, format=fmt, **save)
    return out.getvalue()


@pytest.fixture
def staff(s3_bucket: str) -> tuple[User, Client]:
    user = User.objects.create_user(username="pat")
    user_set_role(user=user, role=Role.STAFF, source="test")
    client = Client()
    client.force_login(user)
    return user, client


@pytest.fixture
def portal(staff: tuple[User, Client]) -> Portal:
    return portal_create(actor=staff[0], name="Smith & Co")


def post_logo(client: Client, portal: Portal, data: bytes, name: str = "logo.png", content_type: str = "image/png"):  # type: ignore[no-untyped-def]
    return client.post(f"/portals/{portal.pk}/logo", {"logo": SimpleUploadedFile(name, data, content_type=content_type)}, follow=True)


def test_a_logo_is_cleaned_stored_and_shown_to_clients(staff, portal: Portal, settings) -> None:  # type: ignore[no-untyped-def]
    _, client = staff
    metadata = PngImagePlugin.PngInfo()
    metadata.add_text("Comment", "<script>alert(1)</script> secret GPS 51.5,-0.1")
    page = post_logo(client, portal, image_bytes(pnginfo=metadata))
    assert b"Logo saved" in page.content
    portal.refresh_from_db()
    assert portal.logo_key.startswith(f"branding/{portal.slug}/logo-")
    assert not portal.logo_key.startswith(settings.INTAKE_S3_KEY_PREFIX)
    stored = s3.get_object_bytes(key=portal.logo_key)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG"
        assert image.size == (600, 150)  # fits 600x200, proportions kept
        assert "Comment" not in image.info  # metadata did not survive the re-draw
    assert b"secret GPS" not in stored
    assert AuditEntry.objects.filter(action="portal.changed", detail__changed=["logo"]).count() == 1

    token = portal_tokens.token_for(portal.token_nonce)
    html = Client().get(f"/p/{token}/").content.decode()
    start = html.index('class="portal-logo" src="') + len('class="portal-logo" src="')
    url = html[start:html.index('"', start)].replace("&amp;", "&")
    assert requests.get(url, timeout=10).content == stored


def test_replacing_and_removing_delete_the_old_object(staff, portal: Portal) -> None:  # type: ignore[no-untyped-def]
    _, client = staff
    post_logo(client, portal, image_bytes())
    portal.refresh_from_db()
    first = portal.logo_key
    post_logo(client, portal, image_bytes("JPEG", (100, 100)), name="logo.jpg", content_type="image/jpeg")
    portal.refresh_from_db()
    assert portal.logo_key != first
    assert s3.head_object_or_none(key=first) is None
    second = portal.logo_key
    page = client.post(f"/portals/{portal.pk}/logo", {"remove": "1"}, follow=True)
    assert b"Logo removed" in page.content
    portal.refresh_from_db()
    assert portal.logo_key == ""
    assert s3.head_object_or_none(key=second) is None


def test_a_logo_is_written_and_deleted_through_the_app_storage(staff, portal: Portal, settings) -> None:  # type: ignore[no-untyped-def]
    storage = storages["intake"]
    assert isinstance(storage, S3Storage)
    assert (storage.bucket_name, storage.endpoint_url) == (settings.INTAKE_S3_BUCKET, settings.INTAKE_S3_ENDPOINT_URL)
    with mock.patch.object(S3Storage, "_save", autospec=True, side_effect=S3Storage._save) as saved:
        post_logo(staff[1], portal, image_bytes())
    portal.refresh_from_db()
    assert [call.args[1] for call in saved.call_args_list] == [portal.logo_key]
    head = s3.head_object(key=portal.logo_key)  # in the emulator's bucket, under that key
    assert (head.content_type, head.size) == ("image/png", storage.size(portal.logo_key))

    logo = portal.logo_key
    with mock.patch.object(S3Storage, "delete", autospec=True, side_effect=S3Storage.delete) as deleted:
        staff[1].post(f"/portals/{portal.pk}/logo", {"remove": "1"})
    assert [call.args[1] for call in deleted.call_args_list] == [logo]
    assert not storage.exists(logo)


def test_a_storage_outage_keeps_the_old_logo_and_says_so(staff, portal: Portal, settings) -> None:  # type: ignore[no-untyped-def]
    post_logo(staff[1], portal, image_bytes())
    portal.refresh_from_db()
    before = portal.logo_key
    point_app_storage(settings, endpoint_url="http://127.0.0.1:9")  # nothing listens there
    page = post_logo(staff[1], portal, image_bytes("JPEG", (100, 100)), name="logo.jpg", content_type="image/jpeg")
    assert b"not reachable right now" in page.content
    portal.refresh_from_db()
    assert portal.logo_key == before


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg", b"could not be read as an image"),
        (b"<html><script>alert(1)</script></html>", "logo.png", b"could not be read as an image"),
        (image_bytes("BMP", (10, 10)), "logo.bmp", b"must be a PNG, JPEG, WebP or GIF"),
        (image_bytes("PNG", (5000, 4000)), "huge.png", b"at most 4096 by 4096 pixels"),
        (image_bytes("PNG")[:200], "cut.png", b"could not be read as an image"),
    ],
)
def test_what_is_not_a_plain_image_is_refused(staff, portal: Portal, data: bytes, name: str, message: bytes) -> None:  # type: ignore[no-untyped-def]
    _, client = staff
    page = post_logo(client, portal, data, name=name)
    assert message in page.content
    portal.refresh_from_db()
    assert portal.logo_key == ""
    assert list(s3.list_objects(prefix="branding/")) == []


def test_a_file_over_the_size_limit_is_refused_unread(staff, portal: Portal, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PORTAL_LOGO_MAX_BYTES = 2048
    page = post_logo(staff[1], portal, image_bytes("PNG", (400, 400)) + b"\0" * 4096)
    assert b"at most 2 KB" in page.content
    portal.refresh_from_db()
    assert portal.logo_key == ""


def test_viewers_cannot_change_a_logo(staff, portal: Portal) -> None:  # type: ignore[no-untyped-def]
    viewer = User.objects.create_user(username="vic")
    user_set_role(user=viewer, role=Role.VIEWER, source="test")
    client = Client()
    client.force_login(viewer)
    response = client.post(f"/portals/{portal.pk}/logo", {"logo": SimpleUploadedFile("l.png", image_bytes())})
    assert response.status_code == 403
    portal.refresh_from_db()
    assert portal.logo_key == ""
