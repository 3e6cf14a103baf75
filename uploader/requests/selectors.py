"""Reads of document requests: by link, by id, the staff list, items with their
files, a request's activity."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from uploader.audit.models import AuditEntry
from uploader.requests import tokens
from uploader.requests.models import (
    DocumentRequest,
    ItemState,
    RequestItem,
    RequestState,
    RequestTemplate,
    UploadDigest,
)
from uploader.uploads.keyset import Column, Sort, parse_int, parse_time
from uploader.uploads.models import Upload, UploadState

ACTIVITY_SHOWN = 200
REQUEST_SORTS = {"due": ("due_date", "-created_at"), "-due": ("-due_date", "-created_at"), "new": ("-created_at",)}
# The requests API's pages: newest first, by keyset (uploader.uploads.keyset), so a row
# made between two pages neither repeats nor is skipped.
REQUEST_NEWEST = Sort(
    (Column("created_at", parse_time, models.DateTimeField()), Column("id", parse_int, models.BigIntegerField())),
    descending=True,
)


def request_find_by_token(*, token: str) -> DocumentRequest | None:
    """The request this link token opens, or None; never says why."""
    if not tokens.looks_like_token(token):
        return None
    request = DocumentRequest.objects.filter(token_digest=tokens.digest_of(token)).first()
    if request is None or not tokens.token_matches(token=token, nonce=request.token_nonce, digest=request.token_digest):
        return None
    return request


def request_get(*, request_id: int) -> DocumentRequest:
    return DocumentRequest.objects.select_related("created_by", "template").get(pk=request_id)


def request_list(
    *, state: str = "", overdue: bool = False, sort: str = "due", client: str = ""
) -> QuerySet[DocumentRequest]:
    """Requests with their item counts; `overdue`: open and past their due date;
    `client`: part of the client's name, an e-mail address or the company (any case).
    Sorted by due date (soonest first, undated last) unless told otherwise."""
    requests = DocumentRequest.objects.annotate(
        item_count=Count("items"),
        accepted_count=Count("items", filter=Q(items__state=ItemState.ACCEPTED)),
        waiting_count=Count("items", filter=Q(items__state=ItemState.SUBMITTED)),
    )
    if state in RequestState.values:
        requests = requests.filter(state=state)
    if overdue:
        requests = requests.filter(state=RequestState.OPEN, due_date__lt=timezone.localdate())
    if client := client.strip():
        requests = requests.filter(
            Q(client_name__icontains=client) | Q(company__icontains=client) | Q(client_emails__icontains=client)
        )
    order = REQUEST_SORTS.get(sort, REQUEST_SORTS["due"])
    if order[0] == "due_date":
        return requests.order_by(F("due_date").asc(nulls_last=True), "-created_at")
    return requests.order_by(*order)


@dataclass(frozen=True)
class ItemWithFiles:
    item: RequestItem
    files: list[Upload]


def request_items_with_files(*, request: DocumentRequest) -> list[ItemWithFiles]:
    """Each item with its stored files, oldest first (two queries)."""
    stored = Upload.objects.filter(state=UploadState.STORED).order_by("stored_at", "id")
    items = RequestItem.objects.filter(request=request).prefetch_related(Prefetch("uploads", queryset=stored))
    return [ItemWithFiles(item=item, files=list(item.uploads.all())) for item in items]


def request_activity(*, request: DocumentRequest) -> list[AuditEntry]:
    """What staff, the client and the system did to this request, newest first."""
    return list(AuditEntry.objects.filter(detail__request=request.pk).order_by("-created_at", "-id")[:ACTIVITY_SHOWN])


def request_digests(*, request: DocumentRequest) -> dict[str, str]:
    """The SHA-256 of each file of the request computed so far, by upload id (text)."""
    rows = UploadDigest.objects.filter(upload__request_item__request=request).values_list("upload_id", "sha256")
    return {str(upload_id): sha256 for upload_id, sha256 in rows}


def template_list() -> QuerySet[RequestTemplate]:
    return RequestTemplate.objects.annotate(item_count=Count("items")).order_by("name")


def template_get(*, template_id: int) -> RequestTemplate:
    return RequestTemplate.objects.prefetch_related("items").get(pk=template_id)


def template_find(*, name_or_id: str) -> RequestTemplate | None:
    """The template a person named on the command line: its id, its exact name, or its
    name in any case when only one template has it."""
    text = name_or_id.strip()
    templates = RequestTemplate.objects.prefetch_related("items")
    by_id = templates.filter(pk=int(text)).first() if text.isascii() and text.isdigit() else None
    exact = by_id or templates.filter(name=text).first()
    if exact is not None:
        return exact
    matches = list(templates.filter(name__iexact=text)[:2])
    return matches[0] if len(matches) == 1 else None
