"""Retention per portal (uploader.retention.policy) against the S3 emulator: exactly
the stored files past their portal's retention go (object, derived files, row marked
deleted, one audit entry each by "retention"), nothing else; a second run changes
nothing; the dry run deletes nothing and counts right; the daily task works a backlog
off in batches."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.integration.test_processing import send  # noqa: F401  (a fixture)
from tests.integration.test_upload_deletion import person
from tests.support.documents import make_image
from uploader import s3
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.portals.services import portal_update
from uploader.processing.models import Derivative
from uploader.retention import holds, policy, tasks
from uploader.retention.selectors import portal_keeping
from uploader.uploads.models import Upload, UploadState

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("generous_rates")]

DAYS = 30


def arrived(upload: Upload, ago: dt.timedelta) -> Upload:
    Upload.objects.filter(pk=upload.pk).update(stored_at=timezone.now() - ago)
    return Upload.objects.get(pk=upload.pk)


@pytest.fixture
def scene(make_portal, send):  # type: ignore[no-untyped-def]  # noqa: F811
    """A portal keeping files 30 days (with thumbnails) and one keeping them forever."""
    admin = person(Role.ADMIN)
    kept, kept_token = make_portal(name="Keeps 30 days", processing=["thumbnails"])
    portal_update(actor=admin, portal=kept, retention_days=DAYS)
    forever, forever_token = make_portal(name="Keeps forever")
    image = make_image((200, 200), fmt="PNG")
    files = {
        "due": send(kept_token, image, filename="due.png", type_="image/png"),
        "young": send(kept_token, b"young", filename="young.txt", type_="text/plain"),
        "held": send(kept_token, b"held!", filename="held.txt", type_="text/plain"),
        "forever": send(forever_token, b"keep me", filename="old.txt", type_="text/plain"),
    }
    files["due"] = arrived(files["due"], dt.timedelta(days=DAYS, minutes=5))
    files["young"] = arrived(files["young"], dt.timedelta(days=DAYS) - dt.timedelta(minutes=5))
    files["held"] = arrived(files["held"], dt.timedelta(days=DAYS + 3))
    files["forever"] = arrived(files["forever"], dt.timedelta(days=3650))
    holds.upload_set_hold(actor=admin, upload_id=files["held"].pk, hold=True, reason="case")
    return {"admin": admin, "kept": kept, "forever": forever, **files}


def state(upload: Upload) -> str:
    return Upload.objects.get(pk=upload.pk).state


def test_retention_deletes_exactly_what_is_due(scene, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    due = scene["due"]
    [derivative] = Derivative.objects.filter(upload=due)
    with django_capture_on_commit_callbacks(execute=True):
        run = policy.retention_apply(limit=100)
    assert (run.deleted, run.skipped, run.deleted_bytes) == (1, 0, due.stored_size)
    assert state(due) == UploadState.DELETED
    assert s3.head_object_or_none(key=due.key) is None
    assert s3.head_object_or_none(key=derivative.key) is None
    assert not Derivative.objects.filter(upload=due).exists()
    for name in ("young", "held", "forever"):
        assert state(scene[name]) == UploadState.STORED, name
        assert s3.head_object_or_none(key=scene[name].key) is not None, name
    [entry] = AuditEntry.objects.filter(upload=due, action=policy.RETENTION_ACTION)
    assert entry.actor_id is None
    assert entry.actor_label == "system"  # outside a task: the default actor
    assert entry.detail["reason"] == f"retention: portal {scene['kept'].slug} keeps files {DAYS} days"

    # Twice: nothing more is due, nothing more recorded.
    assert policy.retention_apply(limit=100).deleted == 0
    assert AuditEntry.objects.filter(action=policy.RETENTION_ACTION).count() == 1


def test_the_task_acts_as_retention_and_works_a_backlog_in_batches(
    scene, settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_RETENTION_BATCH = 1
    scene["young"] = arrived(scene["young"], dt.timedelta(days=DAYS + 1))  # now two are due
    with django_capture_on_commit_callbacks(execute=True):
        tasks.apply_retention.delay()  # eager: the first run enqueues the second
    assert state(scene["due"]) == state(scene["young"]) == UploadState.DELETED
    assert state(scene["held"]) == state(scene["forever"]) == UploadState.STORED
    entries = AuditEntry.objects.filter(action=policy.RETENTION_ACTION)
    assert {e.upload_id for e in entries} == {scene["due"].pk, scene["young"].pk}
    assert {e.actor_label for e in entries} == {"retention"}


def test_a_stale_copy_is_deleted_once(scene) -> None:  # type: ignore[no-untyped-def]
    """Two runs at once (two beats) list the same file; the row lock lets one delete it."""
    listed = list(policy.uploads_due(policy.portal_rule(scene["kept"])))
    assert [u.pk for u in listed] == [scene["due"].pk]
    assert policy.retention_apply(limit=10).deleted == 1
    from uploader.uploads import deletion

    _, changed = deletion.upload_delete(
        actor=policy.RETENTION, upload=listed[0], reason="second run", action=policy.RETENTION_ACTION
    )
    assert not changed
    assert AuditEntry.objects.filter(upload=scene["due"], action=policy.RETENTION_ACTION).count() == 1


def test_a_hold_placed_after_listing_wins(scene) -> None:  # type: ignore[no-untyped-def]
    [listed] = policy.uploads_due(policy.portal_rule(scene["kept"]))
    holds.upload_set_hold(actor=scene["admin"], upload_id=listed.pk, hold=True)
    from uploader.uploads import deletion

    with pytest.raises(deletion.DeletionBlocked):
        deletion.upload_delete(actor=policy.RETENTION, upload=listed, action=policy.RETENTION_ACTION)
    assert state(listed) == UploadState.STORED


def test_the_dry_run_counts_and_deletes_nothing(scene) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    text = out.getvalue()
    due = scene["due"]
    assert f"{scene['kept'].slug}: keeps files {DAYS} days; 1 file(s) due" in text
    assert f"({due.stored_size} bytes)" in text
    assert "1 more kept by a legal hold" in text
    assert scene["forever"].portal.slug not in text  # no retention: not listed
    assert "Dry run: 1 file(s)" in text
    assert state(due) == UploadState.STORED
    assert not AuditEntry.objects.filter(action=policy.RETENTION_ACTION).exists()

    out = io.StringIO()
    call_command("apply_retention", stdout=out)
    assert f"deleted {due.pk} 'due.png'" in out.getvalue()
    assert "1 file(s) deleted" in out.getvalue()
    assert state(due) == UploadState.DELETED


def test_the_portal_page_says_what_is_due_soon(scene) -> None:  # type: ignore[no-untyped-def]
    keeping = portal_keeping(scene["kept"])
    assert (keeping.retention_days, keeping.due_now, keeping.due_soon, keeping.held) == (DAYS, 1, 2, 1)
    from django.test import Client

    client = Client()
    client.force_login(scene["admin"])
    page = client.get(f"/portals/{scene['kept'].pk}/").content.decode()
    assert "Files are deleted 30 days after they arrive" in page
    assert "1 file will be deleted on the next daily run." in page
    assert "2 files will be deleted within 7 days." in page


def test_only_admins_set_retention(make_portal, staff_user) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import ValidationError

    portal, _ = make_portal()
    with pytest.raises(ValidationError) as raised:
        portal_update(actor=staff_user, portal=portal, retention_days=1)
    assert "retention_days" in raised.value.message_dict
    portal.refresh_from_db()
    assert portal.retention_days is None
    portal_update(actor=person(Role.ADMIN), portal=portal, retention_days="90")
    portal.refresh_from_db()
    assert portal.retention_days == 90


def test_the_portal_form_sets_retention_in_plain_words(make_portal) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    portal, _ = make_portal()
    client = Client()
    client.force_login(person(Role.ADMIN))
    form = client.get(f"/portals/{portal.pk}/edit").content.decode()
    assert "Delete files after … days" in form
    fields = {"name": portal.name, "title": portal.title, "brand_colour": portal.brand_colour, "is_active": "on"}
    answer = client.post(f"/portals/{portal.pk}/edit", {**fields, "retention_days": "45"})
    assert answer.status_code == 302
    portal.refresh_from_db()
    assert portal.retention_days == 45
    answer = client.post(f"/portals/{portal.pk}/edit", {**fields, "retention_days": "0"})
    assert answer.status_code == 400
    answer = client.post(f"/portals/{portal.pk}/edit", {**fields, "retention_days": ""})
    portal.refresh_from_db()
    assert portal.retention_days is None


# --- per document request -------------------------------------------------------------------------


@pytest.fixture
def request_scene(staff_user, s3_bucket):  # type: ignore[no-untyped-def]
    """A request keeping files 30 days (one due with a thumbnail, one inside, one held)
    and a request keeping them forever."""
    from tests.integration.test_document_requests import item, make_request, visitor
    from tests.integration.test_document_requests import send as send_for_item
    from uploader.processing.models import DerivativeKind
    from uploader.requests.services import ItemSpec

    admin = person(Role.ADMIN)
    spec = [ItemSpec(title="Statements")]
    kept, kept_token = make_request(admin, client_name="Ann Client", items=spec, retention_days=DAYS)
    forever, forever_token = make_request(staff_user, client_name="Bob Forever", items=spec)
    client = visitor(kept, forever)
    files = {
        name: send_for_item(client, token, item(request, "Statements").pk, body=name.encode(), filename=f"{name}.pdf")
        for name, request, token in (
            ("due", kept, kept_token),
            ("young", kept, kept_token),
            ("held", kept, kept_token),
            ("forever", forever, forever_token),
        )
    }
    assert {u.portal_id for u in files.values()} == {None}  # a request's files belong to no portal
    files["due"] = arrived(files["due"], dt.timedelta(days=DAYS, minutes=5))
    files["young"] = arrived(files["young"], dt.timedelta(days=DAYS) - dt.timedelta(minutes=5))
    files["held"] = arrived(files["held"], dt.timedelta(days=DAYS + 3))
    files["forever"] = arrived(files["forever"], dt.timedelta(days=3650))
    holds.upload_set_hold(actor=admin, upload_id=files["held"].pk, hold=True, reason="case")
    thumbnail = f"derived/{files['due'].pk}/thumbnail.png"
    s3.put_object_bytes(key=thumbnail, body=make_image((20, 20), fmt="PNG"), content_type="image/png")
    Derivative.objects.create(
        upload=files["due"], kind=DerivativeKind.THUMBNAIL, key=thumbnail, size=1, content_type="image/png"
    )
    return {"admin": admin, "kept": kept, "forever": forever, "thumbnail": thumbnail, **files}


def test_a_requests_files_past_its_retention_are_deleted(request_scene, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    scene = request_scene
    due, kept = scene["due"], scene["kept"]
    with django_capture_on_commit_callbacks(execute=True):
        run = policy.retention_apply(limit=100)
    assert (run.deleted, run.skipped) == (1, 0)
    assert state(due) == UploadState.DELETED
    assert s3.head_object_or_none(key=due.key) is None
    assert s3.head_object_or_none(key=scene["thumbnail"]) is None
    assert not Derivative.objects.filter(upload=due).exists()
    for name in ("young", "held", "forever"):  # inside its retention, on hold, no retention
        assert state(scene[name]) == UploadState.STORED, name
        assert s3.head_object_or_none(key=scene[name].key) is not None, name
    [entry] = AuditEntry.objects.filter(upload=due, action=policy.RETENTION_ACTION)
    assert entry.detail["reason"] == f"retention: request {kept.pk} (Ann Client) keeps files {DAYS} days"
    assert policy.retention_apply(limit=100).deleted == 0


def test_the_dry_run_counts_a_requests_files_too(request_scene, make_portal) -> None:  # type: ignore[no-untyped-def]
    scene = request_scene
    portal, _ = make_portal(name="Keeps a year")
    portal_update(actor=scene["admin"], portal=portal, retention_days=365)
    out = io.StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    text = out.getvalue()
    kept, due = scene["kept"], scene["due"]
    assert f"portal {portal.slug}: keeps files 365 days; 0 file(s) due" in text
    assert f"request {kept.pk} (Ann Client): keeps files {DAYS} days; 1 file(s) due" in text
    assert f"({due.stored_size} bytes); 1 more kept by a legal hold" in text
    assert "Bob Forever" not in text  # no retention: not listed
    assert "Dry run: 1 file(s)" in text
    assert state(due) == UploadState.STORED

    out = io.StringIO()
    call_command("apply_retention", stdout=out)
    assert f"deleted {due.pk} 'due.pdf' (request {kept.pk} (Ann Client))" in out.getvalue()
    assert state(due) == UploadState.DELETED


def test_only_admins_set_a_requests_retention(staff_user, db) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import ValidationError

    from uploader.requests.models import DocumentRequest, RequestTemplate
    from uploader.requests.services import ItemSpec, request_create

    def make(actor, **options):  # type: ignore[no-untyped-def]
        return request_create(
            actor=actor, client_name="Ann", client_emails=["ann@example.test"], items=[ItemSpec(title="ID")], **options
        )

    with pytest.raises(ValidationError) as raised:
        make(staff_user, retention_days=7)
    assert "retention_days" in raised.value.message_dict
    assert not DocumentRequest.objects.exists()
    assert make(person(Role.ADMIN), retention_days=7).retention_days == 7
    with pytest.raises(ValidationError):
        make(person(Role.ADMIN), retention_days=0)
    # The template's retention is an admin's choice: staff get it, and cannot drop it.
    template = RequestTemplate.objects.create(name="Payroll", retention_days=90)
    assert make(staff_user, template=template).retention_days == 90
    with pytest.raises(ValidationError):
        make(staff_user, template=template, retention_days=None)
    assert make(staff_user).retention_days is None


def test_the_new_request_form_sets_retention_in_plain_words(staff_user, db) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    from uploader.requests.models import DocumentRequest, RequestTemplate

    template = RequestTemplate.objects.create(name="Payroll", retention_days=90)
    fields = {
        "client_name": "Ann",
        "client_emails": "ann@example.test",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-title": "Payslips",
        "items-0-required": "on",
    }
    admin = Client()
    admin.force_login(person(Role.ADMIN))
    page = admin.get("/requests/new").content.decode()
    assert "Delete files after … days" in page
    assert admin.post("/requests/new", {**fields, "retention_days": "45"}).status_code == 302
    assert DocumentRequest.objects.get().retention_days == 45
    assert admin.post("/requests/new", {**fields, "retention_days": "0"}).status_code == 400

    staff = Client()
    staff.force_login(staff_user)
    page = staff.get(f"/requests/new?template={template.pk}").content.decode()
    [field] = re.findall(r'<input[^>]*name="retention_days"[^>]*>', page)
    assert 'value="90"' in field
    assert "disabled" in field
    # A staff member's value is ignored: the request keeps the template's rule.
    answer = staff.post("/requests/new", {**fields, "template": template.pk, "retention_days": "1"})
    assert answer.status_code == 302
    assert DocumentRequest.objects.latest("pk").retention_days == 90
