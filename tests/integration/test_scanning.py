"""Malware scanning against a real clamd (tests/support/clamd.py: Debian's clamd with
our own EICAR signature) and the S3 emulator: uploads through a portal are scanned
by the eager Celery task, infected files are quarantined and never served, a scanner
that is down leaves files pending (fail closed), and GuardDuty's result events apply
once per file in any order."""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from collections.abc import Iterator

import pytest
import requests
from django.core import mail

from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.support.clamd import EICAR, FOUND_NAME, Clamd
from tests.support.people import person_and_client
from uploader import s3
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.ingest.ledger import events_ingest_many
from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.ingest.tasks import events_apply_enqueue
from uploader.scanning import services as scanning
from uploader.scanning import tasks as scanning_tasks
from uploader.scanning.scanners import ClamdScanner, ScannerUnavailable, parse_reply
from uploader.uploads.models import ScanState, Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("generous_rates")]


@pytest.fixture(scope="module")
def clamd_server() -> Iterator[Clamd]:
    with Clamd() as server:
        yield server


@pytest.fixture
def clamd(clamd_server: Clamd, settings, s3_bucket: str) -> Clamd:  # type: ignore[no-untyped-def]
    if not clamd_server.ping():
        clamd_server.start()
    settings.INTAKE_SCANNER = "clamd"
    settings.INTAKE_CLAMD_ADDRESS = clamd_server.address
    return clamd_server


@pytest.fixture
def send(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Upload one file through a portal, running what is enqueued on commit (the scan)."""

    def send_file(token: str, body: bytes, *, filename: str = "notes.txt") -> Upload:
        client = visitor_client()
        enter(client, token)
        with django_capture_on_commit_callbacks(execute=True):
            done = upload_file(client, token, body, filename=filename, type_="text/plain")
        return Upload.objects.get(key=done["key"])

    return send_file


def test_the_scanner_speaks_instream_to_a_real_clamd(clamd: Clamd) -> None:
    scanner = ClamdScanner(clamd.address, timeout=10)
    assert scanner.ping()
    assert scanner.scan([EICAR[:10], EICAR[10:]]).outcome == "infected"
    assert scanner.scan([EICAR]).detail == FOUND_NAME
    assert scanner.scan([b"hello " * 100_000]).outcome == "clean"
    assert scanner.scan([]).outcome == "clean"


def test_replies_that_are_not_verdicts_mean_the_scanner_failed() -> None:
    assert parse_reply("stream: Heuristics.Encrypted.Zip FOUND").outcome == "unscannable"
    assert parse_reply("INSTREAM size limit exceeded. ERROR").outcome == "unscannable"
    with pytest.raises(ScannerUnavailable):
        parse_reply("Can't allocate memory ERROR")


def test_eicar_through_a_portal_is_infected_quarantined_never_served_and_people_are_told(  # type: ignore[no-untyped-def]
    clamd, make_portal, send, settings
) -> None:
    admin, admin_client = person_and_client(Role.ADMIN)
    _, staff_client = person_and_client(Role.STAFF)
    _, token = make_portal(notify_emails=["office@example.test"], processing=["document_text"])
    upload = send(token, EICAR, filename="invoice.txt")

    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert upload.scan_state == ScanState.INFECTED
    assert upload.scan_detail == FOUND_NAME
    quarantined = f"{settings.INTAKE_SCAN_QUARANTINE_PREFIX}/{upload.key}"
    assert upload.quarantine_key == quarantined
    assert s3.head_object_or_none(key=upload.key) is None
    assert s3.get_object_bytes(key=quarantined) == EICAR
    actions = list(AuditEntry.objects.filter(upload=upload).order_by("pk").values_list("action", flat=True))
    assert actions[-3:] == ["upload.scan_infected", "upload.quarantined", "upload.infected_notified"]

    # Never downloadable, never previewed, nothing processed, never in a digest.
    answer = staff_client.get(f"/api/uploads/{upload.pk}/download")
    assert answer.status_code == 409
    assert answer.json()["code"] == "file_held"
    assert "malware" in answer.json()["message"]
    page = staff_client.post(f"/uploads/{upload.pk}/download", follow=True)
    assert "holds malware" in page.content.decode()
    assert not upload.derivatives.exists()
    assert not AuditEntry.objects.filter(upload=upload, action="upload.downloaded").exists()

    # Staff and admins were told, once.
    [warning] = [m for m in mail.outbox if "malware" in m.subject]
    assert set(warning.to) == {"office@example.test", admin.email}
    assert "invoice.txt" in warning.body
    assert scanning.upload_scan(upload_id=upload.pk) == ScanState.INFECTED
    assert len([m for m in mail.outbox if "malware" in m.subject]) == 1

    # The file page says so; only an admin may read the quarantined copy.
    detail = staff_client.get(f"/uploads/{upload.pk}/").content.decode()
    assert 'data-scan-state="infected"' in detail
    assert "Download from quarantine" not in detail
    assert "Download from quarantine" in admin_client.get(f"/uploads/{upload.pk}/").content.decode()
    assert staff_client.post(f"/uploads/{upload.pk}/quarantined").status_code == 403
    fetched = admin_client.post(f"/uploads/{upload.pk}/quarantined")
    assert fetched.status_code == 302
    assert requests.get(fetched["Location"], timeout=10).content == EICAR
    assert AuditEntry.objects.filter(upload=upload, action="upload.quarantine_downloaded", actor=admin).exists()


def test_the_client_page_says_the_infected_file_was_refused(
    clamd, make_portal, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal()
    client = visitor_client()
    enter(client, token)
    with django_capture_on_commit_callbacks(execute=True):
        upload_file(client, token, EICAR, filename="bad.txt", type_="text/plain")
        upload_file(client, token, b"fine", filename="good.txt", type_="text/plain")
    page = client.get(f"/p/{token}/done").content.decode()
    refused = page[page.index("bad.txt") - 200 : page.index("bad.txt") + 200]
    assert "Malware was found in it" in refused


def test_a_clean_file_is_clean_then_downloadable(clamd, make_portal, send) -> None:  # type: ignore[no-untyped-def]
    _, staff_client = person_and_client(Role.STAFF)
    _, token = make_portal()
    upload = send(token, b"quarterly numbers\n" * 1000)
    upload.refresh_from_db()
    assert upload.scan_state == ScanState.CLEAN
    assert AuditEntry.objects.filter(upload=upload, action="upload.scan_clean", actor_label="scanner").exists()
    answer = staff_client.get(f"/api/uploads/{upload.pk}/download")
    assert answer.status_code == 302
    assert requests.get(answer["Location"], timeout=10).content == b"quarterly numbers\n" * 1000


def test_with_clamd_stopped_files_stay_pending_and_are_scanned_when_it_returns(  # type: ignore[no-untyped-def]
    clamd, make_portal, send
) -> None:
    _, staff_client = person_and_client(Role.STAFF)
    _, token = make_portal()
    clamd.stop()
    try:
        clean = send(token, b"a plain letter")
        infected = send(token, EICAR, filename="eicar.txt")
        for upload in (clean, infected):
            upload.refresh_from_db()
            assert upload.scan_state == ScanState.PENDING  # closed, not open
        assert staff_client.get(f"/api/uploads/{clean.pk}/download").status_code == 409
        with pytest.raises(ScannerUnavailable):
            scanning.upload_scan(upload_id=clean.pk)
    finally:
        clamd.start()
    Upload.objects.filter(pk__in=[clean.pk, infected.pk]).update(stored_at=clean.stored_at.replace(year=2000))
    assert scanning_tasks.scan_pending_uploads() == 2
    clean.refresh_from_db()
    infected.refresh_from_db()
    assert (clean.scan_state, infected.scan_state) == (ScanState.CLEAN, ScanState.INFECTED)
    assert staff_client.get(f"/api/uploads/{clean.pk}/download").status_code == 302


def test_an_unscannable_file_is_held_until_an_admin_releases_it_with_a_reason(  # type: ignore[no-untyped-def]
    clamd, make_portal, send, settings
) -> None:
    admin, admin_client = person_and_client(Role.ADMIN)
    _, staff_client = person_and_client(Role.STAFF)
    settings.INTAKE_SCAN_MAX_BYTES = 1024
    _, token = make_portal()
    upload = send(token, b"x" * 2000)
    upload.refresh_from_db()
    assert upload.scan_state == ScanState.UNSCANNABLE
    assert staff_client.get(f"/api/uploads/{upload.pk}/download").status_code == 409
    assert staff_client.post(f"/uploads/{upload.pk}/release", {"reason": "known sender"}).status_code == 403
    assert admin_client.post(f"/uploads/{upload.pk}/release", {"reason": "  "}).status_code == 302
    upload.refresh_from_db()
    assert upload.scan_state == ScanState.UNSCANNABLE
    assert admin_client.post(f"/uploads/{upload.pk}/release", {"reason": "the client phoned"}).status_code == 302
    upload.refresh_from_db()
    assert upload.scan_state == ScanState.RELEASED
    [entry] = AuditEntry.objects.filter(upload=upload, action="upload.scan_released")
    assert entry.actor == admin
    assert entry.detail["reason"] == "the client phoned"
    assert staff_client.get(f"/api/uploads/{upload.pk}/download").status_code == 302


def test_a_portal_may_release_unscannable_files_by_policy(clamd, make_portal, send, settings) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import PermissionDenied

    from tests.support.people import person
    from uploader.portals.services import portal_update

    settings.INTAKE_SCAN_MAX_BYTES = 1024
    portal, token = make_portal()
    with pytest.raises(PermissionDenied):  # staff manage portals; the policy is an admin's
        portal_update(actor=person(Role.STAFF), portal=portal, release_unscannable=True)
    portal_update(actor=person(Role.ADMIN), portal=portal, release_unscannable=True)
    changed = AuditEntry.objects.filter(action="portal.changed").latest("pk")
    assert changed.detail["release_unscannable"] is True
    upload = send(token, b"x" * 2000)
    upload.refresh_from_db()
    assert upload.scan_state == ScanState.RELEASED
    assert "INTAKE_SCAN_MAX_BYTES" in upload.scan_detail


def test_with_scanning_off_files_are_marked_not_scanned_and_allowed(make_portal, send, s3_bucket, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_SCANNER = "none"
    _, staff_client = person_and_client(Role.STAFF)
    _, token = make_portal()
    upload = send(token, EICAR)
    upload.refresh_from_db()
    assert upload.scan_state == ScanState.NOT_SCANNED
    assert staff_client.get(f"/api/uploads/{upload.pk}/download").status_code == 302
    assert "was not scanned" in staff_client.get(f"/uploads/{upload.pk}/").content.decode()


# --- GuardDuty's result events ------------------------------------------------------------------------------------


def _result(upload: Upload, status: str, *, etag: str | None = None, bucket: str = "") -> str:
    from django.conf import settings

    return json.dumps(
        {
            "version": "0",
            "id": "5e7b6e58-0000-0000-0000-000000000000",
            "detail-type": "GuardDuty Malware Protection Object Scan Result",
            "source": "aws.guardduty",
            "time": "2026-12-03T12:00:00Z",
            "detail": {
                "schemaVersion": "1.0",
                "scanStatus": "COMPLETED",
                "resourceType": "S3_OBJECT",
                "s3ObjectDetails": {
                    "bucketName": bucket or settings.INTAKE_S3_BUCKET,
                    "objectKey": upload.key,
                    "eTag": upload.etag if etag is None else etag,
                    "versionId": "",
                    "s3Throttled": False,
                },
                "scanResultDetails": {
                    "scanResultStatus": status,
                    "threats": [{"name": "EICAR-Test-File (not a virus)"}] if status == "THREATS_FOUND" else None,
                },
            },
        }
    )


def _stored_event(upload: Upload) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-12-03T12:00:00Z",
                    "s3": {
                        "bucket": {"name": upload_bucket()},
                        "object": {
                            "key": upload.key,
                            "size": upload.declared_size,
                            "eTag": upload.etag,
                            "sequencer": "00A1",
                        },
                    },
                }
            ]
        }
    )


def upload_bucket() -> str:
    from django.conf import settings

    return str(settings.INTAKE_S3_BUCKET)


def _deliver(bodies: list[str], django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        for result in events_ingest_many(bodies=bodies, source="sqs"):
            if result.pending:
                events_apply_enqueue(result.pending)


@pytest.fixture
def guardduty(settings, s3_bucket):  # type: ignore[no-untyped-def]
    settings.INTAKE_SCANNER = "guardduty"


def _waiting_upload(api, body: bytes) -> Upload:  # type: ignore[no-untyped-def]
    """A staff upload whose object is in S3 but not yet recorded (no complete call)."""
    signed = api.get(
        "/api/s3/params", {"filename": "scan.txt", "type": "text/plain", "metadata[size]": len(body)}
    ).json()
    requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).raise_for_status()
    upload = Upload.objects.get(key=signed["key"])
    upload.etag = s3.head_object(key=upload.key).etag  # what GuardDuty's event names (not saved)
    return upload


ORDERS = list(itertools.permutations(["result", "stored", "duplicate"]))


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
@pytest.mark.parametrize("status", ["THREATS_FOUND", "NO_THREATS_FOUND"])
def test_guardduty_results_in_any_order_and_repeated_give_one_outcome(  # type: ignore[no-untyped-def]
    guardduty, api, order, status, django_capture_on_commit_callbacks
) -> None:
    upload = _waiting_upload(api, EICAR if status == "THREATS_FOUND" else b"plain text")
    messages = {
        "result": _result(upload, status),
        "duplicate": _result(upload, status),
        "stored": _stored_event(upload),
    }
    for step in order:
        _deliver([messages[step]], django_capture_on_commit_callbacks)
    stored = Upload.objects.get(pk=upload.pk)
    assert stored.state == UploadState.STORED
    expected = ScanState.INFECTED if status == "THREATS_FOUND" else ScanState.CLEAN
    assert stored.scan_state == expected
    [verdict] = AuditEntry.objects.filter(upload=upload, action__startswith="upload.scan_")
    assert verdict.action == f"upload.scan_{expected}"
    assert UploadEvent.objects.filter(key=upload.key, kind="scanned").count() == 1
    assert not UploadEvent.objects.filter(key=upload.key, outcome=EventOutcome.PENDING).exists()
    if expected == ScanState.INFECTED:
        assert stored.quarantine_key
        assert s3.head_object_or_none(key=upload.key) is None
        assert AuditEntry.objects.filter(upload=upload, action="upload.quarantined").count() == 1


def test_a_guardduty_result_for_another_version_is_stale(guardduty, api, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    upload = _waiting_upload(api, b"plain text")
    _deliver([_stored_event(upload)], django_capture_on_commit_callbacks)
    _deliver([_result(upload, "THREATS_FOUND", etag="0" * 32)], django_capture_on_commit_callbacks)
    assert Upload.objects.get(pk=upload.pk).scan_state == ScanState.PENDING
    assert UploadEvent.objects.get(key=upload.key, kind="scanned").outcome == EventOutcome.STALE
    _deliver([_result(upload, "NO_THREATS_FOUND")], django_capture_on_commit_callbacks)
    assert Upload.objects.get(pk=upload.pk).scan_state == ScanState.CLEAN


def test_guardduty_failures_hold_the_file(guardduty, api, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    upload = _waiting_upload(api, b"plain text")
    _deliver([_stored_event(upload), _result(upload, "ACCESS_DENIED")], django_capture_on_commit_callbacks)
    stored = Upload.objects.get(pk=upload.pk)
    assert stored.scan_state == ScanState.UNSCANNABLE
    assert "ACCESS_DENIED" in stored.scan_detail


def test_the_doctor_checks_clamd_answers_and_detects_eicar(clamd, settings) -> None:  # type: ignore[no-untyped-def]
    from uploader.ops.doctor.scanner import scanner_checks

    assert [r.status for r in scanner_checks()] == ["passed", "passed"]
    clamd.stop()
    try:
        [result] = scanner_checks()
        assert result.status == "failed"
        assert "pending" in result.detail
    finally:
        clamd.start()
    settings.INTAKE_SCANNER = "none"
    [result] = scanner_checks()
    assert result.status == "skipped"


def test_the_consumer_takes_guardduty_results_from_the_events_queue(staff_client, queue: str, settings) -> None:  # type: ignore[no-untyped-def]
    """The result and the bucket's own notification share the queue (the stack's rule
    sends results there), in whatever order SQS hands them out, the result twice."""
    from django.core.management import call_command

    settings.INTAKE_SCANNER = "guardduty"
    upload = _waiting_upload(staff_client, EICAR)
    for _ in range(2):
        s3.sqs_client().send_message(QueueUrl=queue, MessageBody=_result(upload, "THREATS_FOUND"))
    call_command("consume_s3_events", "--queue-url", queue, "--until-empty", "--wait", "1", stdout=io.StringIO())
    stored = Upload.objects.get(pk=upload.pk)
    assert (stored.state, stored.scan_state) == (UploadState.STORED, ScanState.INFECTED)
    assert stored.scan_detail == "EICAR-Test-File (not a virus)"
    assert UploadEvent.objects.filter(key=upload.key, kind="scanned", source="sqs").count() == 1
    assert s3.head_object_or_none(key=upload.key) is None  # quarantined after the event's transaction


def test_clamd_reports_encrypted_documents_as_unscannable_and_looks_inside_archives(clamd) -> None:  # type: ignore[no-untyped-def]
    from tests.support.documents import encrypt_pdf, make_pdf

    scanner = ClamdScanner(clamd.address, timeout=10)
    verdict = scanner.scan([encrypt_pdf(make_pdf(["payslip"]), "secret")])
    assert verdict.outcome == "unscannable"
    assert "encrypted" in verdict.detail
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("readme.txt", "nothing to see")
        zipped.writestr("tools/eicar.com", EICAR)
    assert scanner.scan([archive.getvalue()]).outcome == "infected"
