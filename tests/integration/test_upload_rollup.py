"""The daily rollup and the kept totals (uploader.uploads.rollup) against a recount of
the uploads, after any mix of registrations and moves through the real services and
the state writer: stores, rejections, deletions, aborts, batches with repeats, and
replays. Runs on the test database (PostgreSQL in CI's first pass, where a batch of
moves takes the one-statement path, SQLite in the second)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Q
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.people import person
from uploader.access.principals import UploadPrincipal, signed_in_principal
from uploader.access.roles import Permission, Role
from uploader.portals.models import Portal
from uploader.uploads import recount
from uploader.uploads.kinds import kind_case, kind_content_type, kind_of
from uploader.uploads.limits import UploadLimits
from uploader.uploads.models import Upload, UploadDailyRollup, UploadState, UploadTotal
from uploader.uploads.services import upload_sign_single
from uploader.uploads.state import Move, uploads_move

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]

CONTENT_TYPES = ["application/pdf", "image/png", "text/csv", "video/mp4", "audio/mpeg", "application/zip", "IMAGE/JPEG"]
TARGETS = [UploadState.UPLOADING, UploadState.STORED, UploadState.REJECTED, UploadState.ABORTED, UploadState.DELETED]

register = st.tuples(
    st.just("register"),
    st.booleans(),  # through the portal
    st.sampled_from(CONTENT_TYPES),
    st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)),
)
move = st.tuples(
    st.just("move"),
    st.sampled_from(TARGETS),
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=4),  # which uploads; repeats allowed
    st.integers(min_value=0, max_value=10**9),  # stored size
    st.integers(min_value=0, max_value=24 * 70),  # hours ago it arrived (crosses local days and months)
)
replay = st.tuples(st.just("replay"))


def _portal_principal(portal: Portal) -> UploadPrincipal:
    """A portal visitor as uploader.portals.access makes one (without a request)."""
    return UploadPrincipal(
        owner=None,
        scope=portal.slug,
        limits=UploadLimits.from_settings(),
        permissions=frozenset({Permission.UPLOAD}),
        visible=Q(portal=portal, portal_visitor="visitor"),
        registration_fields={
            "portal": portal,
            "portal_visitor": "visitor",
            "uploader_name": "Zoë",
            "uploader_email": "",
        },
        audit_label=f"portal:{portal.slug}",
    )


def _values(target: str, size: int, hours_ago: int) -> dict[str, object]:
    if target == UploadState.STORED:
        arrived = timezone.now() - dt.timedelta(hours=hours_ago)
        return {"stored_size": size, "stored_at": arrived, "etag": uuid.uuid4().hex}
    if target == UploadState.REJECTED:
        return {"rejection_reason": "over the limit", "stored_size": size}
    return {}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(st.one_of(register, move, replay), min_size=1, max_size=25))
def test_the_rollup_always_equals_a_recount(operations, settings_for_rollup) -> None:  # type: ignore[no-untyped-def]
    staff, portal = settings_for_rollup
    uploads: list[uuid.UUID] = []
    last: tuple[list[Move], str] | None = None
    for operation in operations:
        if operation[0] == "register":
            _, through_portal, content_type, size = operation
            principal = _portal_principal(portal) if through_portal else staff
            upload, _ = upload_sign_single(
                principal=principal, filename="Résumé.pdf", content_type=content_type, size=size or 1
            )
            uploads.append(upload.pk)
        elif operation[0] == "move" and uploads:
            _, target, picks, size, hours_ago = operation
            moves = [
                Move(upload_id=uploads[pick % len(uploads)], values=_values(target, size, hours_ago)) for pick in picks
            ]
            uploads_move(moves=moves, to=target)
            last = (moves, target)
        elif operation[0] == "replay" and last is not None:
            assert uploads_move(moves=last[0], to=last[1]) == []  # a repeat moves nothing
    assert recount.rollup_differences() == []


@pytest.fixture
def settings_for_rollup(settings):  # type: ignore[no-untyped-def]
    # Far from UTC, so an arrival's local day is often not its UTC day.
    settings.TIME_ZONE = "Pacific/Kiritimati"
    settings.INTAKE_ALLOWED_CONTENT_TYPES = []
    staff = signed_in_principal(person(Role.STAFF))
    portal = Portal.objects.create(name="Café", slug="cafe", token_nonce="n", token_digest="d", title="Café")
    return staff, portal


def test_kinds_in_python_and_in_sql_agree() -> None:
    types = [
        *CONTENT_TYPES,
        "",
        "text/plain; charset=utf-8",
        "application/vnd.ms-excel",
        "application/pdfx",
        "Video/MP4",
    ]
    for content_type in types:
        upload_id = uuid.uuid4()
        Upload.objects.create(
            id=upload_id, key=f"k/{upload_id}", original_filename="f", declared_content_type=content_type
        )
    in_sql = dict(
        Upload.objects.annotate(**kind_content_type())
        .annotate(kind=kind_case())
        .values_list("declared_content_type", "kind")
    )
    assert in_sql == {content_type: kind_of(content_type) for content_type in types}


def test_the_recount_command_finds_and_repairs_a_difference(s3_bucket) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_principal(person(Role.STAFF))
    upload, _ = upload_sign_single(principal=staff, filename="a.pdf", content_type="application/pdf", size=10)
    uploads_move(
        moves=[Move(upload_id=upload.pk, values={"stored_size": 10, "stored_at": timezone.now()})], to="stored"
    )
    call_command("recount_upload_rollup", "--check")  # agrees
    UploadTotal.objects.update(files=5)  # damaged behind the services' back
    with pytest.raises(CommandError, match="differ from a recount"):
        call_command("recount_upload_rollup", "--check")
    call_command("recount_upload_rollup")
    call_command("recount_upload_rollup", "--check")
    assert UploadDailyRollup.objects.get(state="stored").stored_files == 1
