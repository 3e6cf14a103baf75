"""`user|may:"permission"`: whether to show an action a role allows (the service checks again)."""

from typing import Any

from django import template

from uploader.access.roles import Permission, has_permission

register = template.Library()


@register.filter
def may(user: Any, permission: str) -> bool:
    return has_permission(user, Permission(permission))
