"""'Download all' as one zip, made by the worker from S3 to S3 (uploader.bundles),
against the S3 emulator: real multipart uploads, real reads, the zip opened again."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile

import pytest
import requests
from django.contrib.auth.models import User
from django.utils import timezone

from tests.support.people import person, person_and_client
from uploader import s3
from uploader.access.principals import signed_in_principal
from uploader.access.roles import NotAllowed, Role
from uploader.audit.models import AuditEntry
from uploader.bundles import build, services
from uploader.bundles.models import Bundle, BundleState
from uploader.bundles.tasks import build_bundle
from uploader.portals.models import Portal
from uploader.portals.services import portal_create
from uploader.requests.services import ItemSpec, request_create
from uploader.uploads import rollup
from uploader.uploads.models import ScanState, Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def small_parts(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_BUNDLE_PART_BYTES = 5 * MiB  # S3's smallest, so a few MiB span parts
    settings.INTAKE_BUNDLE_CHUNK_BYTES = 256 * 1024


def stored_file(owner: User, name: str, body: bytes, *, scan: str = ScanState.NOT_SCANNED, **where: object) -> Upload:
    """An object in the bucket and its stored row (made directly: the upload contract
    has its own tests)."""
    key = f"uploads/test/{uuid.uuid4().hex}"
    etag = s3.put_object_bytes(key=key, body=body).etag
    upload = Upload.objects.create(
        owner=owner,
        original_filename=name,
        key=key,
        declared_size=len(body),
        declared_content_type="application/octet-stream",
        state=UploadState.STORED,
        stored_size=len(body),
        etag=etag,
        scan_state=scan,
        stored_at=timezone.now(),
        **where,
    )
    # Made behind the services' back, so counted in the kept totals here (pages read them).
    rollup.rollup_apply(before=[], after=[rollup.facts_of(upload)])
    return upload


def _zip_of(bundle: Bundle) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(s3.get_object_bytes(key=bundle.key)))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _portal() -> Portal:
    return portal_create(actor=None, name=f"Acme {uuid.uuid4().hex[:6]}", title="Send us files")


def _open_uploads() -> list[s3.OpenMultipartUpload]:
    return list(s3.list_open_multipart_uploads(prefix="bundles/"))


def test_a_portal_zip_holds_every_usable_file_byte_for_byte(s3_bucket: str, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    admin = person(Role.ADMIN)
    portal = _portal()
    big = bytes(range(256)) * (13 * MiB // 256) + b"tail"  # spans three 5 MiB parts
    sources = {
        "a.pdf": b"first a",
        "A.pdf": b"second a, another case",
        "a (2).pdf": b"a name that looks like a repeat",
        "Résumé · 2025 ✓.txt": "ünïcode body".encode(),
        "../../etc/passwd": b"not a path",
        "big.bin": big,
    }
    for name, body in sources.items():
        stored_file(admin, name, body, portal=portal)
    stored_file(admin, "held.pdf", b"waiting for the scanner", scan=ScanState.PENDING, portal=portal)

    with django_capture_on_commit_callbacks(execute=True):
        bundle = services.bundle_for_portal(principal=signed_in_principal(admin), portal=portal)
    bundle.refresh_from_db()

    assert bundle.state == BundleState.READY, bundle.error
    assert (bundle.files_done, bundle.files_total, bundle.left_out) == (6, 6, 1)
    assert bundle.bytes_done == sum(map(len, sources.values()))
    with _zip_of(bundle) as archive:
        assert archive.testzip() is None
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    assert sorted(members) == sorted(
        ["a.pdf", "A (2).pdf", "a (2) (2).pdf", "Résumé · 2025 ✓.txt", "-..-etc-passwd", "big.bin"]
    )
    assert all(not name.startswith(("/", ".")) and ".." not in name.split("/") for name in members)
    assert sorted(map(_sha, members.values())) == sorted(map(_sha, sources.values()))
    assert members["big.bin"] == big
    assert "held.pdf" not in members
    assert bundle.size == s3.head_object(key=bundle.key).size
    assert _open_uploads() == []
    assert AuditEntry.objects.filter(action="bundle.requested", detail__bundle=str(bundle.pk)).count() == 1


@pytest.mark.parametrize(
    ("read_ahead", "in_flight"),
    [(0, 1), (256 * 1024, 1), (4 * 256 * 1024, 3)],
    ids=["read in line, one part in flight", "one chunk ahead", "four chunks ahead, three parts in flight"],
)
def test_reading_ahead_and_parts_in_flight_make_the_same_zip(s3_bucket: str, settings, read_ahead: int, in_flight: int) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_BUNDLE_READ_AHEAD_BYTES = read_ahead
    settings.INTAKE_BUNDLE_PARTS_IN_FLIGHT = in_flight
    admin = person(Role.ADMIN)
    portal = _portal()
    # Sizes that end mid-chunk and mid-part, an empty file, and more parts than are in flight.
    sources = {f"{n}.bin": bytes([n]) * size for n, size in enumerate([3 * MiB + 17, 0, 7 * MiB + 1, 1, 9 * MiB])}
    for name, body in sources.items():
        stored_file(admin, name, body, portal=portal)
    bundle = services.bundle_for_portal(principal=signed_in_principal(admin), portal=portal)
    assert build_bundle.apply(args=[str(bundle.pk)]).get() == BundleState.READY
    bundle.refresh_from_db()
    assert (bundle.files_done, bundle.bytes_done) == (5, sum(map(len, sources.values())))
    with _zip_of(bundle) as archive:
        assert archive.testzip() is None
        assert {info.filename: archive.read(info) for info in archive.infolist()} == sources
    assert bundle.size == s3.head_object(key=bundle.key).size
    assert _open_uploads() == []

def test_a_request_zip_has_a_folder_per_item(s3_bucket: str, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    admin = person(Role.ADMIN)
    document_request = request_create(
        actor=None,
        client_name="Ann",
        client_emails=["ann@example.test"],
        items=[ItemSpec("P60 / 2025"), ItemSpec("Photo ID")],
    )
    first, second = document_request.items.order_by("pk")
    stored_file(admin, "scan.pdf", b"p60", request_item=first)
    stored_file(admin, "scan.pdf", b"passport", request_item=second)
    stored_file(admin, "scan.pdf", b"driving licence", request_item=second)
    with django_capture_on_commit_callbacks(execute=True):
        bundle = services.bundle_for_request(principal=signed_in_principal(admin), document_request=document_request)
    bundle.refresh_from_db()
    assert bundle.state == BundleState.READY, bundle.error
    with _zip_of(bundle) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    assert members == {
        "P60 - 2025/scan.pdf": b"p60",
        "Photo ID/scan.pdf": b"passport",
        "Photo ID/scan (2).pdf": b"driving licence",
    }


def test_a_file_gone_before_the_worker_reads_it_fails_the_bundle_and_aborts_the_upload(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    portal = _portal()
    stored_file(admin, "first.bin", b"x" * (6 * MiB), portal=portal)  # one part is sent before the failure
    gone = stored_file(admin, "gone.pdf", b"deleted behind our back", portal=portal)
    bundle = services.bundle_for_portal(
        principal=signed_in_principal(admin), portal=portal
    )  # not built yet (no commit)
    s3.delete_object(key=gone.key)

    assert build_bundle.apply(args=[str(bundle.pk)]).get() == BundleState.FAILED
    bundle.refresh_from_db()
    assert bundle.state == BundleState.FAILED
    assert "gone.pdf" in bundle.error
    assert "no longer in storage" in bundle.error
    assert bundle.multipart_upload_id == ""
    assert _open_uploads() == []
    assert s3.head_object_or_none(key=bundle.key) is None


def test_running_the_task_again_does_not_rebuild(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    portal = _portal()
    stored_file(admin, "one.txt", b"one", portal=portal)
    bundle = services.bundle_for_portal(principal=signed_in_principal(admin), portal=portal)
    assert build_bundle.apply(args=[str(bundle.pk)]).get() == BundleState.READY
    first = Bundle.objects.get(pk=bundle.pk)
    etag = s3.head_object(key=first.key).etag
    assert build_bundle.apply(args=[str(bundle.pk)]).get() == "unchanged"
    again = Bundle.objects.get(pk=bundle.pk)
    assert (again.finished_at, s3.head_object(key=again.key).etag) == (first.finished_at, etag)


def test_a_retry_after_a_crash_aborts_the_old_upload_and_starts_over(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    portal = _portal()
    stored_file(admin, "one.txt", b"one", portal=portal)
    bundle = services.bundle_for_portal(principal=signed_in_principal(admin), portal=portal)
    # A worker died mid-build: the row says building, its multipart upload is open.
    key = build.bundle_key(bundle)
    crashed = s3.MultipartWriter(key=key, part_size=5 * MiB)
    Bundle.objects.filter(pk=bundle.pk).update(state=BundleState.BUILDING, key=key, multipart_upload_id=crashed.start())
    assert [u.upload_id for u in _open_uploads()] == [crashed.upload_id]

    assert build_bundle.apply(args=[str(bundle.pk)]).get() == BundleState.READY
    assert _open_uploads() == []
    bundle.refresh_from_db()
    with _zip_of(bundle) as archive:
        assert archive.read("one.txt") == b"one"


def test_the_download_link_is_signed_and_audited_with_the_file_ids(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    portal = _portal()
    files = [stored_file(admin, f"{n}.txt", f"body {n}".encode(), portal=portal) for n in range(2)]
    bundle = services.bundle_for_portal(principal=signed_in_principal(admin), portal=portal)
    build_bundle.apply(args=[str(bundle.pk)])
    bundle.refresh_from_db()
    url = services.bundle_download_url(principal=signed_in_principal(admin), bundle=bundle)
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert sorted(archive.namelist()) == ["0.txt", "1.txt"]
    [entry] = AuditEntry.objects.filter(action="bundle.downloaded")
    assert sorted(entry.detail["files"]) == sorted(str(f.pk) for f in files)
    with pytest.raises(NotAllowed):
        services.bundle_download_url(principal=signed_in_principal(person(None)), bundle=bundle)


def test_expired_bundles_are_deleted_with_their_zip(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    portal = _portal()
    stored_file(admin, "one.txt", b"one", portal=portal)
    bundle = services.bundle_for_portal(principal=signed_in_principal(admin), portal=portal)
    build_bundle.apply(args=[str(bundle.pk)])
    bundle.refresh_from_db()
    assert build.bundles_expire() == 0
    Bundle.objects.filter(pk=bundle.pk).update(expires_at=timezone.now())
    assert build.bundles_expire() == 1
    assert not Bundle.objects.filter(pk=bundle.pk).exists()
    assert s3.head_object_or_none(key=bundle.key) is None


def test_staff_ask_watch_and_download_from_the_portal_page(s3_bucket: str, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    user, client = person_and_client(Role.STAFF)
    portal = _portal()
    stored_file(user, "one.txt", b"one", portal=portal)
    stored_file(user, "held.txt", b"held", portal=portal, scan=ScanState.INFECTED)
    assert f"/portals/{portal.pk}/bundle" in client.get(f"/portals/{portal.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(f"/portals/{portal.pk}/bundle")
    assert asked.status_code == 302
    page = client.get(asked["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ready" in html
    assert "1 file left out" in html
    bundle = Bundle.objects.get()
    status = client.get(f"/bundles/{bundle.pk}/status")
    assert status.status_code == 200
    assert "hx-trigger" not in status.content.decode()
    download = client.post(f"/bundles/{bundle.pk}/download")
    assert download.status_code == 302
    assert requests.get(download["Location"], timeout=10).status_code == 200


def test_asking_again_for_the_same_files_shows_the_same_zip(s3_bucket: str) -> None:
    admin = person(Role.ADMIN)
    portal = _portal()
    stored_file(admin, "one.txt", b"one", portal=portal)
    principal = signed_in_principal(admin)
    first = services.bundle_for_portal(principal=principal, portal=portal)
    assert services.bundle_for_portal(principal=principal, portal=portal).pk == first.pk
    # A new file makes a new zip.
    stored_file(admin, "two.txt", b"two", portal=portal)
    second = services.bundle_for_portal(principal=principal, portal=portal)
    assert second.pk != first.pk
    # A failed zip is not shown again.
    Bundle.objects.filter(pk=second.pk).update(state=BundleState.FAILED)
    assert services.bundle_for_portal(principal=principal, portal=portal).pk not in {first.pk, second.pk}
    assert AuditEntry.objects.filter(action="bundle.requested", detail__reused=True).count() == 1


def test_a_portal_without_usable_files_gets_a_clear_answer(s3_bucket: str) -> None:
    user, client = person_and_client(Role.STAFF)
    portal = _portal()
    stored_file(user, "held.txt", b"held", portal=portal, scan=ScanState.PENDING)
    answer = client.post(f"/portals/{portal.pk}/bundle", follow=True)
    assert answer.status_code == 200
    assert "no files to put in a zip" in answer.content.decode()
    assert not Bundle.objects.exists()
