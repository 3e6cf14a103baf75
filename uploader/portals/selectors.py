"""Reads of Portal rows and of what arrived through them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from uploader.notify.models import WebhookDelivery
from uploader.portals import tokens as portal_tokens
from uploader.portals.models import Portal
from uploader.uploads.models import Upload, UploadState, UploadTotal

# Uploads that use up a portal's file count and total: in flight (these) or arrived.
IN_FLIGHT_STATES = (UploadState.REGISTERED, UploadState.UPLOADING)


@dataclass(frozen=True)
class PortalUsage:
    files: int
    bytes: int


def portal_list() -> QuerySet[Portal]:
    """Every portal, newest first, with how many stored files it holds (from the kept
    totals, a few rows per portal, never its uploads)."""
    stored = (
        UploadTotal.objects.filter(portal_key=OuterRef("pk"), state=UploadState.STORED)
        .values("portal_key")
        .annotate(files=Sum("files"))
        .values("files")
    )
    return Portal.objects.annotate(stored_count=Coalesce(Subquery(stored), 0)).order_by("-created_at")


def portal_get(*, portal_id: int) -> Portal:
    return Portal.objects.get(pk=portal_id)


def portal_get_by_slug(*, slug: str) -> Portal:
    return Portal.objects.get(slug=slug)


def portal_find_by_token(*, token: str) -> Portal | None:
    """The portal this link token opens, or None; never says why."""
    if not portal_tokens.looks_like_token(token):
        return None
    portal = Portal.objects.filter(token_digest=portal_tokens.digest_of(token)).first()
    if portal is None or not portal_tokens.token_matches(
        token=token, nonce=portal.token_nonce, digest=portal.token_digest
    ):
        return None
    return portal


def portal_usage(*, portal: Portal, exclude: Upload | None = None) -> PortalUsage:
    """Files and bytes a portal has used: arrived files by their stored size (from the
    kept totals, however many there are), files in flight by their declared size (a
    partial index holds only those). `exclude`: an upload in flight not to count."""
    # A single-request registration holds its place only while its signed URL can
    # still be used: an abandoned one (a dropped PUT, a cancel) must not fill a small
    # portal for a day. A late arrival is still checked after it is stored.
    signed_until = timezone.now() - dt.timedelta(seconds=settings.INTAKE_PRESIGN_EXPIRES_SECONDS)
    in_flight = Upload.objects.filter(portal=portal, state__in=IN_FLIGHT_STATES).exclude(
        state=UploadState.REGISTERED, is_multipart=False, created_at__lt=signed_until
    )
    if exclude is not None:
        in_flight = in_flight.exclude(pk=exclude.pk)
    flying = in_flight.aggregate(files=Count("id"), bytes=Sum(Coalesce("stored_size", "declared_size", 0)))
    stored = UploadTotal.objects.filter(portal_key=portal.pk, state=UploadState.STORED).aggregate(
        files=Sum("files"), bytes=Sum("bytes")
    )
    return PortalUsage(
        files=(flying["files"] or 0) + (stored["files"] or 0), bytes=(flying["bytes"] or 0) + (stored["bytes"] or 0)
    )


def portal_uploads(*, portal: Portal) -> QuerySet[Upload]:
    return Upload.objects.filter(portal=portal).order_by("-created_at")


def portal_visitor_uploads(*, portal: Portal, visitor: str) -> QuerySet[Upload]:
    """What one browser session sent through the portal (the confirmation list)."""
    if not visitor:
        return Upload.objects.none()
    return Upload.objects.filter(portal=portal, portal_visitor=visitor).order_by("created_at")


# The portal page lists this many of a portal's latest webhook deliveries.
WEBHOOK_DELIVERIES_SHOWN = 20


def webhook_target_shown(url: str) -> str:
    """scheme://host[:port]/path of a webhook URL: what staff pages and the audit trail
    show. The query string (and any fragment or user:password@) is left out: receivers
    often take their secret there (`?token=…`)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"


def portal_webhook_deliveries(*, portal: Portal, limit: int = WEBHOOK_DELIVERIES_SHOWN) -> list[WebhookDelivery]:
    """The portal's latest webhook deliveries, newest first, in one query. The body
    (the whole JSON document) is not loaded: the page never shows it."""
    return list(WebhookDelivery.objects.filter(portal=portal).defer("body").order_by("-created_at", "-pk")[:limit])
