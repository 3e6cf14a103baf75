"""`manage.py doctor`: check every link Intake depends on (uploader.ops.doctor); one line
per check with the fix for each failure, exit status 1 if any failed."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from uploader.ops.cors_check.results import DEFAULT_TIMEOUT
from uploader.ops.doctor import PARTS, Status, doctor_run, format_result


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
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
        else:
            styles = {
                Status.PASSED: self.style.SUCCESS,
                Status.FAILED: self.style.ERROR,
                Status.SKIPPED: self.style.WARNING,
            }
            for result in report.results:
                self.stdout.write(styles[result.status](format_result(result)))
            failed = report.as_json()["failed"]
            summary = "Everything checked is in order" if report.ok else f"{failed} check(s) failed"
            self.stdout.write(self.style.SUCCESS(summary) if report.ok else self.style.ERROR(summary))
        if not report.ok:
            # SystemExit rather than CommandError: the lines above already say what failed.
            raise SystemExit(report.exit_status)
