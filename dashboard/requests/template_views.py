"""Staff pages for the templates document requests are made from: list, make, edit,
delete. Admins only (Permission.MANAGE_REQUEST_TEMPLATES); Django admin keeps them too."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard.access import page_requires
from dashboard.requests.forms import TemplateForm, TemplateItemFormSet, initial_items
from uploader.access.roles import Permission
from uploader.requests import selectors, template_editing
from uploader.requests.models import RequestTemplate


def _template(template_id: int) -> RequestTemplate:
    try:
        return selectors.template_get(template_id=template_id)
    except RequestTemplate.DoesNotExist:
        raise Http404("No such template.") from None


@page_requires(Permission.MANAGE_REQUEST_TEMPLATES)
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/requests/templates.html", {"templates": selectors.template_list()})


@page_requires(Permission.MANAGE_REQUEST_TEMPLATES)
def template_edit(request: HttpRequest, template_id: int | None = None) -> HttpResponse:
    """A new template (no id) or one's name, description and items."""
    template = _template(template_id) if template_id is not None else None
    initial = {"name": template.name, "description": template.description} if template else None
    form = TemplateForm(request.POST or None, initial=initial)
    items = TemplateItemFormSet(
        request.POST or None, initial=initial_items(template) if template else None, prefix="items"
    )
    service_error = ""
    if request.method == "POST" and form.is_valid() and items.is_valid():
        specs = [f.spec() for f in items.forms if f.cleaned_data.get("title") and not f.cleaned_data.get("DELETE")]
        try:
            saved = template_editing.template_save(
                actor=request.user,
                template_id=template_id,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                items=specs,
            )
        except RequestTemplate.DoesNotExist:
            raise Http404("No such template.") from None
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                if name in form.fields:
                    form.add_error(name, errors)
                else:
                    service_error = " ".join(errors)
        else:
            messages.success(request, f"Template '{saved.name}' saved.")
            return redirect("dashboard:request-templates")
    return render(
        request,
        "dashboard/requests/template_edit.html",
        {"template": template, "form": form, "items": items, "service_error": service_error},
        status=400 if request.method == "POST" else 200,
    )


@page_requires(Permission.MANAGE_REQUEST_TEMPLATES)
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    """GET asks; POST deletes (requests made from it keep their items)."""
    template = _template(template_id)
    if request.method == "POST":
        try:
            template_editing.template_delete(actor=request.user, template_id=template_id)
        except RequestTemplate.DoesNotExist:
            raise Http404("No such template.") from None
        messages.success(request, f"Template '{template.name}' deleted.")
        return redirect("dashboard:request-templates")
    return render(request, "dashboard/requests/template_delete.html", {"template": template})
