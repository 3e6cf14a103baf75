"""`manage.py portal_list`: the portals, their state and limits, optionally their links."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from uploader.portals.selectors import portal_list
from uploader.portals.services import portal_is_open, portal_link


class Command(BaseCommand):
    help = "List client upload portals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--links", action="store_true", help="Also print each portal's link.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for portal in portal_list():
            if portal_is_open(portal, now=now):
                state = "open"
            elif not portal.is_active:
                state = "disabled"
            else:
                state = "expired"
            expires = portal.expires_at.isoformat(timespec="minutes") if portal.expires_at else "never"
            line = (
                f"{portal.slug}\t{state}\texpires {expires}\t{getattr(portal, 'stored_count', 0)} stored\t{portal.name}"
            )
            if options["links"]:
                line += f"\t{portal_link(portal)}"
            self.stdout.write(line)
