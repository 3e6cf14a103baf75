"""`{% load intake_roles %}{% if user|may:"manage_portals" %}`: show only what a role can use.
The services check again; this only keeps pages from offering what would be refused."""

from typing import Any

from django import template

from uploader.access.roles import Permission, has_permission

register = template.Library()


@register.filter
def may(user: Any, permission: str) -> bool:
    return has_permission(user, Permission(permission))
