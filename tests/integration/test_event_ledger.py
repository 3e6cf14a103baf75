"""S3 events through the webhook into the ledger: every effect exactly once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from unittest import mock
from urllib.parse import quote_plus

import pytest
import requests
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from uploader import s3
from uploader.audit.models import AuditEntry
from uploader.ingest.models import EventOutcome, EventSource, UploadEvent
from uploader.ingest.tasks import apply_object_events, events_receive_many
from uploader.portals.models import Portal
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.storing import upload_apply_stored_object

pytestmark = pytest.mark.integration

TOKEN = "webhook-test-token-0123456789"


@pytest.fixture
def webhook(settings, s3_bucket, transactional_db):  # type: ignore[no-untyped-def]
    """The webhook commits and applies events on commit, as in production."""
    settings.INTAKE_EVENTS_WEBHOOK_TOKEN = TOKEN
    return Client()


def _message(
    key: str, *, kind: str = "created", sequencer: str = "0055AED6DCD90281E5", source: str = "aws:s3", size: int = 3, etag: str = "x"
) -> str:
    name = "ObjectCreated:Put" if kind == "created" else "ObjectRemoved:Delete"
    encoded = quote_plus(key) if source == "aws:s3" else key
    record = {
        "eventVersion": "2.1", "eventSource": source, "eventName": name, "eventTime": "2026-11-28T12:00:00.000Z",
        "s3": {"bucket": {"name": settings.INTAKE_S3_BUCKET}, "object": {"key": encoded, "size": size, "eTag": etag, "sequencer": sequencer}},
    }
    return json.dumps({"Records": [record]})


def _post(client: Client, body: str, token: str | None = TOKEN):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/events/s3", data=body, content_type="application/json", headers=headers)


def _registered_and_uploaded(staff_client: Client, body: bytes = b"abc") -> Upload:
    signed = staff_client.get("/api/s3/params", {"filename": "via event.txt", "type": "text/plain", "size": len(body)}).json()
    requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).raise_for_status()
    return Upload.objects.get(pk=signed["id"])


def test_an_event_for_an_object_stored_with_another_type_rejects_it(webhook: Client, staff_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    """While only some types are accepted, an event (which does not say the type)
    is checked with a HEAD: a server that ignored the signed Content-Type cannot
    slip an HTML page in as text/plain."""
    settings.INTAKE_ALLOWED_CONTENT_TYPES = ["text/plain"]
    signed = staff_client.get("/api/s3/params", {"filename": "notes.txt", "type": "text/plain", "size": 3}).json()
    requests.put(signed["url"], data=b"<p>", headers={"Content-Type": "text/html"}, timeout=10).raise_for_status()
    upload = Upload.objects.get(pk=signed["id"])
    response = _post(webhook, _message(upload.key))
    assert response.status_code == 200, response.content
    upload.refresh_from_db()
    assert upload.state == UploadState.REJECTED
    assert "text/html" in upload.rejection_reason
    assert s3.head_object_or_none(key=upload.key) is None


def test_a_ledger_row_whose_task_was_lost_is_applied_by_the_beat_task(webhook: Client, staff_client: Client) -> None:
    """A worker killed with tasks it had fetched loses them on some brokers: beat's
    retry_stuck_events enqueues rows pending past INTAKE_EVENTS_STUCK_MINUTES again."""
    import datetime as dt

    from django.utils import timezone

    from uploader.ingest.tasks import retry_stuck_events

    upload = _registered_and_uploaded(staff_client)
    with mock.patch("uploader.ingest.tasks.apply_object_events.delay"):  # the task is lost
        assert _post(webhook, _message(upload.key)).status_code == 200
    event = UploadEvent.objects.get(key=upload.key)
    assert event.outcome == EventOutcome.PENDING
    assert retry_stuck_events() == 0, "not stuck yet"
    UploadEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - dt.timedelta(minutes=11))
    assert retry_stuck_events() == 1
    event.refresh_from_db()
    upload.refresh_from_db()
    assert (event.outcome, upload.state) == (EventOutcome.APPLIED, UploadState.STORED)


def test_s3_is_asked_before_the_event_is_locked(webhook: Client, staff_client: Client) -> None:
    """An event without a sequencer needs a HEAD; it is made outside the event's
    transaction, so a slow S3 holds no lock (on SQLite, not the database's)."""
    from django.db import connection

    from uploader import s3 as s3_package

    upload = _registered_and_uploaded(staff_client)
    seen: list[bool] = []
    real = s3_package.head_object_or_none

    def head(*, key: str):  # type: ignore[no-untyped-def]
        seen.append(connection.in_atomic_block)
        return real(key=key)

    with mock.patch("uploader.s3.head_object_or_none", side_effect=head):
        assert _post(webhook, _message(upload.key, sequencer="")).status_code == 200
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert seen == [False]


def test_an_event_alone_marks_the_upload_stored(webhook: Client, staff_client: Client) -> None:
    upload = _registered_and_uploaded(staff_client)
    response = _post(webhook, _message(upload.key))
    assert response.status_code == 200
    assert response.json()["recorded"] == 1
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert upload.stored_size == 3
    assert upload.last_sequencer == "0055AED6DCD90281E5"
    event = UploadEvent.objects.get()
    assert (event.outcome, event.upload_id) == (EventOutcome.APPLIED, upload.id)


def test_token_is_required_and_checked(webhook: Client, settings) -> None:  # type: ignore[no-untyped-def]
    assert _post(webhook, _message("uploads/x"), token=None).status_code == 401
    assert _post(webhook, _message("uploads/x"), token="wrong").status_code == 401
    query = webhook.post(f"/api/events/s3?token={TOKEN}", data=_message("uploads/x"), content_type="application/json")
    assert query.status_code == 200, "Ceph's push endpoint carries the token in the URL"
    settings.INTAKE_EVENTS_WEBHOOK_TOKEN = ""
    assert _post(webhook, _message("uploads/x")).status_code == 404
    assert UploadEvent.objects.count() == 1


def test_five_concurrent_copies_give_one_row_and_one_effect(webhook: Client, staff_client: Client, transactional_db: None) -> None:
    upload = _registered_and_uploaded(staff_client)
    body = _message(upload.key)
    answers: list[dict] = []

    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            answers.append(_post(Client(), body).json())
        except Exception as exc:  # noqa: BLE001 - collected and asserted empty below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(a["recorded"] for a in answers) == 1, answers
    assert sum(a["duplicates"] for a in answers) == 4
    assert UploadEvent.objects.count() == 1
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert list(AuditEntry.objects.filter(upload=upload).order_by("id").values_list("action", "actor_label")) == [
        ("upload.registered", "alice"),
        ("upload.stored", "s3-event"),
    ], "one audit entry for the one effect"


def test_delete_delivered_before_create_ends_deleted(webhook: Client, staff_client: Client) -> None:
    upload = _registered_and_uploaded(staff_client)
    s3.delete_object(key=upload.key)
    assert _post(webhook, _message(upload.key, kind="removed", sequencer="0055AED6DCD90281F0")).status_code == 200
    assert _post(webhook, _message(upload.key, kind="created", sequencer="0055AED6DCD90281E5")).status_code == 200
    upload.refresh_from_db()
    assert upload.state == UploadState.DELETED
    outcomes = dict(UploadEvent.objects.values_list("kind", "outcome"))
    assert outcomes == {"removed": EventOutcome.APPLIED, "created": EventOutcome.STALE}


def test_an_object_uploaded_by_other_means_is_recorded(webhook: Client) -> None:
    key = "uploads/console/2026/11/manual upload.pdf"
    s3.boto3_client().put_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key, Body=b"%PDF-", ContentType="application/pdf")
    assert _post(webhook, _message(key, size=5)).status_code == 200
    upload = Upload.objects.get(key=key)
    assert (upload.state, upload.owner, upload.stored_size, upload.original_filename) == (UploadState.STORED, None, 5, "manual upload.pdf")


def test_foreign_bucket_and_garbage_are_refused_with_reasons(webhook: Client) -> None:
    foreign = json.loads(_message("uploads/x"))
    foreign["Records"][0]["s3"]["bucket"]["name"] = "someone-elses"
    response = _post(webhook, json.dumps(foreign))
    assert response.status_code == 400
    assert "not ours" in response.json()["skipped"][0]
    assert _post(webhook, "{not json").status_code == 400
    assert UploadEvent.objects.count() == 0


def test_a_stored_object_over_its_declared_size_is_rejected_by_the_event(webhook: Client, staff_client: Client) -> None:
    signed = staff_client.get("/api/s3/params", {"filename": "a.txt", "type": "text/plain", "size": 2}).json()
    requests.put(signed["url"], data=b"too long", headers=signed["headers"], timeout=10).raise_for_status()
    assert _post(webhook, _message(signed["key"], size=8)).status_code == 200
    upload = Upload.objects.get(pk=signed["id"])
    assert upload.state == UploadState.REJECTED
    with pytest.raises(s3.ObjectNotFound):
        s3.head_object(key=upload.key)


@pytest.mark.parametrize(("stored_mib", "state"), [(7, UploadState.REJECTED), (6, UploadState.STORED)])
def test_a_multipart_upload_without_a_size_is_held_to_the_limit_by_its_event(  # type: ignore[no-untyped-def]
    webhook: Client, staff_client: Client, settings, stored_mib: int, state: str
) -> None:
    """Completed in S3 by the client itself (no complete call): the event alone holds
    the object to the per-file limit, which is all a size-less upload has."""
    settings.INTAKE_MAX_UPLOAD_BYTES = 6 * 1024**2
    body = json.dumps({"filename": "nosize.bin", "type": "application/octet-stream"})
    created = staff_client.post("/api/s3/multipart", body, content_type="application/json").json()
    parts = []
    for number, size in ((1, 5 * 1024**2), (2, (stored_mib - 5) * 1024**2)):
        url = staff_client.get(f"/api/s3/multipart/{created['uploadId']}/{number}", {"key": created["key"]}).json()["url"]
        put = requests.put(url, data=b"x" * size, timeout=30)
        put.raise_for_status()
        parts.append((number, put.headers["ETag"]))
    s3.complete_multipart_upload(key=created["key"], upload_id=created["uploadId"], parts=parts)
    assert _post(webhook, _message(created["key"], size=stored_mib * 1024**2)).status_code == 200
    upload = Upload.objects.get(pk=created["id"])
    assert upload.state == state
    assert (s3.head_object_or_none(key=upload.key) is None) == (state == UploadState.REJECTED)


def test_an_oversized_message_is_a_413(webhook: Client) -> None:
    body = json.dumps({"Records": [], "padding": "x" * 300_000})
    response = _post(webhook, body)
    assert response.status_code == 413
    assert UploadEvent.objects.count() == 0


# --- The batch apply (one task per SQS batch) ----------------------------------------------------------------


def _waiting_upload(name: str, *, size: int = 3) -> Upload:
    return Upload.objects.create(
        key=f"uploads/staff/2026/11/{uuid.uuid4()}/{name}", original_filename=name, declared_size=size,
        declared_content_type="text/plain",
    )


def _ingest_pending(*bodies: str) -> list[int]:
    """Record a batch as the consumer does, without applying it: the ids the task gets."""
    with mock.patch("uploader.ingest.tasks.apply_object_events.delay") as enqueue:
        events_receive_many(bodies=list(bodies), source=EventSource.SQS)
    (call,) = enqueue.call_args_list
    return list(call.args[0])


def _actions(upload: Upload) -> list[str]:
    return list(AuditEntry.objects.filter(upload=upload).order_by("id").values_list("action", flat=True))


def test_a_batch_with_duplicates_and_two_uploads_has_one_effect_each(webhook: Client) -> None:
    first, second = _waiting_upload("one.txt"), _waiting_upload("two.txt", size=5)
    one, two = _message(first.key), _message(second.key, size=5, sequencer="0055AED6DCD90281E6")
    ids = _ingest_pending(one, two, one, one)
    assert len(ids) == 2, "duplicates in one batch are one ledger row"

    assert apply_object_events(ids + ids) == {EventOutcome.APPLIED: 2}
    for upload, size in ((first, 3), (second, 5)):
        upload.refresh_from_db()
        assert (upload.state, upload.stored_size, upload.etag) == (UploadState.STORED, size, "x")
        assert _actions(upload) == ["upload.stored"]
        event = UploadEvent.objects.get(key=upload.key)
        assert (event.outcome, event.upload_id, event.detail) == (EventOutcome.APPLIED, upload.pk, "upload is stored")
        assert event.applied_at is not None
        assert (event.event_time, event.size, event.raw["sequencer"]) == (
            dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC), size, event.sequencer
        )
    entry = AuditEntry.objects.filter(upload=first).get()
    assert (entry.actor_label, entry.detail["sequencer"]) == ("s3-event", "0055AED6DCD90281E5")

    # The same ids again (a redelivered task): nothing changes.
    assert apply_object_events(ids) == {"unchanged": 2}
    assert _actions(first) == ["upload.stored"]
    assert UploadEvent.objects.count() == 2


@pytest.mark.parametrize("delete_first", [True, False], ids=["delete-then-create", "create-then-delete"])
def test_a_delete_and_a_create_of_one_key_in_one_batch_end_deleted(webhook: Client, delete_first: bool) -> None:
    upload = _waiting_upload("gone.txt")
    create = _message(upload.key, sequencer="0055AED6DCD90281E5")
    delete = _message(upload.key, kind="removed", sequencer="0055AED6DCD90281F0")
    other = _waiting_upload("kept.txt")
    ids = _ingest_pending(*((delete, create) if delete_first else (create, delete)), _message(other.key))

    outcomes = apply_object_events(ids)
    upload.refresh_from_db()
    other.refresh_from_db()
    assert (upload.state, upload.last_sequencer) == (UploadState.DELETED, "0055AED6DCD90281F0")
    assert other.state == UploadState.STORED
    kinds = dict(UploadEvent.objects.filter(key=upload.key).values_list("kind", "outcome"))
    # Within one batch, events of one key are applied in S3's order, whatever the
    # order of delivery: stored, then deleted.
    assert kinds == {"removed": EventOutcome.APPLIED, "created": EventOutcome.APPLIED}
    assert _actions(upload) == ["upload.stored", "upload.deleted"]
    assert outcomes == {EventOutcome.APPLIED: 3}


def test_a_batch_leaves_stale_unregistered_and_over_limit_events_to_the_one_by_one_path(webhook: Client) -> None:
    stale = _waiting_upload("stale.txt")
    Upload.objects.filter(pk=stale.pk).update(last_sequencer="0055AED6DCD90281FF")
    too_big = _waiting_upload("big.txt", size=2)
    key = "uploads/console/2026/11/by hand.txt"
    s3.boto3_client().put_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key, Body=b"abc")
    ids = _ingest_pending(_message(stale.key), _message(too_big.key, size=8), _message(key))

    assert apply_object_events(ids) == {EventOutcome.STALE: 1, EventOutcome.APPLIED: 2}
    stale.refresh_from_db()
    too_big.refresh_from_db()
    assert (stale.state, _actions(stale)) == (UploadState.REGISTERED, [])
    assert (too_big.state, _actions(too_big)) == (UploadState.REJECTED, ["upload.rejected"])
    unregistered = Upload.objects.get(key=key)
    assert (unregistered.state, unregistered.owner, _actions(unregistered)) == (UploadState.STORED, None, ["upload.stored"])


def test_an_object_nobody_registered_is_named_without_its_format_characters(webhook: Client) -> None:
    """A file put in the bucket by hand is named after its key, cleaned like a
    browser's file name: a right-to-left override would show "invoice\u202egpj.exe"
    to staff as "invoiceexe.jpg"."""
    key = "uploads/console/2026/11/invoice\u202egpj.exe"
    s3.boto3_client().put_object(Bucket=settings.INTAKE_S3_BUCKET, Key=key, Body=b"abc")

    assert apply_object_events(_ingest_pending(_message(key))) == {EventOutcome.APPLIED: 1}
    assert Upload.objects.get(key=key).original_filename == "invoicegpj.exe"


def test_a_batch_waits_for_an_upload_locked_by_another_transaction_and_sees_its_change(webhook: Client) -> None:
    """The complete call stores the upload while a batch is applying its event: the
    batch waits for the row, then finds it stored and records no second effect."""
    busy, free = _waiting_upload("busy.txt"), _waiting_upload("free.txt")
    ids = _ingest_pending(_message(busy.key), _message(free.key))
    locked = threading.Event()
    errors: list[BaseException] = []

    def complete_call() -> None:
        try:
            with transaction.atomic():
                Upload.objects.select_for_update().get(pk=busy.pk)
                locked.set()
                time.sleep(0.5)  # the batch starts meanwhile and has to wait for this row
                # The complete call's HEAD sees the object the event describes: the same ETag.
                upload_apply_stored_object(upload_id=busy.pk, head=s3.ObjectHead(size=3, etag="x", content_type=""))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted empty below
            errors.append(exc)
            locked.set()
        finally:
            connection.close()  # this thread's own connection

    other = threading.Thread(target=complete_call)
    other.start()
    assert locked.wait(10)
    outcomes = apply_object_events(ids)
    other.join()
    assert errors == []
    assert outcomes == {EventOutcome.APPLIED: 2}
    busy.refresh_from_db()
    free.refresh_from_db()
    assert (busy.state, busy.etag, busy.last_sequencer) == (UploadState.STORED, "x", "0055AED6DCD90281E5")
    assert _actions(busy) == ["upload.stored"], "one effect: the complete call's"
    assert AuditEntry.objects.get(upload=busy).actor_label != "s3-event"
    assert (free.state, _actions(free)) == (UploadState.STORED, ["upload.stored"])


def test_an_event_without_size_sequencer_or_time_is_stored_and_applied_by_a_head(webhook: Client, staff_client: Client) -> None:
    upload = _registered_and_uploaded(staff_client)
    record = json.loads(_message(upload.key))["Records"][0]
    del record["eventTime"], record["s3"]["object"]["size"], record["s3"]["object"]["sequencer"]
    ids = _ingest_pending(json.dumps({"Records": [record]}))
    event = UploadEvent.objects.get(pk=ids[0])
    assert (event.size, event.event_time, event.sequencer, event.raw["key"]) == (None, None, "", upload.key)
    assert apply_object_events(ids) == {EventOutcome.APPLIED: 1}
    upload.refresh_from_db()
    assert (upload.state, upload.stored_size) == (UploadState.STORED, 3)


def test_a_portal_upload_in_a_batch_is_held_to_its_portals_limits(webhook: Client) -> None:
    portal = Portal.objects.create(
        name="Acme", slug="acme", token_nonce="n" * 32, token_digest="d" * 64, title="Acme", max_file_bytes=2
    )
    from_portal = _waiting_upload("client.txt")
    Upload.objects.filter(pk=from_portal.pk).update(portal=portal, scope="acme")
    staff = _waiting_upload("staff.txt")
    ids = _ingest_pending(_message(from_portal.key), _message(staff.key))

    assert apply_object_events(ids) == {EventOutcome.APPLIED: 2}
    from_portal.refresh_from_db()
    staff.refresh_from_db()
    assert from_portal.state == UploadState.REJECTED, "3 bytes are within the site's limits, not the portal's 2"
    assert _actions(from_portal) == ["upload.rejected"]
    assert (staff.state, _actions(staff)) == (UploadState.STORED, ["upload.stored"])


def _stored_by_complete(staff_client: Client, body: bytes) -> tuple[Upload, dict]:
    signed = staff_client.get("/api/s3/params", {"filename": "report.txt", "type": "text/plain", "size": len(body)}).json()
    requests.put(signed["url"], data=body, headers=signed["headers"], timeout=10).raise_for_status()
    assert staff_client.post(f"/api/s3/complete?key={quote_plus(signed['key'])}").status_code == 200
    upload = Upload.objects.get(pk=signed["id"])
    assert upload.state == UploadState.STORED
    return upload, signed


def test_a_stored_file_overwritten_through_its_signed_url_is_rejected_and_removed(webhook: Client, staff_client: Client) -> None:
    """The signed PUT is still valid after complete: other bytes of the same size
    replace the object, and its event must not leave the row describing the old file."""
    upload, signed = _stored_by_complete(staff_client, b"abc")
    old_etag = upload.etag
    assert _post(webhook, _message(upload.key, sequencer="0055AED6DCD90281E5", etag=old_etag)).status_code == 200
    requests.put(signed["url"], data=b"xyz", headers=signed["headers"], timeout=10).raise_for_status()
    new_etag = s3.head_object(key=upload.key).etag
    assert new_etag != old_etag

    assert _post(webhook, _message(upload.key, sequencer="0055AED6DCD90281F0", etag=new_etag)).status_code == 200
    upload.refresh_from_db()
    assert upload.state == UploadState.REJECTED
    assert upload.rejection_reason == "the file was replaced after it arrived"
    assert s3.head_object_or_none(key=upload.key) is None, "the replacing object is deleted"
    replaced = AuditEntry.objects.get(upload=upload, action="upload.replaced")
    assert (replaced.detail["old_etag"], replaced.detail["new_etag"]) == (old_etag, new_etag)
    assert replaced.actor_label == "s3-event"
    assert _actions(upload) == ["upload.registered", "upload.stored", "upload.replaced"]


def test_a_repeated_event_with_the_same_etag_leaves_the_file_stored(webhook: Client, staff_client: Client) -> None:
    upload, _ = _stored_by_complete(staff_client, b"abc")
    for sequencer in ("0055AED6DCD90281E5", "0055AED6DCD90281F0"):  # a copy, and a later event of the same object
        assert _post(webhook, _message(upload.key, sequencer=sequencer, etag=upload.etag)).status_code == 200
    assert _post(webhook, _message(upload.key, sequencer="0055AED6DCD90281F0", etag=upload.etag)).json()["duplicates"] == 1
    upload.refresh_from_db()
    assert upload.state == UploadState.STORED
    assert s3.get_object_bytes(key=upload.key) == b"abc"
    assert _actions(upload) == ["upload.registered", "upload.stored"]


def test_an_older_event_of_another_etag_does_not_reject_a_stored_file(db: None, s3_bucket: str, staff_client: Client) -> None:
    """Out of order: an event older than what was applied says nothing about the object now."""
    upload, _ = _stored_by_complete(staff_client, b"abc")
    Upload.objects.filter(pk=upload.pk).update(last_sequencer="0055AED6DCD90281F0")
    head = s3.ObjectHead(size=3, etag="d41d8cd98f00b204e9800998ecf8427e", content_type="")
    upload = upload_apply_stored_object(upload_id=upload.pk, head=head, sequencer="0055AED6DCD90281E5")
    assert upload.state == UploadState.STORED
    assert s3.get_object_bytes(key=upload.key) == b"abc"
