"""`manage.py apply_retention [--dry-run]`: delete the files past their portal's or
document request's retention now (what the daily task does), or with --dry-run only say what would go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.request_context import acting_as_system
from uploader import s3
from uploader.retention import policy
from uploader.uploads.models import Upload
from uploader.uploads.sizes import format_bytes


class Command(BaseCommand):
    help = "Delete stored files past their portal's or request's retention (not those on a legal hold); --dry-run only lists them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted, per portal and request; delete nothing."
        )
        parser.add_argument("--batch", type=int, default=500, help="Files per run of deletions (default 500).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            self._report()
            return
        batch = max(1, options["batch"])
        deleted = deleted_bytes = skipped = 0

        def progress(upload: Upload, rule: policy.RetentionRule) -> None:
            self.stdout.write(f"  deleted {upload.pk} {upload.original_filename!r} ({rule.label})")

        try:
            with acting_as_system("retention"):
                while True:
                    run = policy.retention_apply(limit=batch, on_deleted=progress)
                    deleted, deleted_bytes, skipped = (
                        deleted + run.deleted,
                        deleted_bytes + run.deleted_bytes,
                        skipped + run.skipped,
                    )
                    for error in run.errors:
                        self.stderr.write(f"  not deleted: {error}")
                    self.stdout.write(f"{deleted} deleted so far ({format_bytes(deleted_bytes)})")
                    if not (run.full and run.deleted):
                        break
        except s3.StorageError as exc:
            raise CommandError(f"retention stopped after {deleted} file(s): {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(f"{deleted} file(s) deleted ({format_bytes(deleted_bytes)}), {skipped} skipped")
        )

    def _report(self) -> None:
        report = policy.retention_report()
        if not report:
            self.stdout.write("No portal or request has a retention period; nothing would be deleted.")
            return
        for due in report:
            self.stdout.write(
                f"  {due.rule.label}: keeps files {due.rule.days} days; "
                f"{due.files} file(s) due, {format_bytes(due.bytes)} ({due.bytes} bytes)"
                + (f"; {due.held} more kept by a legal hold" if due.held else "")
            )
        files, total = sum(d.files for d in report), sum(d.bytes for d in report)
        self.stdout.write(
            self.style.SUCCESS(f"Dry run: {files} file(s), {format_bytes(total)} ({total} bytes) would be deleted.")
        )
