"""Who the client is sending files to: the business's name and how to reach it.

One identity for the whole site, from settings (INTAKE_BUSINESS_NAME,
INTAKE_BUSINESS_CONTACT_EMAIL, INTAKE_BUSINESS_CONTACT_PHONE). Client pages show it
instead of a portal's internal name, which is for staff only; a portal's `title` is its
client-facing heading.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


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
