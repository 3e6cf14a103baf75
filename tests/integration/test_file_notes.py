"""A file's note and tags (uploader.uploads.file_notes) and the file list's tag
filter, over HTTP and through the services: who may, what is audited."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.integration.test_upload_deletion import person, stored_staff_upload
from tests.support.documents import make_image
from uploader.access.roles import NotAllowed, Role
from uploader.audit.models import AuditEntry
from uploader.processing.models import Derivative
from uploader.uploads import file_notes
from uploader.uploads.errors import InvalidInput
from uploader.uploads.models import Upload, UploadTag

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def client_of(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_staff_write_a_note_and_it_is_audited(s3_bucket: str) -> None:
    staff = person(Role.STAFF)
    upload = stored_staff_upload(staff)
    page = client_of(staff).post(
        f"/uploads/{upload.pk}/note", {"note": "  Sent twice; keep this one.\r\n"}, follow=True
    )
    assert page.status_code == 200
    assert Upload.objects.get(pk=upload.pk).note == "Sent twice; keep this one."
    assert "Sent twice; keep this one." in page.content.decode()
    [entry] = AuditEntry.objects.filter(upload=upload, action="upload.note_changed")
    assert entry.detail == {"old": "", "new": "Sent twice; keep this one."}
    assert entry.actor_id == staff.pk
    # The same note again changes nothing and records nothing.
    assert not file_notes.upload_set_note(actor=staff, upload=upload, note="Sent twice; keep this one.")
    assert AuditEntry.objects.filter(upload=upload, action="upload.note_changed").count() == 1


def test_a_note_too_long_is_refused_with_a_message(s3_bucket: str) -> None:
    staff = person(Role.STAFF)
    upload = stored_staff_upload(staff)
    page = client_of(staff).post(f"/uploads/{upload.pk}/note", {"note": "x" * 2001}, follow=True)
    assert page.status_code == 200
    assert "at most 2,000 characters" in page.content.decode()
    assert Upload.objects.get(pk=upload.pk).note == ""


def test_tags_are_added_normalized_removed_and_audited(s3_bucket: str) -> None:
    staff = person(Role.STAFF)
    upload = stored_staff_upload(staff)
    client = client_of(staff)
    client.post(f"/uploads/{upload.pk}/tags", {"tag": "  Tax 2025 "})
    client.post(f"/uploads/{upload.pk}/tags", {"tag": "tax-2025"})  # the same tag
    client.post(f"/uploads/{upload.pk}/tags", {"tag": "invoice"})
    assert list(UploadTag.objects.filter(upload=upload).values_list("name", flat=True)) == ["invoice", "tax-2025"]
    client.post(f"/uploads/{upload.pk}/tags", {"remove": "invoice"})
    assert list(UploadTag.objects.filter(upload=upload).values_list("name", flat=True)) == ["tax-2025"]
    actions = list(
        AuditEntry.objects.filter(upload=upload, action__startswith="upload.tag_")
        .order_by("id")
        .values_list("action", "detail")
    )
    assert actions == [
        ("upload.tag_added", {"tag": "tax-2025"}),
        ("upload.tag_added", {"tag": "invoice"}),
        ("upload.tag_removed", {"tag": "invoice"}),
    ]
    with pytest.raises(InvalidInput):
        file_notes.upload_add_tag(actor=staff, upload=upload, tag=" -- ")


def test_the_file_list_filters_by_tag(s3_bucket: str) -> None:
    staff = person(Role.STAFF)
    tagged = stored_staff_upload(staff, filename="tagged.txt")
    stored_staff_upload(staff, filename="untagged.txt")
    file_notes.upload_add_tag(actor=staff, upload=tagged, tag="invoice")
    html = client_of(person(Role.VIEWER)).get("/uploads/", {"tag": "invoice"}).content.decode()
    assert "tagged.txt" in html
    assert "untagged.txt" not in html
    assert '<option value="invoice" selected>invoice</option>' in html
    assert "1 file, 5 bytes" in html


@pytest.mark.parametrize("role", [Role.VIEWER])
def test_viewers_may_not_annotate(role: Role, s3_bucket: str) -> None:
    upload = stored_staff_upload(person(Role.STAFF))
    viewer = person(role)
    assert client_of(viewer).post(f"/uploads/{upload.pk}/note", {"note": "hi"}).status_code == 403
    assert client_of(viewer).post(f"/uploads/{upload.pk}/tags", {"tag": "hi"}).status_code == 403
    with pytest.raises(NotAllowed):
        file_notes.upload_add_tag(actor=viewer, upload=upload, tag="hi")
    page = client_of(viewer).get(f"/uploads/{upload.pk}/").content.decode()
    assert 'name="note"' not in page


def test_staff_uploads_get_thumbnails(s3_bucket: str, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    staff = person(Role.STAFF)
    with django_capture_on_commit_callbacks(execute=True):
        upload = stored_staff_upload(
            staff, body=make_image((300, 200), fmt="PNG"), filename="photo.png", type_="image/png"
        )
    [derivative] = Derivative.objects.filter(upload=upload)
    assert derivative.kind == "thumbnail"
    html = client_of(staff).get(f"/uploads/{upload.pk}/").content.decode()
    assert "browse-thumbnail" in html


def test_staff_processing_can_be_turned_off(s3_bucket: str, settings, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_STAFF_PROCESSING = []
    with django_capture_on_commit_callbacks(execute=True):
        upload = stored_staff_upload(
            person(Role.STAFF), body=make_image((300, 200), fmt="PNG"), filename="photo.png", type_="image/png"
        )
    assert not Derivative.objects.filter(upload=upload).exists()
