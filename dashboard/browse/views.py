"""The file browser: every file of the business, searchable and filtered, one page per
file with its preview and audit trail, and downloads. Thin: parse the form, read
through dashboard.browse.selectors, call the download service, render."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from dashboard.access import page_requires
from dashboard.browse import file_page
from dashboard.browse import selectors as browse_selectors
from dashboard.browse.forms import UploadFilterForm
from dashboard.browse.rows import browse_rows, file_rows_html
from dashboard.confirm import Confirmation, confirmed, render_confirm
from uploader.access.principals import signed_in_principal
from uploader.access.roles import Permission, has_permission
from uploader.uploads import deletion, downloads, file_notes
from uploader.uploads.errors import StorageUnavailable, UploadError, UploadNotFound, WrongState
from uploader.uploads.models import Upload, UploadState

PAGE_SIZE = 50


def _upload_or_404(request: HttpRequest, upload_id: uuid.UUID) -> Upload:
    try:
        return file_page.upload_for_browsing(user=request.user, upload_id=upload_id)
    except UploadNotFound:
        raise Http404("No such file.") from None


def _filter_form(request: HttpRequest) -> UploadFilterForm:
    """The list's filters as asked (the list and its count request read the same)."""
    return UploadFilterForm(
        request.GET or None, portals=browse_selectors.portal_choices(), tags=file_notes.tags_in_use()
    )


@require_GET
@page_requires(Permission.BROWSE)
def upload_list(request: HttpRequest) -> HttpResponse:
    """`/uploads/?q=&state=&portal=&kind=&uploaded_from=&uploaded_to=&size_min=&size_max=&sort=&after=|before=`.
    `after`/`before` are the cursors of the page links (keyset pages: page 500 costs
    what page 1 does). htmx (the form and the page links) asks for the results part
    only, except when it restores history it has no copy of (going back): then it swaps
    the whole body."""
    form = _filter_form(request)
    filters = form.filters()
    page, totals = browse_selectors.browse_results(
        user=request.user,
        filters=filters,
        size=PAGE_SIZE,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    can_download = has_permission(request.user, Permission.DOWNLOAD)
    partial = request.headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in request.headers
    response = render(
        request,
        "dashboard/uploads/_results.html" if partial else "dashboard/uploads/list.html",
        {
            "form": form,
            "page": page,
            "rows_html": file_rows_html(browse_rows(page.object_list), can_download=can_download),
            "totals": totals,
            "can_download": can_download,
            "partial": partial,
            "time_zone": settings.TIME_ZONE,
        },
    )
    # The same URL answers a whole page or a part; caches must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-History-Restore-Request"])
    return response


@require_GET
@page_requires(Permission.BROWSE)
def upload_totals(request: HttpRequest) -> HttpResponse:
    """`/uploads/totals/?` the list's filters: the totals line of a search, which the
    list loads after its rows (ADR 0015). htmx gets the line, and the announcement for
    screen readers out of band; a browser without scripts gets a small page."""
    totals = browse_selectors.search_totals(user=request.user, filters=_filter_form(request).filters())
    partial = request.headers.get("HX-Request") == "true"
    response = render(
        request,
        "dashboard/uploads/_totals_counted.html" if partial else "dashboard/uploads/totals.html",
        {"totals": totals, "list_query": request.GET.urlencode()},
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@page_requires(Permission.BROWSE)
def upload_detail(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    upload = _upload_or_404(request, upload_id)
    stored = upload.state == UploadState.STORED
    return render(
        request,
        "dashboard/uploads/detail.html",
        {
            "upload": upload,
            "kind": browse_selectors.kind_of(upload.declared_content_type),
            "stored_object": file_page.stored_object(upload=upload) if stored else None,
            "preview": file_page.upload_preview(user=request.user, upload=upload),
            "audit_trail": file_page.upload_audit_trail(upload=upload),
            "can_download": stored and has_permission(request.user, Permission.DOWNLOAD),
            "can_manage_portals": has_permission(request.user, Permission.MANAGE_PORTALS),
            # Client addresses and request ids are for those who may read the audit log
            # (admins), as on /audit/; everyone who browses sees the file's history.
            "can_view_audit": has_permission(request.user, Permission.VIEW_AUDIT),
            "can_annotate": has_permission(request.user, Permission.ANNOTATE_FILES),
            "tags": list(upload.tags.values_list("name", flat=True)),
            "note_max_chars": file_notes.NOTE_MAX_CHARS,
            "can_delete": upload.state != UploadState.DELETED
            and has_permission(request.user, Permission.DELETE_FILES),
            "preview_seconds": settings.INTAKE_DERIVATIVE_URL_SECONDS,
        },
    )


@require_POST
@page_requires(Permission.DOWNLOAD)
def upload_download(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """POST (a button, so a prefetch or a cross-site link cannot make one): the
    download service checks the role again, audits `upload.downloaded` and signs a
    short-lived URL, which the browser is sent to."""
    upload = _upload_or_404(request, upload_id)
    try:
        url = downloads.upload_download_url(principal=signed_in_principal(request.user), upload=upload)
    except (WrongState, StorageUnavailable) as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:upload-detail", upload_id=upload.pk)
    return HttpResponseRedirect(url)


@page_requires(Permission.DELETE_FILES)
def upload_delete(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """Asks first (dashboard.confirm); the confirmed POST deletes the object, its
    derived files and marks the upload deleted (uploads.deletion, audited). A refusal
    (S3 down, a rejected file) is said on the file's page; the file stays as it was."""
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    upload = _upload_or_404(request, upload_id)
    back = reverse("dashboard:upload-detail", kwargs={"upload_id": upload.pk})
    confirmation = Confirmation(
        title=f"Delete {upload.original_filename}?",
        message="The file and its previews are removed from storage for good. "
        "Its row and audit trail stay, marked deleted. This cannot be undone.",
        button="Delete the file",
        cancel_url=back,
        cancel_label="Cancel, keep the file",
        reason_label="Why",
    )
    if not confirmed(request):
        return render_confirm(request, confirmation)
    try:
        _, changed = deletion.upload_delete(actor=request.user, upload=upload, reason=request.POST.get("reason", ""))
    except UploadError as exc:
        # Nothing changed (S3 down or refusing, a file with nothing to delete): say so
        # on the same question, with the error's status (409, 503...), never a 500.
        messages.error(request, exc.message)
        return render_confirm(request, confirmation, status=exc.status)
    messages.success(request, "The file was deleted." if changed else "The file was already deleted.")
    return redirect(back)


@require_POST
@page_requires(Permission.ANNOTATE_FILES)
def upload_note(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """Save the file's note (audited), then back to its page."""
    upload = _upload_or_404(request, upload_id)
    try:
        changed = file_notes.upload_set_note(actor=request.user, upload=upload, note=request.POST.get("note", ""))
    except UploadError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Note saved." if changed else "The note was already so.")
    return redirect("dashboard:upload-detail", upload_id=upload.pk)


@require_POST
@page_requires(Permission.ANNOTATE_FILES)
def upload_tags(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    """Add a tag (`tag`) or take one off (`remove`), audited, then back to the page."""
    upload = _upload_or_404(request, upload_id)
    try:
        if "remove" in request.POST:
            if file_notes.upload_remove_tag(actor=request.user, upload=upload, tag=request.POST["remove"]):
                messages.success(request, f"Tag “{file_notes.normalize_tag(request.POST['remove'])}” removed.")
        else:
            tag, added = file_notes.upload_add_tag(actor=request.user, upload=upload, tag=request.POST.get("tag", ""))
            messages.success(request, f"Tag “{tag}” added." if added else f"The file already has the tag “{tag}”.")
    except UploadError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:upload-detail", upload_id=upload.pk)
