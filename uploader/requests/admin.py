"""Request templates in Django admin, for admins (Permission.MANAGE_REQUEST_TEMPLATES):
the one place they are made and edited in this first step. Every save and delete is
audited (`request_template.saved`, `request_template.deleted`). Requests and their
items are shown read-only; they change only through uploader.requests.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from uploader.access.roles import Permission, has_permission
from uploader.audit.services import audit_record
from uploader.requests.models import DocumentRequest, RequestItem, RequestTemplate, TemplateItem
from uploader.requests.services import normalize_extensions


class TemplateItemForm(forms.ModelForm):
    class Meta:
        model = TemplateItem
        fields = (
            "position",
            "title",
            "instructions",
            "required",
            "allowed_extensions",
            "allowed_content_types",
            "max_files",
        )

    def clean_allowed_extensions(self) -> list[str]:
        value = self.cleaned_data.get("allowed_extensions") or []
        return normalize_extensions(value if isinstance(value, list) else str(value).split(","))


class TemplateItemInline(admin.StackedInline):
    model = TemplateItem
    form = TemplateItemForm
    extra = 1
    fields = (
        "position",
        "title",
        "instructions",
        "required",
        "allowed_extensions",
        "allowed_content_types",
        "max_files",
    )


def _may_manage(request: HttpRequest) -> bool:
    return has_permission(request.user, Permission.MANAGE_REQUEST_TEMPLATES)


@admin.register(RequestTemplate)
class RequestTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "updated_at")
    search_fields = ("name",)
    inlines = [TemplateItemInline]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _may_manage(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_manage(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_manage(request)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        formset.save()
        template = form.instance
        audit_record(
            action="request_template.saved",
            user=request.user,
            detail={"template": template.pk, "name": template.name, "items": template.items.count(), "new": not change},
        )

    def delete_model(self, request: HttpRequest, obj: RequestTemplate) -> None:
        audit_record(
            action="request_template.deleted", user=request.user, detail={"template": obj.pk, "name": obj.name}
        )
        super().delete_model(request, obj)


class ReadOnlyRequestAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DocumentRequest)
class DocumentRequestAdmin(ReadOnlyRequestAdmin):
    list_display = ("client_name", "company", "state", "due_date", "created_at")
    list_filter = ("state",)
    search_fields = ("client_name", "company")
    exclude = ("token_nonce", "token_digest")


@admin.register(RequestItem)
class RequestItemAdmin(ReadOnlyRequestAdmin):
    list_display = ("title", "request", "state", "required", "state_changed_at")
    list_filter = ("state",)
