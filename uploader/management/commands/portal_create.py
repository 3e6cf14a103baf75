"""`manage.py portal_create`: create a client upload portal and print its link."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.request_context import acting_as_system
from uploader.portals.services import portal_create, portal_link


def parse_expiry(value: str) -> dt.datetime:
    """`14d`, `36h` from now, or an ISO date/time (local time zone when none is given)."""
    text = value.strip().lower()
    if text[:-1].isdigit() and text[-1:] in {"d", "h"}:
        amount = int(text[:-1])
        return timezone.now() + (dt.timedelta(days=amount) if text.endswith("d") else dt.timedelta(hours=amount))
    parsed = parse_datetime(value) or parse_datetime(f"{value}T23:59:59")
    if parsed is None:
        raise CommandError(f"--expires: '{value}' is not 14d, 36h or an ISO date such as 2026-06-30.")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = "Create a client upload portal and print its link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who or what the portal is for, e.g. 'Smith & Co 2025 accounts'.")
        parser.add_argument("--slug", default="", help="Key segment of its uploads (default: from the name).")
        parser.add_argument("--title", default="", help="Heading shown to clients (default: the name).")
        parser.add_argument("--message", default="", help="Welcome message shown to clients.")
        parser.add_argument("--colour", default="#1f5fbf", help="Brand colour, #rrggbb.")
        parser.add_argument("--expires", default="", help="14d, 36h or an ISO date/time; default: never.")
        parser.add_argument("--max-file-size", default="", help="e.g. 50MiB; default: the site-wide limit.")
        parser.add_argument("--max-files", type=int, default=None)
        parser.add_argument("--max-total", default="", help="e.g. 2GiB.")
        parser.add_argument("--extensions", default="", help="Allowed extensions, e.g. '.pdf,.jpg'.")
        parser.add_argument("--types", default="", help="Allowed content types, e.g. 'application/pdf,image/*'.")
        parser.add_argument("--notify", default="", help="E-mail addresses to tell about uploads.")
        parser.add_argument(
            "--webhooks",
            default="",
            help="https:// URLs to POST a signed JSON document to when files arrive, comma-separated (at most 5).",
        )
        parser.add_argument(
            "--processing",
            default="",
            help="What to make from each stored file, comma-separated: thumbnails, document_text.",
        )
        parser.add_argument("--no-name", action="store_true", help="Do not require the uploader's name.")
        parser.add_argument("--no-email", action="store_true", help="Do not require the uploader's e-mail.")
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read a password from standard input (first line)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = ""
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("--password-stdin: standard input had no password.")
        try:
            with acting_as_system("cli"):
                portal = portal_create(
                    actor=None,
                    name=options["name"],
                    slug=options["slug"],
                    title=options["title"],
                    welcome_message=options["message"],
                    brand_colour=options["colour"],
                    expires_at=parse_expiry(options["expires"]) if options["expires"] else None,
                    max_file_bytes=options["max_file_size"],
                    max_files=options["max_files"],
                    max_total_bytes=options["max_total"],
                    allowed_extensions=options["extensions"],
                    allowed_content_types=options["types"],
                    notify_emails=options["notify"],
                    notify_webhooks=options["webhooks"],
                    processing=options["processing"],
                    require_name=not options["no_name"],
                    require_email=not options["no_email"],
                    password=password,
                )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"Created portal {portal.slug} (id {portal.pk}).")
        self.stdout.write(portal_link(portal))
