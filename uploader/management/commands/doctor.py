"""`manage.py doctor`: check every link Intake depends on (uploader.ops.doctor); one line
per check with the fix for each failure, exit status 1 if any failed."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from uploader.management.check_report import write_check_report
from uploader.ops.cors_check.results import DEFAULT_TIMEOUT
from uploader.ops.doctor import PARTS, doctor_run


class Command(BaseCommand):
    help = (
        "Check every link Intake depends on: settings that do not fit together, the database, the broker, "
        "the bucket (credentials, public access, encryption, lifecycle, notifications), CORS end to end, "
        "the events queue and its dead-letter queue, the clock against S3's, Cognito, e-mail and CloudFront. "
        "Each failure is printed with its fix; exit status 1 if any check fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parts = ", ".join(PARTS)
        parser.add_argument(
            "--only", action="append", default=[], metavar="PART", help=f"Run only this part (repeatable): {parts}."
        )
        parser.add_argument(
            "--skip", action="append", default=[], metavar="PART", help="Leave this part out (repeatable)."
        )
        parser.add_argument(
            "--base-url",
            default=None,
            help="The app's public address for the CORS part (default: INTAKE_PUBLIC_BASE_URL).",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT[1],
            help="Seconds to wait for each answer (default: %(default)s).",
        )
        parser.add_argument("--json", action="store_true", help="Print the results as one JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = doctor_run(
                only=options["only"],
                skip=options["skip"],
                base_url=options["base_url"],
                timeout=(min(DEFAULT_TIMEOUT[0], options["timeout"]), options["timeout"]),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        write_check_report(self, report, as_json=options["json"], all_good="Everything checked is in order")
