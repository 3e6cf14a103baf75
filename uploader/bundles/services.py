"""Asking for a bundle, and its download link. Checks the role, chooses the files
(stored, and usable under the malware scan), records, and enqueues the build on commit;
the bytes are the worker's (uploader.bundles.build), never a web process's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from uploader import s3
from uploader.access.principals import UploadPrincipal
from uploader.access.roles import NotAllowed, Permission
from uploader.audit.services import audit_record
from uploader.bundles.models import Bundle, BundleState
from uploader.bundles.naming import zip_segment
from uploader.portals.models import Portal
from uploader.requests.models import DocumentRequest
from uploader.uploads.errors import WrongState, storage_errors
from uploader.uploads.models import SCAN_USABLE, Upload, UploadState


def portal_files(portal: Portal) -> QuerySet[Upload]:
    return Upload.objects.filter(portal=portal, state=UploadState.STORED)


def request_files(document_request: DocumentRequest) -> QuerySet[Upload]:
    return Upload.objects.filter(request_item__request=document_request, state=UploadState.STORED)


def _bundle_create(
    *, principal: UploadPrincipal, files: QuerySet[Upload], name: str, source: dict[str, Any], **owner: Any
) -> Bundle:
    if not principal.may(Permission.DOWNLOAD):
        raise NotAllowed(Permission.DOWNLOAD)
    usable = files.filter(scan_state__in=SCAN_USABLE).order_by("created_at", "id")
    ids = [str(pk) for pk in usable.values_list("id", flat=True)]
    left_out = files.exclude(scan_state__in=SCAN_USABLE).count()
    if not ids:
        raise WrongState("There are no files to put in a zip yet (none stored, or the malware scan holds them).")
    same = _reusable(ids=ids, left_out=left_out, owner=owner)
    if same is not None:
        # A second press (or a colleague's) while the same files' zip is being made or
        # ready: that one is shown, not a second build.
        audit_record(
            action="bundle.requested",
            user=principal.owner,
            detail={**source, "bundle": str(same.pk), "files": len(ids), "left_out": left_out, "reused": True},
        )
        return same
    with transaction.atomic():
        bundle = Bundle.objects.create(
            created_by=principal.owner,
            upload_ids=ids,
            left_out=left_out,
            files_total=len(ids),
            filename=f"{zip_segment(name)[:150]}.zip",
            expires_at=timezone.now() + dt.timedelta(hours=settings.INTAKE_BUNDLE_EXPIRES_HOURS),
            **owner,
        )
        audit_record(
            action="bundle.requested",
            user=principal.owner,
            detail={**source, "bundle": str(bundle.pk), "files": len(ids), "left_out": left_out},
        )
        transaction.on_commit(lambda: _enqueue(bundle.pk), robust=True)
    return bundle


def _reusable(*, ids: list[str], left_out: int, owner: dict[str, Any]) -> Bundle | None:
    """A zip of exactly these files, queued, being made or ready, with at least an hour
    left before it expires."""
    soon = timezone.now() + dt.timedelta(hours=1)
    candidates = Bundle.objects.filter(
        **owner, state__in=[BundleState.QUEUED, BundleState.BUILDING, BundleState.READY], expires_at__gt=soon
    ).order_by("-created_at")[:5]
    return next((b for b in candidates if b.upload_ids == ids and b.left_out == left_out), None)


def _enqueue(bundle_id: Any) -> None:
    from uploader.bundles.tasks import build_bundle  # the tasks module imports this one

    build_bundle.delay(str(bundle_id))


def bundle_for_portal(*, principal: UploadPrincipal, portal: Portal) -> Bundle:
    """One zip of the portal's stored files the scan lets us use."""
    return _bundle_create(
        principal=principal,
        files=portal_files(portal),
        name=f"{portal.name} files",
        source={"portal": portal.pk},
        portal=portal,
    )


def bundle_for_request(*, principal: UploadPrincipal, document_request: DocumentRequest) -> Bundle:
    """One zip of the request's stored files, a folder per item."""
    return _bundle_create(
        principal=principal,
        files=request_files(document_request),
        name=f"{document_request.client_name} documents",
        source={"request": document_request.pk},
        document_request=document_request,
    )


def bundle_get(*, bundle_id: Any) -> Bundle:
    return Bundle.objects.select_related("portal", "document_request").get(pk=bundle_id)


def bundle_download_url(*, principal: UploadPrincipal, bundle: Bundle) -> str:
    """A short-lived URL of the ready zip, signed by S3 (the CDN serves the uploads
    prefix only); audited as one download listing the files in it."""
    if not principal.may(Permission.DOWNLOAD):
        raise NotAllowed(Permission.DOWNLOAD)
    if bundle.state != BundleState.READY or bundle.expires_at <= timezone.now():
        raise WrongState("This zip is not ready, or it has expired: ask for a new one.")
    with storage_errors("sign the zip's download"):
        url = s3.presign_get_object(
            key=bundle.key, expires_in=settings.INTAKE_DOWNLOAD_EXPIRES_SECONDS, filename=bundle.filename
        )
    audit_record(
        action="bundle.downloaded",
        user=principal.owner,
        detail={"bundle": str(bundle.pk), "files": bundle.upload_ids, "size": bundle.size},
    )
    return url
