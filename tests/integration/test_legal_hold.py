"""Legal holds (uploader.retention.holds) against the S3 emulator: placed and lifted on
one file and on all of a portal's files, audited, admins only; a held file is never
deleted by staff (service or page); with Object Lock the object's own legal hold is
ON while held (read back from the emulator), S3 itself refuses to delete the held
version, and deleting after the lift removes every version."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from base64 import b64encode

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from tests.integration.test_upload_deletion import person, stored_staff_upload
from uploader import s3
from uploader.access.roles import NotAllowed, Role
from uploader.audit.models import AuditEntry
from uploader.portals.models import Portal
from uploader.portals.services import portal_create, portal_update
from uploader.retention import holds, policy
from uploader.retention.selectors import portal_keeping
from uploader.uploads import deletion, rollup
from uploader.uploads.errors import WrongState
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("generous_rates")]


@pytest.fixture
def locked_bucket(settings, request: pytest.FixtureRequest) -> str:  # type: ignore[no-untyped-def]
    """A fresh bucket made with S3 Object Lock (so versioned), the app told so."""
    settings.INTAKE_S3_OBJECT_LOCK = True
    return str(request.getfixturevalue("s3_bucket"))


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_places_and_lifts_a_hold_and_both_are_audited(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    held, changed = holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=True, reason="  case  1234 ")
    assert changed
    assert held.legal_hold
    row = Upload.objects.get(pk=upload.pk)
    assert row.legal_hold
    assert row.legal_hold_by_id == admin.pk
    assert row.legal_hold_reason == "case 1234"
    assert row.legal_hold_at is not None
    again, changed = holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=True)
    assert not changed
    assert again.legal_hold_reason == "case 1234"
    [placed] = AuditEntry.objects.filter(upload=upload, action=holds.PLACED_ACTION)
    assert placed.actor_id == admin.pk
    assert placed.detail["reason"] == "case 1234"

    _, changed = holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=False, reason="case closed")
    assert changed
    row = Upload.objects.get(pk=upload.pk)
    assert not row.legal_hold
    assert row.legal_hold_at is None
    assert row.legal_hold_reason == ""
    [lifted] = AuditEntry.objects.filter(upload=upload, action=holds.LIFTED_ACTION)
    assert lifted.detail["reason"] == "case closed"
    assert not holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=False)[1]


@pytest.mark.parametrize("role", [Role.STAFF, Role.VIEWER])
def test_only_admins_hold_or_lift(role: Role, s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    for hold in (True, False):
        with pytest.raises(NotAllowed):
            holds.upload_set_hold(actor=person(role), upload_id=upload.pk, hold=hold)
    assert not Upload.objects.get(pk=upload.pk).legal_hold


def test_a_file_that_is_not_stored_cannot_be_held(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    deletion.upload_delete(actor=admin, upload=upload)
    with pytest.raises(WrongState):
        holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=True)


def test_staff_delete_is_refused_while_held_and_works_after_the_lift(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=True, reason="litigation")
    with pytest.raises(deletion.DeletionBlocked, match="legal hold"):
        deletion.upload_delete(actor=admin, upload=upload)
    # The confirmation page answers with the refusal (409, never a 500) and the file stays.
    client = signed_in(admin)
    answer = client.post(f"/uploads/{upload.pk}/delete", {"confirmed": "yes"})
    assert answer.status_code == 409
    assert "legal hold" in answer.content.decode()
    assert Upload.objects.get(pk=upload.pk).state == UploadState.STORED
    assert s3.head_object_or_none(key=upload.key) is not None
    assert not AuditEntry.objects.filter(upload=upload, action=deletion.DELETED_ACTION).exists()

    holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=False)
    _, changed = deletion.upload_delete(actor=admin, upload=upload)
    assert changed
    assert s3.head_object_or_none(key=upload.key) is None


def test_the_file_page_holds_and_lifts_through_the_confirmation(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    client = signed_in(admin)
    page = client.get(f"/uploads/{upload.pk}/").content.decode()
    assert f"/uploads/{upload.pk}/hold" in page
    ask = client.get(f"/uploads/{upload.pk}/hold")
    assert ask.status_code == 200
    assert "Place the hold" in ask.content.decode()
    assert not Upload.objects.get(pk=upload.pk).legal_hold  # asking changes nothing
    done = client.post(f"/uploads/{upload.pk}/hold", {"confirmed": "yes", "reason": "audit 2026"}, follow=True)
    assert "The file is on legal hold." in done.content.decode()
    assert "On legal hold since" in done.content.decode()
    assert "audit 2026" in done.content.decode()
    assert Upload.objects.get(pk=upload.pk).legal_hold
    done = client.post(f"/uploads/{upload.pk}/lift-hold", {"confirmed": "yes"}, follow=True)
    assert "The legal hold is lifted." in done.content.decode()
    assert not Upload.objects.get(pk=upload.pk).legal_hold


def portal_files(count: int) -> tuple[Portal, list[Upload]]:
    """A portal with `count` stored files (rows made as the portal's, objects in S3)."""
    admin = person(Role.ADMIN)
    portal = portal_create(actor=None, name=f"Holds {uuid.uuid4().hex[:6]}", title="Send us files")
    files = []
    for number in range(count):
        upload = stored_staff_upload(admin, filename=f"f{number}.txt")
        # Moved behind the services' back, so moved in the kept totals too.
        before = rollup.facts_of(Upload.objects.get(pk=upload.pk))
        Upload.objects.filter(pk=upload.pk).update(portal=portal)
        files.append(Upload.objects.get(pk=upload.pk))
        rollup.rollup_apply(before=[before], after=[rollup.facts_of(files[-1])])
    return portal, files


def test_a_portal_wide_hold_reaches_every_stored_file_in_batches(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    # 5 files in batches of 2: three task runs, each enqueuing the next.
    defaults = dict(holds.portal_holds_apply.__kwdefaults__ or {})
    monkeypatch.setattr(holds.portal_holds_apply, "__kwdefaults__", {**defaults, "batch": 2})
    portal, _ = portal_files(5)
    admin = person(Role.ADMIN)
    client = signed_in(admin)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/portals/{portal.pk}/hold", {"confirmed": "yes", "reason": "subpoena"}, follow=True)
    assert "Placing a legal hold on 5 files" in answer.content.decode()
    assert Upload.objects.filter(portal=portal, legal_hold=True).count() == 5
    assert AuditEntry.objects.filter(action=holds.PLACED_ACTION, upload__portal=portal).count() == 5
    [request_entry] = AuditEntry.objects.filter(action=holds.PORTAL_PLACED_ACTION)
    assert request_entry.detail["files"] == 5
    assert request_entry.actor_id == admin.pk
    keeping = portal_keeping(portal)
    assert (keeping.held, keeping.stored) == (5, 5)
    assert "5 of 5 stored files on legal hold" in client.get(f"/portals/{portal.pk}/").content.decode()

    # Again: nothing left to change, no new entries.
    with django_capture_on_commit_callbacks(execute=True):
        assert holds.portal_set_hold(actor=admin, portal=portal, hold=True) == 0
    assert AuditEntry.objects.filter(action=holds.PLACED_ACTION, upload__portal=portal).count() == 5

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/portals/{portal.pk}/lift-hold", {"confirmed": "yes"})
    assert not Upload.objects.filter(portal=portal, legal_hold=True).exists()
    assert AuditEntry.objects.filter(action=holds.LIFTED_ACTION, upload__portal=portal).count() == 5


def test_with_object_lock_the_object_itself_is_held(locked_bucket: str) -> None:
    admin = person(Role.ADMIN)
    upload = stored_staff_upload(admin)
    assert s3.get_object_legal_hold(key=upload.key) is False
    holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=True, reason="case")
    assert s3.get_object_legal_hold(key=upload.key) is True
    # S3 itself refuses to delete the held version, whoever asks.
    client = s3.boto3_client()
    [version] = client.list_object_versions(Bucket=locked_bucket, Prefix=upload.key)["Versions"]
    with pytest.raises(s3.StorageRefused):
        s3.delete_object_versions(key=upload.key)
    assert client.head_object(Bucket=locked_bucket, Key=upload.key, VersionId=version["VersionId"])

    holds.upload_set_hold(actor=admin, upload_id=upload.pk, hold=False)
    assert s3.get_object_legal_hold(key=upload.key) is False
    _, changed = deletion.upload_delete(actor=admin, upload=Upload.objects.get(pk=upload.pk))
    assert changed
    listed = client.list_object_versions(Bucket=locked_bucket, Prefix=upload.key)
    assert not listed.get("Versions")
    assert not listed.get("DeleteMarkers")  # gone for good, not hidden


def test_an_upload_with_content_md5_works_in_an_object_lock_bucket(locked_bucket: str) -> None:
    """Every single-upload URL signs the browser's Content-MD5, which Object Lock needs."""
    body = b"locked bucket body"
    md5 = b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 (S3's checksum)
    client = signed_in(person(Role.ADMIN))
    created = client.get(
        "/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": len(body), "metadata[md5]": md5}
    ).json()
    assert created["headers"].get("content-md5") == md5
    requests.put(created["url"], data=body, headers=created["headers"], timeout=10).raise_for_status()
    assert client.post(f"/api/s3/complete?key={created['key']}").status_code == 200
    assert Upload.objects.get(pk=created["id"]).state == UploadState.STORED


def test_with_object_lock_retention_keeps_a_held_file_and_deletes_the_rest_for_good(locked_bucket: str) -> None:
    admin = person(Role.ADMIN)
    portal, (held, due) = portal_files(2)
    portal_update(actor=admin, portal=portal, retention_days=7)
    Upload.objects.filter(portal=portal).update(stored_at=timezone.now() - dt.timedelta(days=8))
    holds.upload_set_hold(actor=admin, upload_id=held.pk, hold=True, reason="case")
    run = policy.retention_apply(limit=10)
    assert (run.deleted, run.skipped) == (1, 0)
    assert Upload.objects.get(pk=held.pk).state == UploadState.STORED
    assert s3.get_object_legal_hold(key=held.key) is True
    assert Upload.objects.get(pk=due.pk).state == UploadState.DELETED
    listed = s3.boto3_client().list_object_versions(Bucket=locked_bucket, Prefix=due.key)
    assert not listed.get("Versions")
    assert not listed.get("DeleteMarkers")
