"""The staff file browser over HTTP: Django's test client against the real views and
database, the S3 emulator (moto over HTTP) for everything that reaches storage, and
the real processing service for previews."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from tests.integration.test_portals import enter, upload_file, visitor_client
from tests.support.documents import make_image, make_pdf
from tests.support.people import person
from tests.support.people import signed_in as client_for
from tests.support.rollup import count_in_rollup
from uploader import s3
from uploader.access.roles import ROLE_PERMISSIONS, Permission, Role
from uploader.audit.models import AuditEntry
from uploader.audit.services import audit_record
from uploader.portals.models import Portal
from uploader.processing.models import Derivative
from uploader.uploads.models import Upload, UploadState
from uploader.uploads.sizes import format_bytes

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.usefixtures("s3_bucket")]

UTC = dt.UTC


def make_upload(
    name: str,
    *,
    created: dt.datetime,
    owner: User | None = None,
    portal: Portal | None = None,
    sender: tuple[str, str] = ("", ""),
    content_type: str = "application/pdf",
    size: int | None = 1000,
    state: str = UploadState.STORED,
) -> Upload:
    """A row as the services leave it (the list reads rows only)."""
    scope = portal.slug if portal else "staff"
    upload = Upload.objects.create(
        owner=owner,
        scope=scope,
        original_filename=name,
        key=f"uploads/{scope}/{created:%Y/%m}/{uuid.uuid4()}/file",
        declared_size=size,
        declared_content_type=content_type,
        state=state,
        stored_size=size if state == UploadState.STORED else None,
        portal=portal,
        uploader_name=sender[0],
        uploader_email=sender[1],
    )
    Upload.objects.filter(pk=upload.pk).update(created_at=created)  # auto_now_add ignores a given value
    count_in_rollup(upload)
    return upload


def names_in(response) -> list[str]:  # type: ignore[no-untyped-def]
    """File names of the result rows, in page order."""
    rows = re.findall(r'<td [^>]*class="filename"><a href="/uploads/[0-9a-f-]+/">(.*?)</a></td>', response.content.decode())
    return [html.unescape(name) for name in rows]


@pytest.fixture
def files(make_portal):  # type: ignore[no-untyped-def]
    """Five files of every kind, state, sender and portal; dict by short name."""
    alice, bob = person(Role.STAFF, "alice2"), person(Role.STAFF, "bob")
    acme, _ = make_portal("Acme accounts")
    beta, _ = make_portal("Beta studio")
    return {
        "acme": acme,
        "beta": beta,
        "march": make_upload(
            "Invoice March.pdf",
            portal=acme,
            sender=("Ann Client", "ann@client.test"),
            size=2_000_000,
            created=dt.datetime(2025, 3, 10, 12, tzinfo=UTC),
        ),
        "holiday": make_upload(
            "holiday.png",
            owner=bob,
            content_type="image/png",
            size=300_000,
            created=dt.datetime(2025, 3, 5, tzinfo=UTC),
        ),
        "feb": make_upload(
            "Invoice Feb.pdf",
            owner=alice,
            size=50_000,
            state=UploadState.REJECTED,
            created=dt.datetime(2025, 2, 15, tzinfo=UTC),
        ),
        "clip": make_upload(
            "clip.mp4",
            portal=beta,
            sender=("Zed", "z@beta.test"),
            content_type="video/mp4",
            size=40_000_000,
            state=UploadState.REGISTERED,
            created=dt.datetime(2025, 3, 20, tzinfo=UTC),
        ),
        "zip": make_upload(
            "notes.zip",
            owner=alice,
            content_type="application/zip",
            size=None,
            state=UploadState.ABORTED,
            created=dt.datetime(2025, 1, 5, tzinfo=UTC),
        ),
    }


# --- the list ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.STAFF, Role.ADMIN])
def test_every_role_that_browses_sees_the_whole_business_newest_first(files, role: Role) -> None:  # type: ignore[no-untyped-def]
    page = client_for(role).get("/uploads/")
    assert page.status_code == 200
    assert names_in(page) == ["clip.mp4", "Invoice March.pdf", "holiday.png", "Invoice Feb.pdf", "notes.zip"]
    text = page.content.decode()
    assert "5 files, " in text
    assert "Ann Client" in text  # portal sender
    assert "bob@example.test" in text  # staff owner
    assert "Beta studio" in text


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("march", {"Invoice March.pdf"}),  # file name, any case
        ("ann@client", {"Invoice March.pdf"}),  # sender's e-mail
        ("zed", {"clip.mp4"}),  # sender's name
        ("bob", {"holiday.png"}),  # owner's user name
        ("alice2@example", {"Invoice Feb.pdf", "notes.zip"}),  # owner's e-mail
        ("acme", {"Invoice March.pdf"}),  # portal name
        ("invoice ann", {"Invoice March.pdf"}),  # every word must match somewhere
        ("invoice", {"Invoice March.pdf", "Invoice Feb.pdf"}),
        ("100%_", set()),  # LIKE wildcards are plain characters
    ],
)
def test_search(files, q: str, expected: set[str]) -> None:  # type: ignore[no-untyped-def]
    page = client_for(Role.VIEWER).get("/uploads/", {"q": q})
    assert page.status_code == 200
    assert set(names_in(page)) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "stored"}, {"Invoice March.pdf", "holiday.png"}),
        ({"state": "registered"}, {"clip.mp4"}),
        ({"portal": "acme"}, {"Invoice March.pdf"}),
        ({"portal": "none"}, {"holiday.png", "Invoice Feb.pdf", "notes.zip"}),
        ({"kind": "images"}, {"holiday.png"}),
        ({"kind": "pdf"}, {"Invoice March.pdf", "Invoice Feb.pdf"}),
        ({"kind": "video"}, {"clip.mp4"}),
        ({"kind": "documents"}, set()),
        ({"kind": "other"}, {"notes.zip"}),
        ({"uploaded_from": "2025-03-05"}, {"Invoice March.pdf", "holiday.png", "clip.mp4"}),
        ({"uploaded_to": "2025-03-05"}, {"holiday.png", "Invoice Feb.pdf", "notes.zip"}),  # inclusive
        ({"uploaded_from": "2025-03-06", "uploaded_to": "2025-03-19"}, {"Invoice March.pdf"}),
        ({"size_min": "1 MB"}, {"Invoice March.pdf", "clip.mp4"}),  # a registered file by its declared size
        ({"size_min": "300000", "size_max": "2 MB"}, {"Invoice March.pdf", "holiday.png"}),  # inclusive
        ({"size_max": "100 KB"}, {"Invoice Feb.pdf"}),  # a file of unknown size matches no size filter
        ({"state": "stored", "kind": "pdf", "q": "ann"}, {"Invoice March.pdf"}),
    ],
)
def test_each_filter(files, params: dict[str, str], expected: set[str]) -> None:  # type: ignore[no-untyped-def]
    if params.get("portal") == "acme":
        params = {**params, "portal": str(files["acme"].pk)}
    page = client_for(Role.VIEWER).get("/uploads/", params)
    assert page.status_code == 200
    assert "data-filter-errors" not in page.content.decode()
    assert set(names_in(page)) == expected


def test_dates_are_days_in_the_business_time_zone(make_portal, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "Europe/Berlin"
    # 1 March 00:30 in Berlin (still 28 February in UTC) and 1 April 00:30 in Berlin.
    make_upload("early.pdf", created=dt.datetime(2025, 2, 28, 23, 30, tzinfo=UTC))
    make_upload("late.pdf", created=dt.datetime(2025, 3, 31, 22, 30, tzinfo=UTC))
    make_upload("before.pdf", created=dt.datetime(2025, 2, 28, 22, 30, tzinfo=UTC))  # 23:30 on 28 Feb in Berlin
    page = client_for(Role.VIEWER).get("/uploads/", {"uploaded_from": "2025-03-01", "uploaded_to": "2025-03-31"})
    assert names_in(page) == ["early.pdf"]
    assert "Europe/Berlin" in page.content.decode()


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["clip.mp4", "Invoice March.pdf", "holiday.png", "Invoice Feb.pdf", "notes.zip"]),
        ("oldest", ["notes.zip", "Invoice Feb.pdf", "holiday.png", "Invoice March.pdf", "clip.mp4"]),
        ("largest", ["clip.mp4", "Invoice March.pdf", "holiday.png", "Invoice Feb.pdf", "notes.zip"]),  # unknown last
        ("name", ["clip.mp4", "holiday.png", "Invoice Feb.pdf", "Invoice March.pdf", "notes.zip"]),
    ],
)
def test_sorting(files, sort: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert names_in(client_for(Role.VIEWER).get("/uploads/", {"sort": sort})) == expected


def test_the_totals_line_counts_the_filtered_files_and_bytes(files) -> None:  # type: ignore[no-untyped-def]
    page = client_for(Role.VIEWER).get("/uploads/", {"kind": "pdf"})
    assert f"2 files, {format_bytes(2_050_000)}" in page.content.decode()
    page = client_for(Role.VIEWER).get("/uploads/", {"q": "holiday"})
    assert f"1 file, {format_bytes(300_000)}" in page.content.decode()
    assert "0 files, 0" in client_for(Role.VIEWER).get("/uploads/", {"q": "nothing-like-it"}).content.decode()


@pytest.mark.parametrize("params", [{"kind": "pdf"}, {"q": "invoice"}, {"q": "invoice", "sort": "largest"}, {}])
def test_the_count_request_answers_what_the_list_says(files, params) -> None:  # type: ignore[no-untyped-def]
    # The list leaves a long search's count to /uploads/totals/ (ADR 0015); whatever
    # the filters, that request counts as the list does.
    client = client_for(Role.VIEWER)
    listed = re.search(r"data-totals>(.*?)</p>", client.get("/uploads/", params).content.decode(), re.S)
    counted = re.search(
        r"<span data-counted>(.*?)</span>",
        client.get("/uploads/totals/", params, HTTP_HX_REQUEST="true").content.decode(),
        re.S,
    )
    assert listed is not None
    assert counted is not None
    assert counted.group(1).strip() == listed.group(1).strip()
    assert counted.group(1).strip()[0].isdigit()


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"state": "exploded"}, "state", "valid choice"),
        ({"portal": "999999"}, "portal", "valid choice"),
        ({"kind": "spreadsheets"}, "kind", "valid choice"),
        ({"uploaded_from": "2025-02-30"}, "uploaded_from", "Enter a date such as"),
        ({"uploaded_to": "9999-12-31"}, "uploaded_to", "between 1900 and 2999"),
        ({"uploaded_from": "2025-02-01", "uploaded_to": "2025-01-01"}, "uploaded_to", "before the start date"),
        ({"size_min": "lots"}, "size_min", "is not a size"),
        ({"size_max": "9" * 30 + " TB"}, "size_max", "larger than any file"),
        ({"sort": "random"}, "sort", "valid choice"),
        ({"page": "banana"}, None, None),  # a bad page number is the first page, no error
    ],
)
def test_bad_filter_values_show_an_error_and_filter_nothing(files, params, field, message) -> None:  # type: ignore[no-untyped-def]
    page = client_for(Role.VIEWER).get("/uploads/", {**params, "q": "invoice"})
    assert page.status_code == 200
    text = page.content.decode()
    # The good filter still applies; the bad one is ignored.
    assert set(names_in(page)) == {"Invoice March.pdf", "Invoice Feb.pdf"}
    if field is None:
        assert "data-filter-errors" not in text
        return
    assert "data-filter-errors" in text
    error_slot = re.search(rf'<p class="error" id="id_{field}-error">(.*?)</p>', text)
    assert error_slot is not None
    assert message in html.unescape(error_slot.group(1))
    assert re.search(rf'<(input|select)[^>]*aria-invalid="true"[^>]*id="id_{field}"', text) or re.search(
        rf'<(input|select)[^>]*id="id_{field}"[^>]*aria-invalid="true"', text
    )


def test_pages_of_fifty_and_page_links_keep_the_filters(db) -> None:  # type: ignore[no-untyped-def]
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(120):
        make_upload(f"report-{n:03}.pdf", created=start + dt.timedelta(hours=n))
    for n in range(5):
        make_upload(f"photo-{n}.png", content_type="image/png", created=start + dt.timedelta(hours=n, minutes=30))
    client = client_for(Role.VIEWER)

    seen: list[str] = []
    url = "/uploads/?kind=pdf&sort=oldest"
    for expected_rows in (50, 50, 20):
        page = client.get(url)
        assert page.status_code == 200
        rows = names_in(page)
        assert len(rows) == expected_rows
        seen += rows
        assert "120 files" in page.content.decode()
        next_link = re.search(r'<a rel="next" href="([^"]+)"', page.content.decode())
        if expected_rows == 20:
            assert next_link is None
            break
        assert next_link is not None
        url = "/uploads/" + html.unescape(next_link.group(1))
        assert "kind=pdf" in url
        assert "sort=oldest" in url
    assert seen == [f"report-{n:03}.pdf" for n in range(120)]  # every file once, in order, no images
    back = re.search(r'<a rel="prev" href="([^"]+)"', page.content.decode())
    assert back is not None
    assert "kind=pdf" in html.unescape(back.group(1))


def test_no_query_per_row(db, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(25):
        portal = Portal.objects.create(name=f"P{n}", slug=f"p{n}", token_nonce=f"n{n}", token_digest=f"d{n}", title="t")
        make_upload(f"portal-{n}.pdf", portal=portal, sender=(f"Sender {n}", ""), created=start + dt.timedelta(hours=n))
        make_upload(f"staff-{n}.pdf", owner=person(Role.STAFF), created=start + dt.timedelta(hours=n, minutes=1))
    client = client_for(Role.VIEWER)
    client.get("/uploads/")  # warm the session and content types
    # Session, user, groups, portals for the filter, the count, the totals, the page.
    with django_assert_max_num_queries(8):
        page = client.get("/uploads/", {"sort": "name"})
    assert len(names_in(page)) == 50
    assert "Sender 24" in page.content.decode()
    assert "staff-24.pdf" in page.content.decode()


def test_htmx_gets_the_results_with_the_errors_and_count_out_of_band(files) -> None:  # type: ignore[no-untyped-def]
    page = client_for(Role.VIEWER).get("/uploads/", {"kind": "pdf", "state": "nope"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    text = page.content.decode()
    assert "<html" not in text
    assert "HX-Request" in page["Vary"]
    assert set(names_in(page)) == {"Invoice March.pdf", "Invoice Feb.pdf"}
    assert re.search(r'<p id="id_state-error" hx-swap-oob="innerHTML">Select a valid choice', text)
    assert '<p id="browse-status" hx-swap-oob="innerHTML">2 files,' in text
    full = client_for(Role.VIEWER).get("/uploads/", {"kind": "pdf"})
    assert "<html" in full.content.decode()
    assert "hx-swap-oob" not in full.content.decode()


def test_going_back_to_a_page_htmx_no_longer_has_gets_the_whole_page(files) -> None:  # type: ignore[no-untyped-def]
    """htmx 2 restores history it has no copy of by asking again with both headers and
    swapping the whole body with the answer: a results part there loses the page."""
    page = client_for(Role.VIEWER).get(
        "/uploads/", {"kind": "pdf"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "<html" in text
    assert 'class="browse-form"' in text
    assert "hx-swap-oob" not in text
    assert set(names_in(page)) == {"Invoice March.pdf", "Invoice Feb.pdf"}
    vary = {value.strip() for value in page["Vary"].split(",")}
    assert {"HX-Request", "HX-History-Restore-Request"} <= vary


def test_html_in_file_and_sender_names_is_shown_as_text(make_portal) -> None:  # type: ignore[no-untyped-def]
    portal, _ = make_portal("<b>Portal</b>")
    upload = make_upload(
        '<script>alert("f")</script>.pdf',
        portal=portal,
        sender=("<img src=x onerror=alert(1)>", "x@example.test"),
        created=dt.datetime(2025, 3, 1, tzinfo=UTC),
    )
    client = client_for(Role.STAFF)
    for url in ("/uploads/", f"/uploads/{upload.pk}/"):
        text = client.get(url).content.decode()
        assert '<script>alert("f")' not in text
        assert "&lt;script&gt;alert(&quot;f&quot;)&lt;/script&gt;.pdf" in text
        assert "<img src=x" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text
        assert "<b>Portal</b>" not in text
        assert "&lt;b&gt;Portal&lt;/b&gt;" in text


# --- who may do what -------------------------------------------------------------------------


@pytest.fixture
def stored(db) -> Upload:  # type: ignore[no-untyped-def]
    """A file stored through the real upload API and the emulator."""
    client = client_for(Role.STAFF)
    created = client.get("/api/s3/params", {"filename": "plan.pdf", "type": "application/pdf", "size": 11}).json()
    requests.put(created["url"], data=b"the plan v1", headers=created["headers"], timeout=10).raise_for_status()
    assert client.post(f"/api/s3/complete?key={created['key']}").status_code == 200
    return Upload.objects.get(pk=created["id"])


@pytest.mark.parametrize("url", ["/uploads/", "detail"])
def test_signed_out_goes_to_sign_in_and_no_role_gets_no_access(stored: Upload, url: str) -> None:
    url = f"/uploads/{stored.pk}/" if url == "detail" else url
    signed_out = Client().get(url)
    assert signed_out.status_code == 302
    assert signed_out["Location"].startswith("/accounts/login/?next=")
    no_role = client_for(None).get(url)
    assert no_role.status_code == 403
    assert "Your account has no access to Intake" in no_role.content.decode()
    assert "plan.pdf" not in no_role.content.decode()


def test_downloads_need_a_role_and_a_post(stored: Upload) -> None:
    url = f"/uploads/{stored.pk}/download"
    assert Client().post(url).status_code == 302  # to sign in
    assert client_for(None).post(url).status_code == 403
    assert client_for(Role.VIEWER).get(url).status_code == 405
    assert not AuditEntry.objects.filter(action="upload.downloaded").exists()


def test_a_viewer_browses_and_downloads_the_real_bytes_and_the_download_is_audited(stored: Upload) -> None:
    viewer = person(Role.VIEWER, "vera")
    client = Client(REMOTE_ADDR="10.9.8.7")
    client.force_login(viewer)
    listing = client.get("/uploads/").content.decode()
    assert f'action="/uploads/{stored.pk}/download"' in listing
    detail = client.get(f"/uploads/{stored.pk}/").content.decode()
    assert f'action="/uploads/{stored.pk}/download"' in detail

    response = client.post(f"/uploads/{stored.pk}/download")
    assert response.status_code == 302
    fetched = requests.get(response["Location"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == b"the plan v1"
    assert "plan.pdf" in fetched.headers["Content-Disposition"]
    [entry] = AuditEntry.objects.filter(upload=stored, action="upload.downloaded")
    assert (entry.actor_id, entry.actor_label, entry.ip_address) == (viewer.pk, "vera", "10.9.8.7")
    assert entry.request_id
    assert entry.detail == {"via": "s3"}
    # The download shows in the file's own trail; the address and request id only to
    # those who may read the audit log (admins).
    trail = client.get(f"/uploads/{stored.pk}/").content.decode()
    assert 'data-action="upload.downloaded"' in trail
    assert "vera" in trail
    assert "10.9.8.7" not in trail
    assert entry.request_id not in trail
    admin_trail = client_for(Role.ADMIN).get(f"/uploads/{stored.pk}/").content.decode()
    assert "10.9.8.7" in admin_trail
    assert entry.request_id in admin_trail
    assert f'href="/audit/?upload={stored.pk}"' in admin_trail


def test_a_role_that_may_browse_but_not_download_sees_no_button_and_gets_403(
    stored: Upload, make_portal, send, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.VIEWER, frozenset({Permission.BROWSE}))
    client = client_for(Role.VIEWER)
    assert "plan.pdf" in client.get("/uploads/").content.decode()
    for url in ("/uploads/", f"/uploads/{stored.pk}/"):
        assert "/download" not in client.get(url).content.decode()
    refused = client.post(f"/uploads/{stored.pk}/download")
    assert refused.status_code == 403
    assert "Your role does not allow this" in refused.content.decode()

    # A PDF with its text really extracted: the text is the file's content, so this
    # role sees how many pages it has but neither the text nor a link to it.
    _, token = make_portal(processing=["document_text"])
    pdf = make_pdf(["Secret salary table " * 20, "Page two"], title="Payroll 2025", author="Finance")
    payroll = send(token, pdf, filename="payroll.pdf", type_="application/pdf")
    assert Derivative.objects.filter(upload=payroll, kind="text").exists()
    page = client.get(f"/uploads/{payroll.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "<dd data-pages>2</dd>" in text
    assert "Your role cannot read file contents" in text
    assert "Secret salary table" not in text
    assert "data-text-excerpt" not in text
    assert "Payroll 2025" not in text
    assert "Download all of the extracted text" not in text
    assert "X-Amz-Signature" not in text
    assert "Signature=" not in text
    assert "data-no-preview" not in text
    # The same page for a role that may download has all of it.
    full = client_for(Role.STAFF).get(f"/uploads/{payroll.pk}/").content.decode()
    assert "Secret salary table" in full
    assert "Download all of the extracted text" in full
    assert "Your role cannot read file contents" not in full
    assert not AuditEntry.objects.filter(action="upload.downloaded").exists()


def test_a_file_that_is_not_stored_cannot_be_downloaded(files) -> None:  # type: ignore[no-untyped-def]
    client = client_for(Role.VIEWER)
    clip = files["clip"]
    assert f"/uploads/{clip.pk}/download" not in client.get(f"/uploads/{clip.pk}/").content.decode()
    response = client.post(f"/uploads/{clip.pk}/download", follow=True)
    assert response.redirect_chain == [(f"/uploads/{clip.pk}/", 302)]
    assert "only stored files can be downloaded" in response.content.decode()
    assert not AuditEntry.objects.filter(action="upload.downloaded").exists()


def test_unknown_files_are_404(db) -> None:  # type: ignore[no-untyped-def]
    client = client_for(Role.ADMIN)
    assert client.get(f"/uploads/{uuid.uuid4()}/").status_code == 404
    assert client.post(f"/uploads/{uuid.uuid4()}/download").status_code == 404
    assert client.get("/uploads/not-a-uuid/").status_code == 404


def test_the_navigation_and_the_home_page_link_to_the_files(db) -> None:  # type: ignore[no-untyped-def]
    home = client_for(Role.VIEWER).get("/").content.decode()
    assert '<a href="/uploads/">Files</a>' in home
    assert '<a href="/uploads/">See all files</a>' in home


# --- one file's page -------------------------------------------------------------------------


@pytest.fixture
def send(django_capture_on_commit_callbacks, generous_rates):  # type: ignore[no-untyped-def]
    """A client uploads through the portal; processing runs on commit (Celery is eager)."""

    def send_file(token: str, body: bytes, *, filename: str, type_: str, name: str = "Ann Client") -> Upload:
        client = visitor_client()
        enter(client, token, name=name)
        with django_capture_on_commit_callbacks(execute=True):
            done = upload_file(client, token, body, filename=filename, type_=type_)
        return Upload.objects.get(key=done["key"])

    return send_file


def test_an_image_shows_its_real_thumbnail_through_a_signed_url(make_portal, send) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(processing=["thumbnails"])
    upload = send(token, make_image((900, 600), fmt="PNG"), filename="site photo.png", type_="image/png")
    derivative = Derivative.objects.get(upload=upload, kind="thumbnail")

    page = client_for(Role.VIEWER).get(f"/uploads/{upload.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    found = re.search(
        r'<img class="browse-thumbnail" src="([^"]+)" alt="Thumbnail of site photo.png" width="400" height="267">', text
    )
    assert found is not None, text
    thumbnail = requests.get(html.unescape(found.group(1)), timeout=10)
    assert thumbnail.status_code == 200
    assert thumbnail.content == s3.get_object_bytes(key=derivative.key)
    assert thumbnail.headers["Content-Type"] == "image/jpeg"
    # The facts: declared and what storage holds, the sender, the trail of processing.
    assert "image/png" in text
    assert "data-stored-object" in text
    assert upload.etag in text
    assert upload.key in text
    assert "Ann Client" in text
    trail = re.findall(r'<tr data-action="([^"]+)">', text)
    assert trail[0] == "upload.processed"  # newest first
    assert trail[-1] == "upload.registered" or "upload.registered" in trail
    assert "data-no-preview" not in text


def test_a_pdf_shows_its_page_count_and_the_start_of_its_text(make_portal, send) -> None:  # type: ignore[no-untyped-def]
    _, token = make_portal(processing=["document_text"])
    pages = [f"Page {n} " + "lorem ipsum dolor sit amet " * 5 for n in range(1, 25)]
    pdf = make_pdf(pages, title="Report <2025> & more", author="Smith & Co")
    upload = send(token, pdf, filename="report.pdf", type_="application/pdf")

    text = client_for(Role.VIEWER).get(f"/uploads/{upload.pk}/").content.decode()
    assert "<dd data-pages>24</dd>" in text
    assert "Report &lt;2025&gt; &amp; more" in text
    assert "Report <2025>" not in text
    excerpt = re.search(r"<pre [^>]*data-text-excerpt>(.*?)</pre>", text, re.S)
    assert excerpt is not None
    shown = html.unescape(excerpt.group(1))
    assert shown.startswith("Page 1 lorem ipsum")
    assert len(shown) == 2000  # the first 2,000 characters of a longer text
    assert "(the first part)" in text
    assert "Download all of the extracted text" in text


def test_other_files_say_there_is_no_preview(stored: Upload) -> None:
    text = client_for(Role.VIEWER).get(f"/uploads/{stored.pk}/").content.decode()
    assert "data-no-preview" in text
    assert "browse-thumbnail" not in text
    # What storage holds now, next to what was declared (11 bytes each).
    stored_object = re.search(r"<dd data-stored-object>(.*?)</dd>", text)
    assert stored_object is not None, text
    assert stored_object.group(1).startswith("11 bytes, type <code>application/pdf</code>"), (
        stored_object.group(1)
    )


def test_an_object_gone_from_storage_is_said(stored: Upload) -> None:
    s3.delete_object(key=stored.key)
    text = client_for(Role.VIEWER).get(f"/uploads/{stored.pk}/").content.decode()
    assert "The object is not in storage." in text


def test_the_audit_trail_is_newest_first_and_its_detail_is_text(stored: Upload) -> None:
    audit_record(action="test.note", upload=stored, detail={"reason": "<b>bold</b>", "items": [1, "<i>"]})
    text = client_for(Role.VIEWER).get(f"/uploads/{stored.pk}/").content.decode()
    actions = re.findall(r'<tr data-action="([^"]+)">', text)
    assert actions[0] == "test.note"
    assert actions[-1] == "upload.registered"
    assert "<b>bold</b>" not in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "<dt>Items</dt><dd>1, &lt;i&gt;</dd>" in text
    # Actions and fields in words, sizes the one way.
    assert '<span title="upload.stored">File stored</span>' in text
    assert "<dt>Stored size</dt><dd>11 bytes</dd>" in text


@pytest.mark.parametrize(
    ("text", "shown", "cut"),
    [
        ("é" * 3000, "é" * 2000, True),  # two bytes a character: the ranged read ends mid-text
        ("€" * 2000 + "x", "€" * 2000, True),
        ("short text ✓", "short text ✓", False),
        ("a" * 2000, "a" * 2000, False),
    ],
)
def test_the_text_excerpt_is_a_bounded_read_cut_on_a_character(
    stored: Upload, text: str, shown: str, cut: bool
) -> None:
    from dashboard.browse.file_page import _excerpt

    key = f"derived/{stored.pk}/text.txt"
    s3.put_object_bytes(key=key, body=text.encode("utf-8"), content_type="text/plain; charset=utf-8")
    derivative = Derivative.objects.create(
        upload=stored, kind="text", key=key, size=len(text.encode()), content_type="text/plain; charset=utf-8"
    )
    assert _excerpt(derivative) == (shown, cut)
