"""Deleting a file (uploader.uploads.deletion) against the S3 emulator: the object and
its derived files leave the bucket, the row becomes deleted with one audit entry, a
repeat changes nothing, and an S3 outage leaves the row as it was."""

from __future__ import annotations

import uuid

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from tests.integration.test_processing import send  # noqa: F401  (a fixture)
from tests.support.documents import make_image
from uploader import s3
from uploader.access.accounts import user_set_role
from uploader.access.roles import NotAllowed, Role
from uploader.audit.models import AuditEntry
from uploader.processing.models import Derivative
from uploader.uploads import deletion
from uploader.uploads.errors import StorageUnavailable, WrongState
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("generous_rates")]


def person(role: Role) -> User:
    user = User.objects.create_user(username=f"{role.value}-{uuid.uuid4().hex[:6]}", password="x" * 20)
    user_set_role(user=user, role=role, source="test")
    return User.objects.get(pk=user.pk)


def stored_staff_upload(
    user: User, body: bytes = b"hello", filename: str = "plan.txt", type_: str = "text/plain"
) -> Upload:
    client = Client()
    client.force_login(user)
    created = client.get("/api/s3/params", {"filename": filename, "type": type_, "size": len(body)}).json()
    requests.put(created["url"], data=body, headers=created["headers"], timeout=10).raise_for_status()
    assert client.post(f"/api/s3/complete?key={created['key']}").status_code == 200
    return Upload.objects.get(pk=created["id"])


def test_an_admin_deletes_the_object_and_the_row_says_deleted(
    s3_bucket: str, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    with django_capture_on_commit_callbacks(execute=True):
        deleted, changed = deletion.upload_delete(actor=admin, upload=upload, reason="  sent   by mistake ")
    assert changed
    assert deleted.state == UploadState.DELETED
    assert Upload.objects.get(pk=upload.pk).state == UploadState.DELETED
    assert s3.head_object_or_none(key=upload.key) is None
    [entry] = AuditEntry.objects.filter(upload=upload, action=deletion.DELETED_ACTION)
    assert entry.actor_id == admin.pk
    assert entry.detail == {"reason": "sent by mistake", "key": upload.key}


def test_deleting_again_changes_nothing(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    deletion.upload_delete(actor=admin, upload=upload)
    again, changed = deletion.upload_delete(actor=admin, upload=Upload.objects.get(pk=upload.pk))
    assert not changed
    assert again.state == UploadState.DELETED
    assert AuditEntry.objects.filter(upload=upload, action=deletion.DELETED_ACTION).count() == 1


@pytest.mark.parametrize("role", [Role.STAFF, Role.VIEWER])
def test_only_admins_may_delete(role: Role, s3_bucket: str) -> None:
    upload = stored_staff_upload(person(Role.ADMIN))
    with pytest.raises(NotAllowed):
        deletion.upload_delete(actor=person(role), upload=upload)
    assert Upload.objects.get(pk=upload.pk).state == UploadState.STORED
    assert s3.head_object_or_none(key=upload.key) is not None


def test_a_storage_outage_leaves_the_file_as_it_was(s3_bucket: str, settings) -> None:  # type: ignore[no-untyped-def]
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    endpoint = settings.INTAKE_S3_ENDPOINT_URL
    settings.INTAKE_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.INTAKE_S3_MAX_ATTEMPTS = 1
    s3.reset_clients()
    try:
        with pytest.raises(StorageUnavailable) as raised:
            deletion.upload_delete(actor=admin, upload=upload)
    finally:
        settings.INTAKE_S3_ENDPOINT_URL = endpoint
        s3.reset_clients()
    assert raised.value.status == 503
    assert Upload.objects.get(pk=upload.pk).state == UploadState.STORED
    assert s3.head_object_or_none(key=upload.key) is not None
    assert not AuditEntry.objects.filter(upload=upload, action=deletion.DELETED_ACTION).exists()


def test_a_rejected_file_has_nothing_to_delete(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    Upload.objects.filter(pk=upload.pk).update(state=UploadState.REJECTED)
    with pytest.raises(WrongState):
        deletion.upload_delete(actor=admin, upload=Upload.objects.get(pk=upload.pk))


def test_a_legal_hold_would_refuse(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    monkeypatch.setattr(deletion, "deletion_blocked_reason", lambda upload: "it is under a legal hold")
    with pytest.raises(deletion.DeletionBlocked, match="legal hold"):
        deletion.upload_delete(actor=admin, upload=upload)
    assert s3.head_object_or_none(key=upload.key) is not None


def test_the_derived_files_go_too(make_portal, send, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((300, 300), fmt="PNG"), filename="a.png", type_="image/png")
    [derivative] = Derivative.objects.filter(upload=upload)
    with django_capture_on_commit_callbacks(execute=True):
        deletion.upload_delete(actor=person(Role.ADMIN), upload=upload)
    assert not Derivative.objects.filter(upload=upload).exists()
    assert s3.head_object_or_none(key=derivative.key) is None
    assert s3.head_object_or_none(key=upload.key) is None


def test_the_page_says_so_when_storage_is_down_and_keeps_the_file(s3_bucket: str, settings) -> None:  # type: ignore[no-untyped-def]
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    client = Client()
    client.force_login(admin)
    endpoint = settings.INTAKE_S3_ENDPOINT_URL
    settings.INTAKE_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    settings.INTAKE_S3_MAX_ATTEMPTS = 1
    s3.reset_clients()
    try:
        answer = client.post(f"/uploads/{upload.pk}/delete", {"confirmed": "yes"})
    finally:
        settings.INTAKE_S3_ENDPOINT_URL = endpoint
        s3.reset_clients()
    assert answer.status_code == 503
    assert "File storage is not reachable right now" in answer.content.decode()
    assert Upload.objects.get(pk=upload.pk).state == UploadState.STORED


def test_a_get_or_an_unconfirmed_post_only_asks(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    client = Client()
    client.force_login(admin)
    for answer in (client.get(f"/uploads/{upload.pk}/delete"), client.post(f"/uploads/{upload.pk}/delete")):
        assert answer.status_code == 200
        assert "This cannot be undone." in answer.content.decode()
    assert Upload.objects.get(pk=upload.pk).state == UploadState.STORED
