"""`manage.py portal_disable <slug>`: close a portal at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.request_context import acting_as_system
from uploader.portals.models import Portal
from uploader.portals.selectors import portal_get_by_slug
from uploader.portals.services import portal_disable


class Command(BaseCommand):
    help = "Disable a client upload portal: its page then signs nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            portal = portal_get_by_slug(slug=options["slug"])
        except Portal.DoesNotExist:
            raise CommandError(f"No portal with slug '{options['slug']}'.") from None
        with acting_as_system("cli"):
            portal_disable(actor=None, portal=portal)
        self.stdout.write(f"Portal {portal.slug} is disabled.")
