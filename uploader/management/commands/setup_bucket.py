"""`manage.py setup_bucket`: configure the upload bucket; prints what it changed."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from uploader import s3
from uploader.ops.bucket_setup import BucketChange, bucket_configure, event_queue_configure


class Command(BaseCommand):
    help = (
        "Make the bucket ready for browser uploads: public access blocked, default encryption, "
        "CORS for INTAKE_CORS_ALLOWED_ORIGINS (ETag exposed), a lifecycle rule aborting incomplete "
        "multipart uploads, and object events to the queue. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--create", action="store_true", help="Create the bucket if missing (default: INTAKE_S3_CREATE_BUCKET).")
        parser.add_argument("--queue-arn", default=None, help="SQS queue ARN for object events (default: INTAKE_S3_EVENTS_QUEUE_ARN).")
        parser.add_argument(
            "--create-queue",
            metavar="NAME",
            default=None,
            help=(
                "Create this SQS queue and its dead-letter queue NAME-dlq if missing (redrive after "
                "INTAKE_SQS_MAX_RECEIVES receives) and send events to it."
            ),
        )
        parser.add_argument(
            "--push-endpoint",
            metavar="URL",
            default=None,
            help="Push events over HTTP to this URL (Ceph RGW topics), e.g. https://host/api/events/s3?token=...",
        )
        parser.add_argument("--origin", action="append", default=None, help="Allowed browser origin (repeatable; default: INTAKE_CORS_ALLOWED_ORIGINS).")

    def handle(self, *args: Any, **options: Any) -> None:
        origins = options["origin"] or list(settings.INTAKE_CORS_ALLOWED_ORIGINS)
        try:
            queue_arn = options["queue_arn"] or settings.INTAKE_S3_EVENTS_QUEUE_ARN or None
            queue_changes: list[BucketChange] = []
            if options["create_queue"]:
                queue_arn, queue_changes = event_queue_configure(
                    name=options["create_queue"],
                    max_receives=settings.INTAKE_SQS_MAX_RECEIVES,
                    report=lambda line: self.stdout.write(f"  {line}"),
                )
            topic_arn = None
            if options["push_endpoint"]:
                topic_arn = s3.ensure_push_topic(f"{settings.INTAKE_S3_BUCKET}-events", options["push_endpoint"])
            changes = queue_changes + bucket_configure(
                create=options["create"] or settings.INTAKE_S3_CREATE_BUCKET,
                origins=origins,
                queue_arn=queue_arn,
                topic_arn=topic_arn,
                abort_after_days=settings.INTAKE_MULTIPART_ABORT_AFTER_DAYS,
                report=lambda line: self.stdout.write(f"  {line}"),
            )
        except s3.StorageError as exc:
            raise CommandError(f"bucket set-up failed: {exc}") from exc
        if changes:
            self.stdout.write(self.style.SUCCESS(f"{len(changes)} change(s) made to {settings.INTAKE_S3_BUCKET}"))
        else:
            self.stdout.write(self.style.SUCCESS(f"{settings.INTAKE_S3_BUCKET} already configured; nothing changed"))
