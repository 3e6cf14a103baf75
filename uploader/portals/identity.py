"""Who the client is sending files to: the business's name and how to reach it.

One identity for the whole site, from settings (INTAKE_BUSINESS_NAME,
INTAKE_BUSINESS_CONTACT_EMAIL, INTAKE_BUSINESS_CONTACT_PHONE). Client pages show it
instead of a portal's internal name, which is for staff only; a portal's `title` is its
client-facing heading.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from uploader.portals.models import Portal


@dataclass(frozen=True)
class BusinessIdentity:
    name: str
    contact_email: str
    contact_phone: str

    @property
    def has_contact(self) -> bool:
        return bool(self.contact_email or self.contact_phone)


def business_identity() -> BusinessIdentity:
    return BusinessIdentity(
        name=settings.INTAKE_BUSINESS_NAME,
        contact_email=settings.INTAKE_BUSINESS_CONTACT_EMAIL,
        contact_phone=settings.INTAKE_BUSINESS_CONTACT_PHONE,
    )


def client_title(portal: Portal) -> str:
    """The portal's heading as clients see it. A portal made without a title of its own
    got its internal name as title (uploader.portals.services.portal_create); that name is
    for staff, so clients see "Files for <business>" instead."""
    title = portal.title.strip()
    if title and title != portal.name.strip():
        return title
    business = settings.INTAKE_BUSINESS_NAME
    return f"Files for {business}" if business else "Send your files"
