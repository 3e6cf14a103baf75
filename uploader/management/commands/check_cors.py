"""`manage.py check_cors`: ask the bucket, the API and the CDN over HTTP whether browsers
on the configured origins get through; one line per check, exit status 1 on a failure."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from uploader.management.check_report import write_check_report
from uploader.ops.cors_check import DEFAULT_TIMEOUT, cors_chain_check_from_settings


class Command(BaseCommand):
    help = (
        "Check CORS end to end over real HTTP: bucket preflights and a signed probe PUT (ETag exposed) "
        "for each browser origin, a foreign origin refused, the bucket's rules against setup_bucket's, "
        "the API's preflights (INTAKE_API_CORS_ALLOWED_ORIGINS, no credentials) and the CDN's. "
        "Exit status 1 if any check fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--origin",
            action="append",
            default=None,
            help="Browser origin to check (repeatable; default: INTAKE_CORS_ALLOWED_ORIGINS).",
        )
        parser.add_argument(
            "--base-url", default=None, help="The app's public address (default: INTAKE_PUBLIC_BASE_URL)."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT[1],
            help="Seconds to wait for each answer (default: %(default)s).",
        )
        parser.add_argument("--json", action="store_true", help="Print the results as one JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = cors_chain_check_from_settings(
            browser_origins=options["origin"],
            base_url=options["base_url"],
            timeout=(min(DEFAULT_TIMEOUT[0], options["timeout"]), options["timeout"]),
        )
        write_check_report(self, report, as_json=options["json"], all_good="CORS chain OK")
