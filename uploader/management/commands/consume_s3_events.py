"""`manage.py consume_s3_events`: long-poll the S3 event queue into the ledger."""

from __future__ import annotations

import logging
import math
import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections

from uploader import s3
from uploader.ingest import sqs_consumer as sqs
from uploader.ops.heartbeats import consumer_heartbeat_name, heartbeat_record

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Read S3 event notifications from SQS into the ledger until stopped (SIGTERM finishes the batch first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue-url", default=None, help="Default: INTAKE_S3_EVENTS_QUEUE_URL.")
        parser.add_argument("--queue-name", default=None, help="Look the queue up by name instead.")
        parser.add_argument("--wait", type=int, default=20, help="Long-poll seconds (0-20).")
        parser.add_argument("--until-empty", action="store_true", help="Stop once a receive returns nothing.")
        parser.add_argument(
            "--gather",
            type=int,
            default=sqs.DEFAULT_GATHER,
            help="Ingest up to this many messages together while the queue has them (default %(default)s).",
        )
        parser.add_argument(
            "--linger-ms",
            type=int,
            default=round(sqs.DEFAULT_LINGER_SECONDS * 1000),
            help="After a partial receive, wait this long once to gather more (default %(default)s; 0: never).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True
            logger.info("consumer: stopping after the current batch")

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            queue_url = options["queue_url"] or (
                sqs.queue_url_for(options["queue_name"]) if options["queue_name"] else settings.INTAKE_S3_EVENTS_QUEUE_URL
            )
        except s3.StorageError as exc:
            raise CommandError(f"cannot find the queue: {exc}") from exc
        if not queue_url:
            raise CommandError("no queue: set INTAKE_S3_EVENTS_QUEUE_URL or pass --queue-url/--queue-name")
        self.stdout.write(f"consuming S3 events from {queue_url}")
        totals = sqs.BatchResult()
        beat = _Heartbeat(consumer_heartbeat_name(options["queue_name"] or queue_url.rsplit("/", 1)[-1]))
        while not stopping:
            try:
                messages = sqs.receive_gathered(
                    queue_url,
                    wait_seconds=max(0, min(options["wait"], 20)),
                    up_to=max(1, options["gather"]),
                    linger_seconds=max(0, options["linger_ms"]) / 1000,
                )
            except s3.StorageUnavailable as exc:
                logger.warning("consumer: SQS unavailable (%s); retrying", exc)
                time.sleep(2)
                continue
            beat.polled()
            if not messages:
                if options["until_empty"]:
                    break
                continue
            close_old_connections()  # as Django does around each request
            batch = sqs.process_batch(queue_url, messages)
            for field in ("received", "deleted", "kept", "recorded", "duplicates"):
                setattr(totals, field, getattr(totals, field) + getattr(batch, field))
        self.stdout.write(
            f"stopped: {totals.received} received, {totals.recorded} new event(s), {totals.duplicates} duplicate(s), "
            f"{totals.deleted} deleted, {totals.kept} kept for retry"
        )


class _Heartbeat:
    """Records that this consumer polls (readiness shows a stale one), at most every
    half heartbeat interval; a database hiccup here never stops consuming."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last = -math.inf

    def polled(self) -> None:
        now = time.monotonic()
        if now - self.last < settings.INTAKE_HEARTBEAT_SECONDS / 2:
            return
        try:
            heartbeat_record(name=self.name)
            self.last = now
        except DatabaseError as exc:
            logger.warning("consumer: could not record its heartbeat: %s", exc)
