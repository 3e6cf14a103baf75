"""The audit trail for admins: a filtered, paginated page and the same rows as a
streamed CSV. Both only read the trail, and each use of them is itself recorded
(`audit.viewed`, `audit.exported`, with the filters), since who looked at whose
history is part of that history."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from dashboard.access import page_requires
from dashboard.audit import selectors as audit_selectors
from dashboard.audit.forms import AuditFilterForm
from dashboard.audit.readable import ReadableEntry, action_choices, readable_entries
from uploader.access.roles import Permission
from uploader.audit.models import AuditEntry
from uploader.audit.services import audit_record
from uploader.uploads.keyset import keyset_page

PAGE_SIZE = 100
# Rows fetched per round trip while the CSV streams (a server-side cursor on PostgreSQL).
EXPORT_CHUNK_ROWS = 2000
CSV_HEADER = ("time", "actor", "action", "upload_id", "ip_address", "request_id", "detail")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection);
# a leading apostrophe makes it text. Tab and carriage return start formulas in some too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@page_requires(Permission.VIEW_AUDIT)
def audit_page(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    actions = audit_selectors.audit_actions(user=request.user)
    page = None
    count, capped = 0, False
    rows: list[ReadableEntry] = []
    kept = request.GET.copy()
    for name in ("page", "after", "before"):
        kept.pop(name, None)
    if form.is_valid():
        filters = form.filters()
        if filters.until_id is None:
            # Newest first, and this view itself adds an entry: without a fixed end the
            # next page would start one row later, repeating a row. Page and CSV links
            # carry `until`, so every page of this list reads the same rows.
            filters = dataclasses.replace(filters, until_id=audit_selectors.latest_entry_id(user=request.user))
            if filters.until_id is not None:
                kept["until"] = str(filters.until_id)
        entries = audit_selectors.audit_entries(user=request.user, filters=filters, known_actions=actions)
        after, before = form.cleaned_data.get("after") or None, form.cleaned_data.get("before") or None
        page = keyset_page(entries, sort=audit_selectors.AUDIT_NEWEST, size=PAGE_SIZE, after=after, before=before)
        count, capped = audit_selectors.count_capped(entries)
        rows = readable_entries(page.object_list)
        where: dict[str, Any] = {"after": after} if after else {"before": before} if before else {"page": 1}
        audit_record(action="audit.viewed", detail={**filters.as_detail(), **where})
    return render(
        request,
        "dashboard/audit/list.html",
        {
            "form": form,
            "actions": action_choices(actions),
            "page": page,
            "rows": rows,
            "filter_query": kept.urlencode(),
            "count": f"{count:,}{'+' if capped else ''}",
            "one": count == 1 and not capped,
        },
        status=200 if form.is_valid() else 400,
    )


@page_requires(Permission.VIEW_AUDIT)
def audit_export(request: HttpRequest) -> HttpResponseBase:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(str(error) for error in errors)}" for name, errors in form.errors.items()
        )
        return HttpResponse(
            f"The filters are not valid ({problems}).", status=400, content_type="text/plain; charset=utf-8"
        )
    filters = form.filters()
    entries = audit_selectors.audit_entries(user=request.user, filters=filters)
    # Recorded before the first row leaves, so an export cut short is still on record.
    audit_record(action="audit.exported", detail=filters.as_detail())
    response = StreamingHttpResponse(_csv_lines(entries), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="intake-audit-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


class _Echo:
    """csv.writer writes into this and gets the line back, so each row can be yielded."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_MINIMAL)
    yield writer.writerow(CSV_HEADER)
    for entry in entries.iterator(chunk_size=EXPORT_CHUNK_ROWS):
        yield writer.writerow(_csv_cells(_csv_row(entry)))


def _csv_row(entry: AuditEntry) -> tuple[str, ...]:
    return (
        timezone.localtime(entry.created_at).isoformat(timespec="seconds"),
        entry.actor_label,
        entry.action,
        str(entry.upload_id) if entry.upload_id else "",
        entry.ip_address or "",
        entry.request_id,
        audit_selectors.detail_text(entry.detail),
    )


def _csv_cells(values: Iterable[Any]) -> list[str]:
    return [neutralise_formula(str(value)) for value in values]


def neutralise_formula(cell: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
