"""`manage.py reconcile_uploads`: make the rows agree with the bucket; prints each fix."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.request_context import acting_as_system
from uploader import s3
from uploader.ingest.reconcile import reconcile


class Command(BaseCommand):
    help = "Record objects the events missed, mark vanished ones deleted, abort abandoned multipart uploads, expire old registrations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-hours", type=float, default=None, help="Default: INTAKE_RECONCILE_AFTER_HOURS."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["older_than_hours"]
        older_than = dt.timedelta(hours=settings.INTAKE_RECONCILE_AFTER_HOURS if hours is None else hours)
        try:
            with acting_as_system("reconcile"):
                result = reconcile(older_than=older_than, report=lambda line: self.stdout.write(f"  {line}"))
        except s3.StorageError as exc:
            raise CommandError(f"reconciliation stopped: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.fixed} fix(es): {result.recorded} recorded, {result.marked_deleted} marked deleted, "
                f"{result.removed_rejected} rejected object(s) removed, {result.aborted_multipart} multipart upload(s) "
                f"aborted, {result.expired_registrations} registration(s) expired"
            )
        )
