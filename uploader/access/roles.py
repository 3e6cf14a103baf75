"""Who may do what: three staff roles and the permissions each one carries.

A person's role comes from their Django groups, which sign-in keeps in step with
their Cognito groups (dashboard.signin.oidc). Superusers are admins whatever their groups
say, so the account `make run` creates can do everything. A machine client's
permissions come from its access token's scopes instead (uploader.access.machine).

Services check permissions themselves: portal and event services call
`require_permission(user, …)`, the upload services ask the caller's principal
(`UploadPrincipal.may`), which carries a person's role permissions or a machine
client's scopes. Views and templates may also ask `has_permission` to hide what a role
cannot use, but the check that matters is the service's.
"""

from __future__ import annotations

import enum
from typing import Any, cast

from django.core.exceptions import PermissionDenied


class Role(enum.StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    UPLOAD = "upload"
    BROWSE = "browse"
    DOWNLOAD = "download"
    MANAGE_PORTALS = "manage_portals"
    MANAGE_USERS = "manage_users"
    # The events page: dead letters (replay, discard) and stuck ledger rows (retry).
    MANAGE_EVENTS = "manage_events"
    # The audit trail page and its CSV export (dashboard.audit.views); admins only,
    # since entries name people, their addresses and what they did.
    VIEW_AUDIT = "view_audit"
    # Deleting a client's file for good (uploader.uploads.deletion): admins only, since
    # it cannot be undone.
    DELETE_FILES = "delete_files"
    # A note and tags on a file's page (uploader.uploads.file_notes).
    ANNOTATE_FILES = "annotate_files"
    # Placing and lifting a legal hold, on a file or on all of a portal's files
    # (uploader.retention.holds): admins only, since a hold overrides deletion.
    LEGAL_HOLD = "legal_hold"
    # Document requests (dashboard.requests): make them, review their items.
    MANAGE_REQUESTS = "manage_requests"
    # The templates requests are made from (Django admin); admins only.
    MANAGE_REQUEST_TEMPLATES = "manage_request_templates"
    # Malware scanning (uploader.scanning): release a file the scanner could not scan,
    # with a reason; read an infected file kept in quarantine. Admins only.
    RELEASE_FILES = "release_files"
    READ_QUARANTINE = "read_quarantine"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.STAFF: frozenset(
        {
            Permission.UPLOAD,
            Permission.BROWSE,
            Permission.DOWNLOAD,
            Permission.MANAGE_PORTALS,
            Permission.ANNOTATE_FILES,
            Permission.MANAGE_REQUESTS,
        }
    ),
    Role.VIEWER: frozenset({Permission.BROWSE, Permission.DOWNLOAD}),
}

# The Django group that stands for each role. Sign-in adds and removes people from
# these groups; an admin may also do it by hand in Django admin.
ROLE_GROUP_NAMES: dict[Role, str] = {
    Role.ADMIN: "intake-admin",
    Role.STAFF: "intake-staff",
    Role.VIEWER: "intake-viewer",
}

# Where auth_backends puts the user's role group names when it loads the user.
ROLE_GROUPS_ATTRIBUTE = "_intake_role_groups"

# Strongest first: someone in several role groups gets the strongest.
ROLES_BY_STRENGTH: tuple[Role, ...] = (Role.ADMIN, Role.STAFF, Role.VIEWER)


class NotAllowed(PermissionDenied):
    """The actor is known but their role does not allow this action."""

    def __init__(self, permission: Permission) -> None:
        super().__init__(f"Your role does not allow this ({permission.value.replace('_', ' ')}).")
        self.permission = permission


def role_of(user: Any) -> Role | None:
    """The user's role, or None when they have none (signed out, inactive, or in no
    role group). Cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = getattr(user, "_intake_role", _UNSET)
    if cached is not _UNSET:
        return cast(Role | None, cached)
    role: Role | None
    if user.is_superuser:
        role = Role.ADMIN
    else:
        loaded = getattr(user, ROLE_GROUPS_ATTRIBUTE, None)
        # Loaded with the user (auth_backends.with_role_groups: one query per request
        # for both), or asked for now.
        names = set(loaded) if loaded is not None else set(user.groups.values_list("name", flat=True))
        role = next((r for r in ROLES_BY_STRENGTH if ROLE_GROUP_NAMES[r] in names), None)
        # A staff account made by hand (createsuperuser aside) with no role group
        # keeps working as staff; Django's own flag is the older contract.
        if role is None and user.is_staff:
            role = Role.STAFF
    user._intake_role = role
    return role


def permissions_of(user: Any) -> frozenset[Permission]:
    """What the user (or machine principal) may do. Machine principals carry their
    permissions themselves (`intake_permissions`)."""
    carried = getattr(user, "intake_permissions", None)
    if carried is not None:
        return frozenset(carried)
    role = role_of(user)
    return ROLE_PERMISSIONS[role] if role is not None else frozenset()


def has_permission(user: Any, permission: Permission) -> bool:
    return permission in permissions_of(user)


def require_permission(user: Any, permission: Permission) -> None:
    """Raise NotAllowed unless the user may do this. Services call it first."""
    if not has_permission(user, permission):
        raise NotAllowed(permission)


def forget_cached_role(user: Any) -> None:
    """Drop the per-request cache after the user's groups changed."""
    if hasattr(user, "_intake_role"):
        del user._intake_role
    if hasattr(user, ROLE_GROUPS_ATTRIBUTE):
        delattr(user, ROLE_GROUPS_ATTRIBUTE)


_UNSET = object()
