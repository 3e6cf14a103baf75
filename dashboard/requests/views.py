"""Staff pages for document requests: the list, a new request (from a template,
items editable), a request's page with per-item review and its activity, editing a
request after it is made, reopening a closed one. Staff and
admins (Permission.MANAGE_REQUESTS); the services check the role again."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import page_requires
from dashboard.requests.forms import (
    ItemEditFormSet,
    ItemFormSet,
    ReasonForm,
    RequestEditForm,
    RequestFilterForm,
    RequestNewForm,
    initial_items,
    item_rows_of,
)
from uploader.access.roles import Permission, has_permission
from uploader.requests import editing, reminders, selectors, services
from uploader.requests.errors import ItemWrongState
from uploader.requests.models import DocumentRequest, RequestItem, RequestState, RequestTemplate
from uploader.requests.services import ReviewResult

LIST_SHOWN = 200

# The activity in words (the audit action stays beside it for searching the trail).
ACTIVITY_LABELS = {
    "request.created": "Request made",
    "request.item_submitted": "Client sent a file",
    "request.item_files_gone": "Its files are gone; waiting for files again",
    "request.item_accepted": "Accepted",
    "request.item_changes_requested": "Sent back",
    "request.client_emailed": "Client e-mailed",
    "request.client_not_emailed": "E-mail to the client failed",
    "request.closed": "Request closed",
    "request.staff_told": "Staff e-mailed",
    "request.staff_not_told": "No staff e-mail sent",
    "request.reminder_sent": "Reminder sent",
    "request.reminder_not_sent": "Reminder could not be sent",
    "request.reminders_paused": "Client will send it later: reminders paused",
    "request.complete_waiting": "Complete: waiting for staff to close it",
    "request.receipt_sent": "Receipt sent to the client",
    "request.receipt_not_sent": "Receipt could not be sent",
    "request.edited": "Request edited",
    "request.item_added": "Item added",
    "request.item_edited": "Item edited",
    "request.item_removed": "Item removed",
    "request.reopened": "Request reopened",
    "request.code_sent": "Code e-mailed to the client",
    "request.code_not_sent": "Code asked for, not sent",
    "request.code_verified": "Client entered the code",
    "request.code_failed": "Wrong or expired code",
    "request.password_verified": "Client entered the password",
    "request.password_failed": "Wrong password",
}


def _template(template_id: int) -> RequestTemplate:
    try:
        return selectors.template_get(template_id=template_id)
    except RequestTemplate.DoesNotExist:
        raise Http404("No such template.") from None


def _request(request_id: int) -> DocumentRequest:
    try:
        return selectors.request_get(request_id=request_id)
    except DocumentRequest.DoesNotExist:
        raise Http404("No such request.") from None


@page_requires(Permission.MANAGE_REQUESTS)
def request_list(request: HttpRequest) -> HttpResponse:
    form = RequestFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = selectors.request_list(
        state=filters.get("state", ""),
        overdue=bool(filters.get("overdue")),
        sort=filters.get("sort") or "due",
        client=filters.get("client", ""),
    )[:LIST_SHOWN]
    return render(
        request,
        "dashboard/requests/list.html",
        {
            "form": form,
            "rows": rows,
            "today": timezone.localdate(),
            "open": RequestState.OPEN,
            "can_manage_templates": has_permission(request.user, Permission.MANAGE_REQUEST_TEMPLATES),
        },
    )


def _template_of(request: HttpRequest) -> RequestTemplate | None:
    value = request.POST.get("template") or request.GET.get("template") or ""
    if not value.isdigit():
        return None
    try:
        return selectors.template_get(template_id=int(value))
    except RequestTemplate.DoesNotExist:
        return None


@page_requires(Permission.MANAGE_REQUESTS)
def request_new(request: HttpRequest) -> HttpResponse:
    """GET ?template=<id> fills the items from that template; POST makes the request."""
    template = _template_of(request)
    form = RequestNewForm(
        request.POST or None, initial={"retention_days": template.retention_days if template else None}
    )
    # Retention deletes files for good: staff see the template's choice, only admins change it.
    form.fields["retention_days"].disabled = not has_permission(request.user, Permission.DELETE_FILES)
    initial = initial_items(template) if template else None
    items = ItemFormSet(request.POST or None, initial=initial, prefix="items")
    service_error = ""
    if request.method == "POST" and form.is_valid() and items.is_valid():
        # Rows left empty or marked for removal are not items.
        specs = [f.spec() for f in items.forms if f.cleaned_data.get("title") and not f.cleaned_data.get("DELETE")]
        try:
            created = services.request_create(
                actor=request.user,
                client_name=form.cleaned_data["client_name"],
                client_emails=form.emails(),
                company=form.cleaned_data["company"],
                due_date=form.cleaned_data["due_date"],
                items=specs,
                template=template,
                reminders=form.schedule(),
                waits_for_staff=form.cleaned_data["waits_for_staff"],
                retention_days=form.cleaned_data["retention_days"],
                require_code=form.cleaned_data["require_code"],
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                if name in form.fields:
                    form.add_error(name, errors)
                else:
                    service_error = " ".join(errors)
        else:
            messages.success(request, "Request made. Copy its link below and send it to your client.")
            return redirect("dashboard:request-detail", request_id=created.pk)
    failed = request.method == "POST"
    return render(
        request,
        "dashboard/requests/new.html",
        {
            "form": form,
            "items": items,
            "template": template,
            "templates": selectors.template_list(),
            "service_error": service_error,
        },
        status=400 if failed else 200,
    )


@page_requires(Permission.MANAGE_REQUESTS)
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    document_request = _request(request_id)
    items = selectors.request_items_with_files(request=document_request)
    return render(
        request,
        "dashboard/requests/detail.html",
        {
            "document_request": document_request,
            "link": services.request_link(document_request),
            "items": items,
            "waiting": sum(1 for entry in items if entry.item.state == "submitted"),
            "activity": [
                (entry, ACTIVITY_LABELS.get(entry.action, entry.action))
                for entry in selectors.request_activity(request=document_request)
            ],
            "reason_form": ReasonForm(),
            "is_open": document_request.state == RequestState.OPEN,
            "next_reminder": reminders.next_reminder(document_request),
            "schedule_words": schedule_in_words(reminders.schedule_of(document_request)),
            "complete": document_request.state == RequestState.OPEN
            and all(entry.item.state == "accepted" for entry in items if entry.item.required),
            "digests": _with_digests(items, selectors.request_digests(request=document_request)),
            "today": timezone.localdate(),
            "can_download": has_permission(request.user, Permission.DOWNLOAD),
        },
    )


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def schedule_in_words(schedule: reminders.Schedule) -> str:
    """ "3 days before the due date, on the due date, …" for the request's page."""
    parts = []
    if schedule.days_before_due:
        parts.append(f"{_days(schedule.days_before_due)} before the due date")
    if schedule.on_due_date:
        parts.append("on the due date")
    if schedule.overdue_every_days:
        parts.append(f"every {_days(schedule.overdue_every_days)} while overdue")
    if schedule.nothing_received_days:
        parts.append(f"when nothing has arrived after {_days(schedule.nothing_received_days)}")
    return ", ".join(parts).capitalize() if parts else "None"


def _with_digests(items: list[selectors.ItemWithFiles], digests: dict[str, str]) -> int:
    """Each file gets its SHA-256 (empty until the worker has computed it)."""
    for entry in items:
        for upload in entry.files:
            upload.sha256 = digests.get(str(upload.pk), "")  # type: ignore[attr-defined]
    return len(digests)


def _review(request: HttpRequest, request_id: int, action: str, **kwargs: object) -> HttpResponse:
    """Run one review service and say what happened on the request's page."""
    review: dict[str, Callable[..., ReviewResult]] = {
        "accept": services.item_accept,
        "changes": services.item_request_changes,
        "accept-all": services.request_accept_all,
        "close": services.request_close,
    }
    try:
        result = review[action](actor=request.user, request_id=request_id, **kwargs)
    except (DocumentRequest.DoesNotExist, RequestItem.DoesNotExist):
        raise Http404("No such request or item.") from None
    except ItemWrongState as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if action == "close":
            messages.success(request, "The request is closed; the client's receipt is on its way.")
        elif action == "changes":
            messages.success(
                request,
                "Sent back. The client was e-mailed the reason and the link."
                if result.emailed
                else "Sent back, but the e-mail to the client could not be sent; send them the link yourself.",
            )
        else:
            messages.success(request, f"Accepted {result.moved} item{'s' if result.moved != 1 else ''}.")
        if result.waiting:
            messages.success(request, "Every required item is accepted: close the request when you are ready.")
        if result.closed and action != "close":
            messages.success(request, "Every required item is accepted: the request is closed.")
    return redirect("dashboard:request-detail", request_id=request_id)


@require_POST
@page_requires(Permission.MANAGE_REQUESTS)
def item_accept(request: HttpRequest, request_id: int, item_id: int) -> HttpResponse:
    return _review(request, request_id, "accept", item_id=item_id)


@require_POST
@page_requires(Permission.MANAGE_REQUESTS)
def item_changes(request: HttpRequest, request_id: int, item_id: int) -> HttpResponse:
    return _review(request, request_id, "changes", item_id=item_id, reason=request.POST.get("reason", ""))


@require_POST
@page_requires(Permission.MANAGE_REQUESTS)
def accept_all(request: HttpRequest, request_id: int) -> HttpResponse:
    return _review(request, request_id, "accept-all")


@require_POST
@page_requires(Permission.MANAGE_REQUESTS)
def request_close(request: HttpRequest, request_id: int) -> HttpResponse:
    return _review(request, request_id, "close")


def _edit_changes(form: RequestEditForm, items: BaseFormSet, known: set[int]) -> editing.RequestChanges:
    """The edit as the service takes it: rows with an id edit (or remove) that item;
    filled rows without one are new items; empty rows are nothing."""
    edited, remove, add = {}, [], []
    for row in items.forms:
        data = row.cleaned_data
        item_id = data.get("item_id")
        if item_id in known:
            if data.get("DELETE"):
                remove.append(item_id)
            elif data.get("title"):
                edited[item_id] = row.spec()
            else:
                raise ValidationError({"items": "Give each item a title, or tick 'Remove this item'."})
        elif data.get("title") and not data.get("DELETE"):
            add.append(row.spec())
    data = form.cleaned_data
    return editing.RequestChanges(
        client_name=data["client_name"],
        client_emails=form.emails(),
        company=data["company"],
        due_date=data["due_date"],
        require_code=data["require_code"],
        password=data["password"],
        clear_password=data["clear_password"],
        reminders=form.schedule(),
        send_reminders=data["send_reminders"],
        items=edited,
        remove=remove,
        add=add,
    )


@page_requires(Permission.MANAGE_REQUESTS)
def request_edit(request: HttpRequest, request_id: int) -> HttpResponse:
    """Change the client's details, the due date, the code, the reminders and the items of an open request."""
    document_request = _request(request_id)
    if document_request.state != RequestState.OPEN:
        messages.error(request, "This request is closed; reopen it to change it.")
        return redirect("dashboard:request-detail", request_id=request_id)
    current = list(RequestItem.objects.filter(request=document_request))
    initial = {
        "client_name": document_request.client_name,
        "client_emails": ", ".join(document_request.client_emails),
        "company": document_request.company,
        "due_date": document_request.due_date,
        "require_code": document_request.require_code,
        "send_reminders": document_request.send_reminders,
        **RequestEditForm.initial_of(reminders.schedule_of(document_request)),
    }
    form = RequestEditForm(request.POST or None, initial=initial)
    items = ItemEditFormSet(request.POST or None, initial=item_rows_of(current), prefix="items")
    service_error = ""
    if request.method == "POST" and form.is_valid() and items.is_valid():
        try:
            result = editing.request_edit(
                actor=request.user,
                request_id=request_id,
                changes=_edit_changes(form, items, {item.pk for item in current}),
            )
        except (DocumentRequest.DoesNotExist, RequestItem.DoesNotExist):
            raise Http404("No such request or item.") from None
        except ItemWrongState as exc:
            service_error = exc.message
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                if name in form.fields:
                    form.add_error(name, errors)
                else:
                    service_error = " ".join(errors)
        else:
            messages.success(request, "Saved." if result.changed else "Nothing changed.")
            if result.closed:
                messages.success(request, "Every required item is accepted: the request is closed.")
            return redirect("dashboard:request-detail", request_id=request_id)
    return render(
        request,
        "dashboard/requests/edit.html",
        {
            "document_request": document_request,
            "form": form,
            "items": items,
            "removable": {item.pk for item in current if item.state == "outstanding"},
            "service_error": service_error,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@page_requires(Permission.MANAGE_REQUESTS)
def request_reopen(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        reopened = editing.request_reopen(actor=request.user, request_id=request_id)
    except DocumentRequest.DoesNotExist:
        raise Http404("No such request.") from None
    messages.success(request, "Reopened: its link works again." if reopened else "It was open already.")
    return redirect("dashboard:request-detail", request_id=request_id)
