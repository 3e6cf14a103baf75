"""`manage.py seed_demo --uploads N`: fill the database with realistic demo data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from uploader.management.demo.load import seed


class Command(BaseCommand):
    help = (
        "Add N realistic uploads over two years across demo portals and staff users, with their ledger "
        "events, audit entries and derivatives (COPY on PostgreSQL: a million in a few minutes), then "
        "recount the daily rollup. Rows only: no object is put in the bucket."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--uploads", type=int, required=True, help="How many uploads to add.")
        parser.add_argument("--portals", type=int, default=200, help="Demo portals (made once, reused).")
        parser.add_argument("--staff", type=int, default=20, help="Demo staff users (made once, reused).")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for the same data again.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["uploads"] < 0 or options["staff"] < 1 or options["portals"] < 0:
            raise CommandError("--uploads and --portals must be 0 or more, --staff at least 1.")
        written = seed(
            uploads=options["uploads"],
            staff=options["staff"],
            portals=options["portals"],
            seed_value=options["seed"],
            progress=lambda line: self.stdout.write(line),
        )
        self.stdout.write(", ".join(f"{count:,} {name} rows" for name, count in written.items()))
