"""Who is calling the upload contract, and therefore what they may sign for and see.

The same views serve three kinds of caller:
- a signed-in person (session cookie), whose role says what they may do;
- a machine client with a Cognito access token (`Authorization: Bearer`), whose
  scopes say what it may do (uploader.access.machine);
- a client on a portal page (the portal's token in the URL), who may only upload to
  that portal and see what they uploaded there.

A principal carries the key scope and limits to register uploads with and the filter
that decides which uploads it can address: anything outside it is a 404, so ids and
keys cannot be probed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from uploader.access.roles import Permission, permissions_of
from uploader.uploads.limits import UploadLimits
from uploader.uploads.models import Upload

STAFF_SCOPE = "staff"


class Admission(Protocol):
    """A caller's own checks of a registration beyond `limits` (a document request's
    item: its accepted extensions, how many files), so the uploads package runs them
    without knowing whose they are."""

    def check(self, upload: Upload) -> None:
        """Before anything is signed or opened; raise an UploadError to refuse."""

    def admit(self, upload: Upload) -> None:
        """Again in the transaction that saves the registration, under a row lock."""


@dataclass(frozen=True)
class UploadPrincipal:
    owner: User | None
    scope: str
    limits: UploadLimits
    permissions: frozenset[Permission]
    # Which uploads this principal may address (sign parts for, complete, read).
    visible: Q
    # Extra Upload fields set on every registration (a portal sets its own).
    registration_fields: Mapping[str, Any] = field(default_factory=dict)
    # How the audit trail names the caller when there is no user ("portal:<slug>").
    audit_label: str = ""
    # Which uploads it may read through the read API (list, detail, download) when it
    # holds BROWSE/DOWNLOAD; None means the same as `visible`.
    browsable: Q | None = None
    admission: Admission | None = None

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions

    def uploads(self) -> QuerySet[Upload]:
        return Upload.objects.filter(self.visible)

    def readable_uploads(self) -> QuerySet[Upload]:
        return Upload.objects.filter(self.visible if self.browsable is None else self.browsable)


def signed_in_principal(user: Any) -> UploadPrincipal:
    """The signed-in person of a request (session), with their role's permissions: how
    the upload API and the staff pages present a person to the upload services."""
    return person_principal(cast(User, user), permissions_of(user))


def person_principal(user: User, permissions: frozenset[Permission]) -> UploadPrincipal:
    """A signed-in person or a machine client's user: signs for and completes only their
    own uploads (anyone else's is a 404), but with BROWSE reads the business's files."""
    return UploadPrincipal(
        owner=user,
        scope=STAFF_SCOPE,
        limits=UploadLimits.from_settings(),
        permissions=permissions,
        visible=Q(owner=user),
        browsable=Q() if Permission.BROWSE in permissions else Q(owner=user),
    )
