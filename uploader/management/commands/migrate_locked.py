"""`manage.py migrate_locked`: `migrate`, once per deploy however many replicas run it.

Every replica of a new release may start with `migrate` (the image's `migrate`
command). On PostgreSQL the first takes a session advisory lock and migrates; the
others wait for the lock, then find nothing to apply. Two `migrate` runs at once
would both try to create the same tables. The lock ends with the session, so a
migration that dies frees it. SQLite (one machine, `make run`) just migrates.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

# pg_advisory_lock's key: any 64-bit number no other code of this database uses.
# int.from_bytes(b"intake-m", "big") >> 1, so it reads as Intake's.
MIGRATION_LOCK_KEY = 0x34B73A30B5B296B6


class Command(BaseCommand):
    help = "Apply migrations; replicas running it together wait for each other (PostgreSQL advisory lock)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            call_command("migrate", database=options["database"], interactive=False, verbosity=options["verbosity"])
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            (locked,) = cursor.fetchone()
            if not locked:
                self.stdout.write("another process is migrating; waiting for it to finish", ending="\n")
                self.stdout.flush()
                started = time.monotonic()
                cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
                self.stdout.write(f"the other migration finished after {time.monotonic() - started:.1f} s")
        try:
            call_command("migrate", database=options["database"], interactive=False, verbosity=options["verbosity"])
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
