"""Processing of portal uploads against the S3 emulator over HTTP: a client uploads
through a portal, the stored upload enqueues `process_upload` on commit (Celery is
eager in tests), and the derived files land in the bucket outside the uploads prefix."""

from __future__ import annotations

import datetime as dt
import io
import re
from html import unescape
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from PIL import Image
from storages.backends.s3 import S3Storage

from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.support.app_storage import point_app_storage
from tests.support.documents import encrypt_pdf, make_image, make_pdf, png_claiming
from tests.unit.test_cloudfront import DOMAIN, verify
from uploader import s3
from uploader.audit.models import AuditEntry
from uploader.ingest import reconcile
from uploader.portals.models import Portal
from uploader.portals.services import portal_update
from uploader.processing import services as processing
from uploader.processing import tasks as processing_tasks
from uploader.processing.models import Derivative
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("generous_rates")]


@pytest.fixture
def send(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Upload one file through the portal with on-commit callbacks run (the task)."""

    def send_file(token: str, body: bytes, *, filename: str, type_: str) -> Upload:
        client = visitor_client()
        enter(client, token)
        with django_capture_on_commit_callbacks(execute=True):
            done = upload_file(client, token, body, filename=filename, type_=type_)
        return Upload.objects.get(key=done["key"])

    return send_file


def derived_objects() -> list[str]:
    return [item.key for item in s3.list_objects(prefix="derived/")]


def failures(upload: Upload) -> list[dict]:
    return [entry.detail for entry in AuditEntry.objects.filter(upload=upload, action="upload.processing_failed")]


def test_an_image_gets_a_thumbnail_in_s3_with_its_orientation(make_portal, send, settings, staff_client) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((1200, 600), orientation=6), filename="photo.jpg", type_="image/jpeg")

    derivative = Derivative.objects.get(upload=upload)
    assert derivative.kind == "thumbnail"
    assert derivative.key == f"derived/{upload.pk}/thumbnail.jpg"
    assert not derivative.key.startswith(settings.INTAKE_S3_KEY_PREFIX + "/")
    body = s3.get_object_bytes(key=derivative.key)
    assert len(body) == derivative.size
    assert s3.head_object(key=derivative.key).content_type == "image/jpeg"
    image = Image.open(io.BytesIO(body))
    assert image.size == (200, 400)  # turned upright, within 400x400
    top, bottom = image.convert("RGB").getpixel((100, 40)), image.convert("RGB").getpixel((100, 360))
    assert top[0] > 200
    assert bottom[2] > 200
    [entry] = AuditEntry.objects.filter(upload=upload, action="upload.processed")
    assert entry.detail == {"kind": "thumbnail", "key": derivative.key}
    assert entry.actor_label == "processor"

    page = staff_client.get(f"/portals/{portal.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="thumbnail"' in html
    assert f"derived/{upload.pk}/thumbnail.jpg" in html
    assert "Thumbnails of images" in html


def test_a_pdf_gets_its_text_and_page_count(make_portal, send, staff_client) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(processing=["document_text", "thumbnails"])
    pdf = make_pdf(["Invoice 42 total 99 EUR", "Thank you"], title="Invoice <42>", author="Smith & Co")
    upload = send(token, pdf, filename="invoice.pdf", type_="application/pdf")

    derivative = Derivative.objects.get(upload=upload)  # no thumbnail for a PDF
    assert (derivative.kind, derivative.key) == ("text", f"derived/{upload.pk}/text.txt")
    text = s3.get_object_bytes(key=derivative.key).decode("utf-8")
    assert s3.head_object(key=derivative.key).content_type == "text/plain; charset=utf-8"
    assert "Invoice 42 total 99 EUR" in text
    assert "Thank you" in text
    assert derivative.detail["pages"] == 2
    assert derivative.detail["title"] == "Invoice <42>"
    assert derivative.content_type == "text/plain; charset=utf-8"

    html = staff_client.get(f"/portals/{portal.pk}/").content.decode()
    assert 'class="derived-text"' in html
    assert "(2 pages)" in html
    assert "Invoice <42>" not in html


def test_running_the_task_again_makes_nothing_twice(make_portal, send) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((500, 500), fmt="PNG"), filename="a.png", type_="image/png")
    assert processing_tasks.process_upload(str(upload.pk)) == {"thumbnail": "exists"}
    assert processing_tasks.process_upload(str(upload.pk)) == {"thumbnail": "exists"}
    assert Derivative.objects.filter(upload=upload).count() == 1
    assert AuditEntry.objects.filter(upload=upload, action="upload.processed").count() == 1
    assert derived_objects() == [f"derived/{upload.pk}/thumbnail.jpg"]


def test_a_portal_without_options_makes_nothing(make_portal, send) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal()
    upload = send(token, make_image((500, 500)), filename="a.jpg", type_="image/jpeg")
    assert upload.state == "stored"
    assert not Derivative.objects.exists()
    assert derived_objects() == []
    assert not AuditEntry.objects.filter(action__startswith="upload.process").exists()
    assert processing_tasks.process_upload(str(upload.pk)) == {}


@pytest.mark.parametrize(
    ("body", "filename", "type_", "kind", "reason"),
    [
        (b"\xff\xd8 not really a jpeg", "broken.jpg", "image/jpeg", "thumbnail", "could not be read as an image"),
        (b"%PDF-1.7\n1 0 obj garbage", "broken.pdf", "application/pdf", "text", "could not be read"),
        (b"plain words", "fake.pdf", "application/pdf", "text", "not a PDF"),
        (encrypt_pdf(make_pdf(["secret"]), "pw"), "locked.pdf", "application/pdf", "text", "encrypted"),
        (png_claiming(100_000, 100_000), "bomb.png", "image/png", "thumbnail", "decompression bomb"),
        (png_claiming(9000, 9000), "huge.png", "image/png", "thumbnail", "too large to process (9000x9000"),
        # Over the default limit of 24 million pixels (it was 50 million).
        (png_claiming(5000, 5000), "big.png", "image/png", "thumbnail", "too large to process (5000x5000"),
    ],
)
def test_a_file_that_cannot_be_processed_is_recorded_not_raised(  # type: ignore[no-untyped-def]
    make_portal, send, body, filename, type_, kind, reason
) -> None:
    _, token = make_portal(processing=["thumbnails", "document_text"])
    upload = send(token, body, filename=filename, type_=type_)
    assert upload.state == "stored"
    [failure] = failures(upload)
    assert failure["kind"] == kind
    assert reason in failure["reason"]
    assert not Derivative.objects.exists()
    assert derived_objects() == []
    # Tried again: no exception, no second entry.
    assert processing_tasks.process_upload(str(upload.pk)) == {kind: "failed"}
    assert len(failures(upload)) == 1


def test_a_file_over_the_byte_limit_is_not_read(make_portal, send, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PROCESSING_MAX_BYTES = 2048
    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((300, 300), fmt="PNG") + b"\0" * 4096, filename="big.png", type_="image/png")
    [failure] = failures(upload)
    assert "larger than the 2048 bytes" in failure["reason"]
    assert not Derivative.objects.exists()


def test_an_object_replaced_by_a_larger_one_is_cut_at_the_limit(make_portal, send, settings) -> None:  # type: ignore[no-untyped-def]
    """The recorded size is small but the object now is not: the ranged read stops."""
    settings.INTAKE_PROCESSING_MAX_BYTES = 4096
    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, b"tiny", filename="x.jpg", type_="image/jpeg")  # fails: not an image
    s3.put_object_bytes(key=upload.key, body=make_image((64, 64)) + b"\0" * 8000, content_type="image/jpeg")
    with pytest.raises(processing.CannotProcess, match="larger than the 4096 bytes"):
        processing._read_source(upload, max_bytes=4096)


def test_storage_outage_raises_for_a_retry_and_records_nothing(make_portal, send, settings) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((100, 100)), filename="a.jpg", type_="image/jpeg")
    Derivative.objects.filter(upload=upload).delete()  # as if the first run had not happened
    assert Derivative.objects.count() == 0
    settings.INTAKE_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there
    s3.reset_clients()
    with pytest.raises(s3.StorageUnavailable):
        processing.upload_process(upload_id=upload.pk)
    assert failures(upload) == []


def test_a_thumbnail_is_written_and_removed_through_the_app_storage(make_portal, send, settings) -> None:  # type: ignore[no-untyped-def]
    storage = storages["intake"]
    assert isinstance(storage, S3Storage)
    assert (storage.bucket_name, storage.endpoint_url) == (settings.INTAKE_S3_BUCKET, settings.INTAKE_S3_ENDPOINT_URL)
    assert s3.app_storage() is storage
    _, token = make_portal(processing=["thumbnails"])
    with mock.patch.object(S3Storage, "_save", autospec=True, side_effect=S3Storage._save) as saved:
        upload = send(token, make_image((500, 300)), filename="a.jpg", type_="image/jpeg")
    [derivative] = Derivative.objects.filter(upload=upload)
    assert [call.args[1] for call in saved.call_args_list] == [f"derived/{upload.pk}/thumbnail.jpg"]
    assert storage.exists(derivative.key)
    assert s3.head_object(key=derivative.key).content_type == "image/jpeg"  # in the emulator's bucket
    with storage.open(derivative.key) as stored:
        assert stored.read() == s3.get_object_bytes(key=derivative.key)

    Upload.objects.filter(pk=upload.pk).update(state=UploadState.DELETED)
    with mock.patch.object(S3Storage, "delete", autospec=True, side_effect=S3Storage.delete) as deleted:
        assert processing.upload_discard_derivatives(upload_id=upload.pk) == 1
    assert [call.args[1] for call in deleted.call_args_list] == [derivative.key]
    assert not storage.exists(derivative.key)


def test_reset_clients_drops_the_app_storage_and_its_connections(s3_bucket) -> None:  # type: ignore[no-untyped-def]
    first = s3.app_storage()
    assert s3.app_storage() is first
    s3.reset_clients()
    again = s3.app_storage()
    assert again is not first
    assert again.bucket_name == s3_bucket


def test_derived_files_never_become_uploads(make_portal, send) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(processing=["thumbnails", "document_text"])
    send(token, make_image((500, 300)), filename="a.jpg", type_="image/jpeg")
    send(token, make_pdf(["text"]), filename="b.pdf", type_="application/pdf")
    assert len(derived_objects()) == 2
    before = set(Upload.objects.values_list("key", flat=True))
    reconcile.reconcile(older_than=dt.timedelta(0))
    assert set(Upload.objects.values_list("key", flat=True)) == before
    assert not Upload.objects.filter(key__startswith="derived/").exists()


def test_options_are_validated_and_audited(make_portal, staff_user, staff_client) -> None:  # type: ignore[no-untyped-def]
    portal, _ = make_portal()
    with pytest.raises(ValidationError) as caught:
        portal_update(actor=staff_user, portal=portal, processing="thumbnails, ocr")
    assert "'ocr' is not a processing option" in str(caught.value)
    portal_update(actor=staff_user, portal=portal, processing="document_text thumbnails")
    portal.refresh_from_db()
    assert portal.processing == ["thumbnails", "document_text"]
    changed = AuditEntry.objects.filter(action="portal.changed").latest("id").detail
    assert changed["changed"] == ["processing"]
    assert changed["processing"] == ["thumbnails", "document_text"]

    form = staff_client.get(f"/portals/{portal.pk}/edit").content.decode()
    assert 'name="processing" value="thumbnails"' in form
    assert "<legend>Previews</legend>" in form
    edit = staff_client.post(
        f"/portals/{portal.pk}/edit",
        {"name": portal.name, "title": portal.title, "brand_colour": "#1f5fbf", "processing": ["ocr"], "is_active": "on"},
    )
    assert edit.status_code == 400
    assert b"Select a valid choice" in edit.content
    edit = staff_client.post(
        f"/portals/{portal.pk}/edit",
        {"name": portal.name, "title": portal.title, "brand_colour": "#1f5fbf", "processing": ["thumbnails"], "is_active": "on"},
    )
    assert edit.status_code == 302
    portal.refresh_from_db()
    assert portal.processing == ["thumbnails"]


def test_the_cli_sets_processing_options(db, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    call_command(
        "portal_create", "Scans", "--processing", "thumbnails,document_text", stdout=io.StringIO(), stderr=io.StringIO()
    )
    assert Portal.objects.get(slug="scans").processing == ["thumbnails", "document_text"]
    with pytest.raises(CommandError, match="'ocr' is not a processing option"):
        call_command("portal_create", "Other", "--processing", "ocr", stdout=io.StringIO(), stderr=io.StringIO())
    assert not Portal.objects.filter(slug="other").exists()


def test_an_upload_whose_task_was_never_enqueued_is_caught_up(make_portal, send, settings) -> None:  # type: ignore[no-untyped-def]
    """The broker was down when the upload was stored: the periodic catch-up finds it
    (once it is ten minutes old) and processes it, once."""
    _, token = make_portal(processing=["thumbnails"])
    client = visitor_client()
    enter(client, token)
    # No on-commit callbacks run: the task is never enqueued, as with a broker down.
    done = upload_file(client, token, make_image((300, 300)), filename="scan.png", type_="image/png")
    upload = Upload.objects.get(key=done["key"])
    _, other_token = make_portal(name="No processing")
    plain = send(other_token, make_image((300, 300)), filename="plain.png", type_="image/png")
    assert not Derivative.objects.exists()
    assert processing_tasks.process_pending_uploads() == 0  # too recent: its own task may still be coming
    Upload.objects.filter(pk__in=[upload.pk, plain.pk]).update(stored_at=timezone.now() - dt.timedelta(minutes=11))
    assert processing_tasks.process_pending_uploads() == 1
    assert Derivative.objects.get().upload == upload
    assert processing_tasks.process_pending_uploads() == 0


class WorkerKilled(BaseException):
    """What the run sees of an OOM kill or the hard time limit: it stops, nothing
    after it runs (not even `except Exception`)."""


LEASE = dt.timedelta(seconds=180)  # INTAKE_PROCESSING_TIME_LIMIT_SECONDS (120) + 60


def uploaded_unprocessed(make_portal) -> Upload:  # type: ignore[no-untyped-def]
    """A stored portal upload whose task has not run yet (its on-commit callback is dropped)."""
    _, token = make_portal(processing=["thumbnails"])
    client = visitor_client()
    enter(client, token)
    done = upload_file(client, token, make_image((300, 300)), filename="scan.png", type_="image/png")
    return Upload.objects.get(key=done["key"])


def killed_run(upload: Upload) -> None:
    with mock.patch.object(processing, "_make", side_effect=WorkerKilled), pytest.raises(WorkerKilled):
        processing_tasks.process_upload(str(upload.pk))
    # A killed process runs no `finally`: its lease stays until it expires.
    Upload.objects.filter(pk=upload.pk).update(processing_lease_until=timezone.now() + LEASE)
    [started] = AuditEntry.objects.filter(upload=upload, action="upload.processing_started")
    assert started.detail == {"kind": "thumbnail"}
    assert failures(upload) == []
    assert not Derivative.objects.exists()


def test_a_run_killed_while_decoding_is_recorded_as_failed_by_the_next_not_tried_again(make_portal) -> None:  # type: ignore[no-untyped-def]
    """acks_late hands a task whose worker died to the next worker: that run must not
    decode the same file (and die) again."""
    upload = uploaded_unprocessed(make_portal)
    killed_run(upload)

    with mock.patch.object(processing, "_make", wraps=processing._make) as make:
        # Redelivered at once: the dead run's lease still holds, so this run leaves it
        # (it cannot tell a dead run from a slow one yet)...
        assert processing_tasks.process_upload(str(upload.pk)) == {"processing": "busy"}
        assert failures(upload) == []
        # ...and once the lease has run out, the open attempt is a crash.
        with mock.patch("django.utils.timezone.now", return_value=timezone.now() + LEASE + dt.timedelta(seconds=1)):
            assert processing_tasks.process_upload(str(upload.pk)) == {"thumbnail": "failed"}
    make.assert_not_called()
    [failure] = failures(upload)
    assert failure == {
        "kind": "thumbnail",
        "reason": "processing stopped before it finished (the worker was killed or timed out)",
    }
    assert not Derivative.objects.exists()
    assert derived_objects() == []
    assert processing_tasks.process_upload(str(upload.pk)) == {"thumbnail": "failed"}
    assert len(failures(upload)) == 1
    Upload.objects.filter(pk=upload.pk).update(stored_at=timezone.now() - dt.timedelta(minutes=11))
    assert processing_tasks.process_pending_uploads() == 0


def test_a_killed_run_nobody_redelivered_is_recorded_by_the_catch_up_once(make_portal) -> None:  # type: ignore[no-untyped-def]
    upload = uploaded_unprocessed(make_portal)
    Upload.objects.filter(pk=upload.pk).update(stored_at=timezone.now() - dt.timedelta(minutes=11))
    killed_run(upload)
    assert processing_tasks.process_pending_uploads() == 0  # the attempt is recent: its run may still be going

    later = timezone.now() + dt.timedelta(minutes=11)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert processing_tasks.process_pending_uploads() == 1  # enqueued once more: the task records the failure
        assert [f["reason"] for f in failures(upload)] == [processing.CRASHED]
        assert processing_tasks.process_pending_uploads() == 0
    assert not Derivative.objects.exists()
    assert derived_objects() == []


def test_an_outage_while_storing_the_result_is_retried_not_taken_for_a_crash(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    """The source is read (the S3 client) but the app files' storage cannot be reached:
    its botocore error arrives as s3.StorageUnavailable, for the task to retry."""
    upload = uploaded_unprocessed(make_portal)
    working = settings.STORAGES
    point_app_storage(settings, endpoint_url="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(s3.StorageUnavailable):
        processing.upload_process(upload_id=upload.pk)
    assert failures(upload) == []
    assert AuditEntry.objects.filter(upload=upload, action=processing.ATTEMPT_INTERRUPTED).count() == 1
    settings.STORAGES = working
    assert processing.upload_process(upload_id=upload.pk) == {"thumbnail": "made"}
    assert failures(upload) == []
    assert Derivative.objects.get().upload == upload


def test_a_second_run_while_the_first_holds_the_upload_leaves_it_alone(make_portal) -> None:  # type: ignore[no-untyped-def]
    """Two runs of one upload at once (a duplicate delivery, the catch-up task): the
    second must not take the first one's open attempt for a crash."""
    upload = uploaded_unprocessed(make_portal)
    second: dict[str, str] = {}

    def make_while_another_run_comes(kind: str, data: bytes) -> processing.Made:
        second.update(processing.upload_process(upload_id=upload.pk))
        return real_make(kind, data)

    real_make = processing._make
    with mock.patch.object(processing, "_make", side_effect=make_while_another_run_comes):
        first = processing.upload_process(upload_id=upload.pk)
    assert second == {"processing": "busy"}
    assert first == {"thumbnail": "made"}
    assert failures(upload) == []
    upload.refresh_from_db()
    assert upload.processing_lease_until is None  # released for the next run
    assert processing_tasks.process_upload(str(upload.pk)) == {"thumbnail": "exists"}


def test_a_replaced_file_loses_its_derivatives(make_portal, send, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from uploader.uploads import storing

    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((500, 500), fmt="PNG"), filename="a.png", type_="image/png")
    [derivative] = Derivative.objects.filter(upload=upload)
    assert derived_objects() == [derivative.key]

    # The still-valid PUT is used again: other bytes under the same key.
    head = s3.put_object_bytes(key=upload.key, body=make_image((40, 40), fmt="PNG"), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        replaced = storing.upload_apply_stored_object(upload_id=upload.pk, head=head)
    assert replaced.state == "rejected"
    assert not Derivative.objects.filter(upload=upload).exists()
    assert derived_objects() == []
    [removed] = AuditEntry.objects.filter(upload=upload, action="upload.derivative_removed")
    assert removed.detail == {"kind": "thumbnail", "key": derivative.key, "reason": "the upload is rejected"}
    assert removed.actor_label == "processor"
    assert processing_tasks.discard_derivatives(str(upload.pk)) == 0  # a repeat finds nothing


def test_a_deleted_file_loses_its_derivatives(make_portal, send, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from uploader.uploads import storing

    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((500, 500), fmt="PNG"), filename="a.png", type_="image/png")
    assert Derivative.objects.filter(upload=upload).exists()
    with django_capture_on_commit_callbacks(execute=True):
        storing.upload_close(upload_id=upload.pk, state="deleted", action="upload.deleted")
    assert not Derivative.objects.filter(upload=upload).exists()
    assert derived_objects() == []


def test_a_stored_upload_keeps_its_derivatives(make_portal, send) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((500, 500), fmt="PNG"), filename="a.png", type_="image/png")
    assert processing_tasks.discard_derivatives(str(upload.pk)) == 0
    assert Derivative.objects.filter(upload=upload).count() == 1
    assert len(derived_objects()) == 1


def test_a_derivative_made_while_the_file_was_replaced_is_not_kept(make_portal) -> None:  # type: ignore[no-untyped-def]
    upload = uploaded_unprocessed(make_portal)
    real_make = processing._make

    def make_then_replaced(kind: str, data: bytes) -> processing.Made:
        made = real_make(kind, data)
        Upload.objects.filter(pk=upload.pk).update(state="rejected")  # replaced meanwhile
        return made

    with mock.patch.object(processing, "_make", side_effect=make_then_replaced):
        assert processing.upload_process(upload_id=upload.pk) == {"thumbnail": "discarded"}
    assert not Derivative.objects.exists()
    assert derived_objects() == []
    [closed] = AuditEntry.objects.filter(upload=upload, action=processing.ATTEMPT_INTERRUPTED)
    assert closed.detail == {"kind": "thumbnail", "reason": "the file was replaced or deleted"}


def test_the_portal_page_signs_previews_through_cloudfront_when_configured(
    make_portal, send, staff_client, with_cloudfront
) -> None:  # type: ignore[no-untyped-def]
    portal, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((500, 500), fmt="PNG"), filename="a.png", type_="image/png")
    html = staff_client.get(f"/portals/{portal.pk}/").content.decode()
    [src] = re.findall(r'class="thumbnail"[^>]*src="([^"]+)"|src="([^"]+)"[^>]*class="thumbnail"', html)
    url = unescape(next(part for part in src if part))
    assert url.startswith(f"https://{DOMAIN}/derived/{upload.pk}/thumbnail.jpg?Expires=")
    verify(url, with_cloudfront)
