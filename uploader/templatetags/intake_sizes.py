"""`{% load intake_sizes %}` then `{{ value|bytes }}`: sizes the one way (uploader/uploads/sizes.py)."""

from __future__ import annotations

from django import template

from uploader.uploads.sizes import format_bytes

register = template.Library()


@register.filter(name="bytes")
def bytes_filter(value: int | float | None) -> str:
    return format_bytes(value)
