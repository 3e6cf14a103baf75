"""The document requests API: list and make requests, read one with its items and
files, and review it (accept an item, send one back with a reason, accept all, close).

For signed-in staff (their role's `MANAGE_REQUESTS`, as on /requests/) and machine
clients whose token has the scope `<prefix>/requests`. The upload contract's decorator
(uploader.api.decorators.contract_api) resolves the caller, runs the cross-site and
CSRF guards and turns refusals into JSON: 400 bad input, 401/403, 404 no such request
or item (an item of another request is one), 409 a state that does not allow it. Each
view binds its call's form, calls one service of uploader.requests.services (which
checks the role again, moves states through the one writer and audits as the staff
pages do) and shapes the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from uploader.access.roles import Permission
from uploader.api.decorators import contract_api
from uploader.api.forms import json_body
from uploader.requests import selectors, services
from uploader.requests.api import answers
from uploader.requests.api.forms import RequestCreateForm, RequestListForm, SendBackForm
from uploader.requests.errors import RequestNotFound
from uploader.requests.models import DocumentRequest, RequestItem, RequestTemplate
from uploader.requests.services import ReviewResult
from uploader.uploads.errors import InvalidInput
from uploader.uploads.keyset import BadCursor, keyset_page

PAGE_SIZE = 100

# The services' field names as the API spells them (for `field` in a 400).
FIELD_NAMES = {
    "client_name": "clientName",
    "client_emails": "clientEmails",
    "company": "company",
    "due_date": "dueDate",
    "items": "items",
    "retention_days": "retentionDays",
    "reason": "reason",
}


@contextmanager
def _service_refusals() -> Iterator[None]:
    """A service's ValidationError as a 400 naming the field; a request or item that is
    not there (or not this request's) as a 404."""
    try:
        yield
    except (DocumentRequest.DoesNotExist, RequestItem.DoesNotExist):
        raise RequestNotFound("No such request, or no such item of this request.") from None
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            name, messages = next(iter(exc.message_dict.items()))
            raise InvalidInput(" ".join(messages)[:500], field=FIELD_NAMES.get(name, name)) from None
        raise InvalidInput(" ".join(exc.messages)[:500]) from None


def _get(request_id: int) -> DocumentRequest:
    with _service_refusals():
        return selectors.request_get(request_id=request_id)


@require_http_methods(["GET", "POST"])
@contract_api(Permission.MANAGE_REQUESTS)
def request_collection(request: HttpRequest) -> HttpResponse:
    """`GET requests` lists, `POST requests` makes one."""
    return _create(request) if request.method == "POST" else _list(request)


def _list(request: HttpRequest) -> HttpResponse:
    """Newest first, 100 at a time; `next` is the `before` of the following page (a
    keyset cursor, as `GET uploads` pages)."""
    data = RequestListForm(request.GET).values()
    rows = selectors.request_list(state=data["state"], overdue=data["overdue"], client=data["client"])
    try:
        page = keyset_page(rows, sort=selectors.REQUEST_NEWEST, size=PAGE_SIZE, after=data["before"] or None)
    except BadCursor:
        raise InvalidInput("before must be the next value of a page.", field="before") from None
    return JsonResponse(
        {"requests": [answers.request_summary(request, row) for row in page.object_list], "next": page.next_cursor}
    )


def _create(request: HttpRequest) -> HttpResponse:
    body = json_body(request)
    form = RequestCreateForm(body)
    data = form.values()
    template = None
    if data["template"] is not None:
        try:
            template = selectors.template_get(template_id=data["template"])
        except RequestTemplate.DoesNotExist:
            raise InvalidInput("No such template.", field="template") from None
    items = form.item_specs()
    if items is None:
        if template is None:
            raise InvalidInput("Give the items, or a template to copy them from.", field="items")
        items = services.template_item_specs(template)
    with _service_refusals():
        made = services.request_create(
            actor=request.user,
            client_name=data["clientName"],
            client_emails=data["clientEmails"],
            company=data["company"],
            due_date=data["dueDate"],
            items=items,
            template=template,
            reminders=form.schedule(),
            waits_for_staff=data["waitsForStaff"],
            # Left out: the template's (an admin's choice); given, only admins may differ from it.
            retention_days=data["retentionDays"] if "retentionDays" in body else services.FROM_TEMPLATE,
            require_code=data["requireCode"],
        )
    answer = answers.request_detail(request, _get(made.pk))
    response = JsonResponse(answer, status=201)
    response["Location"] = answer["location"]
    return response


@require_GET
@contract_api(Permission.MANAGE_REQUESTS)
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    return JsonResponse(answers.request_detail(request, _get(request_id)))


def _review(
    request: HttpRequest, request_id: int, service: Callable[..., ReviewResult], **kwargs: object
) -> HttpResponse:
    with _service_refusals():
        result = service(actor=request.user, request_id=request_id, **kwargs)
    return JsonResponse(answers.review_answer(request, _get(request_id), result))


@require_POST
@contract_api(Permission.MANAGE_REQUESTS)
def item_accept(request: HttpRequest, request_id: int, item_id: int) -> HttpResponse:
    return _review(request, request_id, services.item_accept, item_id=item_id)


@require_POST
@contract_api(Permission.MANAGE_REQUESTS)
def item_send_back(request: HttpRequest, request_id: int, item_id: int) -> HttpResponse:
    """`{reason}`: the client is e-mailed the reason and the link at once (`emailed` says
    whether the mail server took it)."""
    reason = SendBackForm(json_body(request)).values()["reason"]
    return _review(request, request_id, services.item_request_changes, item_id=item_id, reason=reason)


@require_POST
@contract_api(Permission.MANAGE_REQUESTS)
def request_accept_all(request: HttpRequest, request_id: int) -> HttpResponse:
    return _review(request, request_id, services.request_accept_all)


@require_POST
@contract_api(Permission.MANAGE_REQUESTS)
def request_close(request: HttpRequest, request_id: int) -> HttpResponse:
    """Close a complete request that waits for staff; the client's receipt goes."""
    return _review(request, request_id, services.request_close)
