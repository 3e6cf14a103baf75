"""Downloads through CloudFront or S3, end to end through the app's own URLs.

CloudFront cannot run here (nothing emulates it), so with it configured the answer is
checked the way CloudFront checks it (tests/unit/test_cloudfront.py's verifier, with
the public key made here); without it the S3 URL really fetches the bytes from the
emulator. Either way the audit entry records which path signed the URL.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.urls import reverse

from tests.unit.test_cloudfront import DOMAIN, KEY_ID, split_signed_url, verify
from uploader import s3
from uploader.access.principals import person_principal
from uploader.access.roles import NotAllowed, Permission
from uploader.audit.models import AuditEntry
from uploader.processing import services as processing
from uploader.processing.models import Derivative, DerivativeKind
from uploader.s3.presign import attachment_disposition
from uploader.uploads import downloads
from uploader.uploads.models import Upload

pytestmark = pytest.mark.integration

ORIGINAL_NAME = "Résumé 2026 + notes (final).pdf"
BODY = b"%PDF-1.4 the plan"


@pytest.fixture
def stored(api: Any) -> Upload:
    """A file the signed-in staff member uploaded through the contract."""
    created = api.get(
        "/api/s3/params", {"filename": ORIGINAL_NAME, "type": "application/pdf", "size": len(BODY)}
    ).json()
    requests.put(created["url"], data=BODY, headers=created["headers"], timeout=10).raise_for_status()
    assert api.post(f"/api/s3/complete?key={created['key']}").status_code == 200
    return Upload.objects.get(pk=created["id"])


def _download_entries(upload: Upload) -> list[dict[str, Any]]:
    return [entry.detail for entry in AuditEntry.objects.filter(action="upload.downloaded", upload=upload)]


def test_without_cloudfront_the_download_is_an_s3_url_that_fetches_the_bytes(
    api: Any, stored: Upload, settings, s3_emulator
) -> None:  # type: ignore[no-untyped-def]
    assert settings.INTAKE_CLOUDFRONT_DOMAIN == ""
    answer = api.get(f"/api/uploads/{stored.id}/download")
    assert answer.status_code == 302
    assert answer["Location"].startswith(s3_emulator.endpoint_url)
    fetched = requests.get(answer["Location"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == BODY
    assert fetched.headers["Content-Disposition"] == attachment_disposition(ORIGINAL_NAME)
    assert _download_entries(stored) == [{"via": "s3"}]


def test_with_cloudfront_the_download_is_a_signed_cloudfront_url(
    api: Any, stored: Upload, with_cloudfront: rsa.RSAPublicKey, settings
) -> None:  # type: ignore[no-untyped-def]
    answer = api.get(f"/api/uploads/{stored.id}/download")
    assert answer.status_code == 302
    url = answer["Location"]
    signing = verify(url, with_cloudfront)
    assert signing["Key-Pair-Id"] == KEY_ID
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", DOMAIN)
    assert unquote(parts.path[1:]) == stored.key
    resource, _ = split_signed_url(url)
    name, _, value = urlsplit(resource).query.partition("=")
    assert name == "response-content-disposition"
    assert unquote(value) == attachment_disposition(ORIGINAL_NAME)
    assert _download_entries(stored) == [{"via": "cloudfront"}]
    assert settings.INTAKE_S3_BUCKET not in url


def test_the_dashboards_download_link_answers_a_cloudfront_url(
    api: Any, stored: Upload, with_cloudfront: rsa.RSAPublicKey
) -> None:
    page = api.get("/").content.decode()
    (link,) = set(re.findall(rf'href="([^"]*{stored.id}[^"]*download[^"]*)"', page))
    answer = api.get(link)
    assert answer.status_code == 302
    verify(answer["Location"], with_cloudfront)
    assert answer["Location"].startswith(f"https://{DOMAIN}/")
    assert _download_entries(stored) == [{"via": "cloudfront"}]


def test_the_file_browsers_download_button_answers_a_cloudfront_url(
    api: Any, stored: Upload, with_cloudfront: rsa.RSAPublicKey
) -> None:
    answer = api.post(reverse("dashboard:upload-download", args=[stored.id]))
    assert answer.status_code == 302
    verify(answer["Location"], with_cloudfront)
    assert unquote(urlsplit(answer["Location"]).path[1:]) == stored.key
    assert _download_entries(stored) == [{"via": "cloudfront"}]


def test_only_stored_files_are_signed_and_nothing_is_audited_otherwise(
    api: Any, stored: Upload, with_cloudfront: rsa.RSAPublicKey
) -> None:
    Upload.objects.filter(pk=stored.pk).update(state="deleted")
    answer = api.get(f"/api/uploads/{stored.id}/download")
    assert answer.status_code == 409
    assert "Location" not in answer
    assert _download_entries(stored) == []


@pytest.fixture
def derivatives(stored: Upload) -> dict[str, Derivative]:
    made: dict[str, Derivative] = {}
    for kind, key, body, content_type in (
        (DerivativeKind.THUMBNAIL, f"derived/{stored.id}/thumbnail.png", b"\x89PNG thumb", "image/png"),
        (DerivativeKind.TEXT, f"derived/{stored.id}/text.txt", b"the plan, as text", "text/plain"),
    ):
        s3.put_object_bytes(key=key, body=body, content_type=content_type)
        made[kind] = Derivative.objects.create(
            upload=stored, kind=kind, key=key, size=len(body), content_type=content_type
        )
    return made


def test_derived_files_through_s3_fetch_their_bytes(derivatives: dict[str, Derivative], staff_user) -> None:  # type: ignore[no-untyped-def]
    principal = person_principal(staff_user, frozenset({Permission.BROWSE, Permission.DOWNLOAD}))
    thumbnail = requests.get(
        downloads.derived_file_url(principal=principal, derivative=derivatives[DerivativeKind.THUMBNAIL]), timeout=10
    )
    assert thumbnail.content == b"\x89PNG thumb"
    assert "Content-Disposition" not in thumbnail.headers  # shown inline
    text = requests.get(
        downloads.derived_file_url(principal=principal, derivative=derivatives[DerivativeKind.TEXT]), timeout=10
    )
    assert text.content == b"the plan, as text"
    assert text.headers["Content-Disposition"] == attachment_disposition("Résumé 2026 + notes (final).txt")


def test_derived_files_through_cloudfront_are_signed_and_need_browse(
    derivatives: dict[str, Derivative], staff_user, with_cloudfront: rsa.RSAPublicKey, settings
) -> None:  # type: ignore[no-untyped-def]
    principal = person_principal(staff_user, frozenset({Permission.BROWSE, Permission.DOWNLOAD}))
    before = int(time.time())
    thumbnail_url = downloads.derived_file_url(principal=principal, derivative=derivatives[DerivativeKind.THUMBNAIL])
    after = int(time.time())
    signing = verify(thumbnail_url, with_cloudfront)
    assert thumbnail_url.startswith(
        f"https://{DOMAIN}/derived/{derivatives[DerivativeKind.THUMBNAIL].upload_id}/thumbnail.png?Expires="
    )
    assert "response-content-disposition" not in thumbnail_url
    lifetime = settings.INTAKE_DERIVATIVE_URL_SECONDS
    assert before + lifetime <= int(signing["Expires"]) <= after + lifetime
    text_url = downloads.derived_file_url(principal=principal, derivative=derivatives[DerivativeKind.TEXT])
    verify(text_url, with_cloudfront)
    assert "response-content-disposition=attachment" in text_url

    with pytest.raises(NotAllowed):
        downloads.derived_file_url(
            principal=person_principal(staff_user, frozenset({Permission.UPLOAD})),
            derivative=derivatives[DerivativeKind.THUMBNAIL],
        )


def test_a_thumbnail_needs_browse_and_extracted_text_needs_download(
    derivatives: dict[str, Derivative], staff_user
) -> None:  # type: ignore[no-untyped-def]
    """A thumbnail is how people recognise a file; the extracted text is its content,
    so a role that may browse but not download gets the one and not the other."""
    browse_only = person_principal(staff_user, frozenset({Permission.BROWSE}))
    thumbnail = downloads.derived_file_url(principal=browse_only, derivative=derivatives[DerivativeKind.THUMBNAIL])
    assert requests.get(thumbnail, timeout=10).content == b"\x89PNG thumb"
    with pytest.raises(NotAllowed) as refused:
        downloads.derived_file_url(principal=browse_only, derivative=derivatives[DerivativeKind.TEXT])
    assert refused.value.permission == Permission.DOWNLOAD
    download_only = person_principal(staff_user, frozenset({Permission.DOWNLOAD}))
    with pytest.raises(NotAllowed):
        downloads.derived_file_url(principal=download_only, derivative=derivatives[DerivativeKind.TEXT])


def test_the_portal_pages_links_leave_out_the_text_for_a_role_that_may_not_download(
    derivatives: dict[str, Derivative], staff_user
) -> None:  # type: ignore[no-untyped-def]
    text = derivatives[DerivativeKind.TEXT]
    text.detail = {"pages": 3}
    text.save()
    upload = text.upload
    browse_only = person_principal(staff_user, frozenset({Permission.BROWSE, Permission.MANAGE_PORTALS}))
    links = processing.derivative_links([upload], principal=browse_only)[upload.pk]
    assert requests.get(links.thumbnail_url, timeout=10).content == b"\x89PNG thumb"
    assert (links.text_url, links.pages) == ("", 3)
    everyone = person_principal(staff_user, frozenset({Permission.BROWSE, Permission.DOWNLOAD}))
    full = processing.derivative_links([upload], principal=everyone)[upload.pk]
    assert requests.get(full.text_url, timeout=10).content == b"the plan, as text"
