"""`manage.py recount_upload_rollup [--check]`: rebuild the daily rollup and the kept
totals from the uploads, or only say where they differ from a recount."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from uploader.uploads.recount import rollup_differences, rollup_recount

SHOWN_DIFFERENCES = 20


class Command(BaseCommand):
    help = (
        "Recount the stats page's daily rollup and the file list's totals from the uploads table "
        "(after a restore, a bulk import or a change of DJANGO_TIME_ZONE). --check changes nothing and "
        "fails when they differ."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Only compare; exit 1 on any difference.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            problems = rollup_differences()
            for line in problems[:SHOWN_DIFFERENCES]:
                self.stdout.write(line)
            if problems:
                raise CommandError(
                    f"{len(problems)} rollup rows differ from a recount; run without --check to rebuild."
                )
            self.stdout.write("The rollup matches a recount.")
            return
        days, totals = rollup_recount()
        self.stdout.write(f"Recounted: {days:,} day rows, {totals:,} total rows.")
