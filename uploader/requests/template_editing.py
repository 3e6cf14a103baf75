"""Admins make, edit and delete request templates on the staff pages (Django admin
does the same; both audit `request_template.saved` / `request_template.deleted`).

A save replaces the template's items with the ones given, checked as a request's
items are; requests made from it earlier keep their own copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from uploader.access.roles import Permission, require_permission
from uploader.audit.services import audit_record
from uploader.requests.models import DocumentRequest, RequestTemplate, TemplateItem
from uploader.requests.services import ItemSpec, _item_rows

ITEM_FIELDS = ("title", "instructions", "required", "allowed_extensions", "allowed_content_types", "max_files")


def template_save(
    *, actor: Any, name: str, items: Sequence[ItemSpec], description: str = "", template_id: int | None = None
) -> RequestTemplate:
    """Make a template (no id) or replace one's name, description and items, in one
    transaction; ValidationError by field, DoesNotExist for an unknown id."""
    require_permission(actor, Permission.MANAGE_REQUEST_TEMPLATES)
    name = name.strip()[:120]
    if not name:
        raise ValidationError({"name": "Give the template a name."})
    # Checked as a request's items are (a throwaway request row is never saved).
    rows = _item_rows(DocumentRequest(), items)
    with transaction.atomic():
        if template_id is None:
            template = RequestTemplate(name=name, description=description.strip())
        else:
            template = RequestTemplate.objects.select_for_update().get(pk=template_id)
            template.name, template.description = name, description.strip()
        try:
            with transaction.atomic():
                template.save()
        except IntegrityError:
            raise ValidationError({"name": "Another template has this name."}) from None
        template.items.all().delete()
        TemplateItem.objects.bulk_create(
            TemplateItem(template=template, position=row.position, **{f: getattr(row, f) for f in ITEM_FIELDS})
            for row in rows
        )
        audit_record(
            action="request_template.saved",
            user=actor,
            detail={"template": template.pk, "name": template.name, "items": len(rows), "new": template_id is None},
        )
    return template


def template_delete(*, actor: Any, template_id: int) -> None:
    """Delete a template; requests made from it keep their items. DoesNotExist when gone."""
    require_permission(actor, Permission.MANAGE_REQUEST_TEMPLATES)
    with transaction.atomic():
        template = RequestTemplate.objects.select_for_update().get(pk=template_id)
        audit_record(
            action="request_template.deleted", user=actor, detail={"template": template.pk, "name": template.name}
        )
        template.delete()
