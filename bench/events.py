"""Benchmark 5: S3 object events from SQS to committed rows, as real processes.

    .venv/bin/python bench/events.py [--quick]      # on its own
    .venv/bin/python bench/run_all.py --only 5      # as benchmark 5 of run_all (not in its default)

Production's shape on 127.0.0.1: PostgreSQL (database `intake_bench`), a private
`redis-server` as the Celery broker, N `manage.py consume_s3_events` processes and
one `celery -A config worker` (prefork). Each registered upload gets one S3-shaped
`ObjectCreated:Put` message with a sequencer, its declared size and an ETag, so the
app applies it without a HEAD; 20% more messages are copies of earlier ones (S3 and
SQS both deliver at least once).

1. Drain: every message is queued first (a staging queue), then the whole backlog is
   handed at once to the consumers, already running and idle. Rate = distinct events /
   (last `Upload.stored_at` - first `UploadEvent.received_at`).
2. Paced: with the consumers running, messages are sent at an offered rate (1,000
   distinct events/s plus 20% duplicates) for a few seconds. Each message's
   `eventTime` is the moment it is sent; latency = `Upload.stored_at` - `eventTime`.
   When the drain rate is below 1.25x the offered rate, a second paced run at 70% of
   the drain rate shows the latency at a load the machine sustains.
3. Reference: a plain `bulk_create` of copies of the drain's ledger rows (the rows
   the consumers write), in one transaction, in the same run.

Also measured: CPU per event of every process (from /proc), PostgreSQL sessions
opened per event (`pg_stat_database.sessions`), and, in-process, SQL queries per
event of the two halves (`events_ingest_many`, `event_apply`).

SQS: moto's SQS costs 40-75 ms per call even on an empty queue and grows with the
queue's depth (every call scans every message), so it tops out near 70 messages/s on
this machine. The default is therefore `SqsStandIn` below, a small in-memory SQS
(standard queue: at-least-once, visibility timeout, long polling, batches) speaking
the JSON protocol boto3 uses, in its own process; moto still serves S3.
`--sqs moto` runs against moto's SQS instead (small numbers only).

`--experiment per-event-apply,keep-db-connection` patches changes into the worker (see
EXPERIMENTS; `run_all --experiments` adds one such drain and paced run):
`per-event-apply` is the task as it was before the batch apply, for comparison.
`--profile DIR` runs one consumer and a `--pool solo` worker under cProfile (CPU
time) on a drain and prints where their time goes, instead of the measurements.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import hashlib
import heapq
import itertools
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from emulator import die_with_parent, free_port, stop_process  # noqa: E402

from bench import harness  # noqa: E402
from bench.harness import VENV_BIN, step  # noqa: E402
from tests.support.processes import ManagedProcess, RedisServer  # noqa: E402

QUEUE_NAME = "intake-bench-events"
KEY_PREFIX = "uploads/bench"


@dataclass(frozen=True)
class EventPlan:
    events: int  # distinct events (registered uploads) drained
    paced_rate: float  # offered distinct events/s in the paced run
    paced_seconds: float
    duplicate_ratio: float = 0.2
    consumers: int = 2
    concurrency: int = 2  # Celery prefork pool processes
    send_threads: int = 4
    reference_rounds: int = 3
    goal_rate: float = 1000.0
    goal_p99_seconds: float = 2.0


FULL = EventPlan(events=20_000, paced_rate=1000, paced_seconds=15)
QUICK = EventPlan(events=2_000, paced_rate=1000, paced_seconds=3, reference_rounds=1)


# --- A minimal SQS ----------------------------------------------------------------------------------------------


class _Message:
    __slots__ = ("body", "handle", "md5", "message_id", "receives", "visible_at")

    def __init__(self, body: str) -> None:
        self.body = body
        self.md5 = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
        self.message_id = str(uuid.uuid4())
        self.receives = 0
        self.handle = ""
        self.visible_at = 0.0


class _Queue:
    """Standard-queue semantics: at-least-once, no order promise, a received message
    is hidden for its visibility timeout and comes back unless deleted."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url
        self.arn = f"arn:aws:sqs:us-east-1:000000000000:{name}"
        self.ready: collections.deque[_Message] = collections.deque()
        self.inflight: dict[str, _Message] = {}
        self.timeouts: list[tuple[float, str]] = []  # heap of (visible_at, receipt handle)
        self.cond = threading.Condition()

    def _expire(self, now: float) -> float | None:
        """Make timed-out in-flight messages visible; the next expiry, if any."""
        while self.timeouts and self.timeouts[0][0] <= now:
            _, handle = heapq.heappop(self.timeouts)
            message = self.inflight.get(handle)
            if message is not None and message.visible_at <= now:
                del self.inflight[handle]
                self.ready.append(message)
        return self.timeouts[0][0] if self.timeouts else None

    def send(self, body: str) -> _Message:
        message = _Message(body)
        with self.cond:
            self.ready.append(message)
            self.cond.notify()
        return message

    def receive(self, count: int, wait: float, visibility: float) -> list[_Message]:
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                now = time.monotonic()
                next_expiry = self._expire(now)
                if self.ready or now >= deadline:
                    break
                until = deadline if next_expiry is None else min(deadline, next_expiry)
                self.cond.wait(max(until - now, 0.001))
            taken: list[_Message] = []
            while self.ready and len(taken) < count:
                message = self.ready.popleft()
                message.receives += 1
                message.handle = uuid.uuid4().hex
                message.visible_at = now + visibility
                self.inflight[message.handle] = message
                heapq.heappush(self.timeouts, (message.visible_at, message.handle))
                taken.append(message)
            return taken

    def delete(self, handle: str) -> None:
        with self.cond:
            self.inflight.pop(handle, None)  # a stale handle is not an error in SQS either

    def change_visibility(self, handle: str, seconds: float) -> bool:
        with self.cond:
            message = self.inflight.get(handle)
            if message is None:
                return False
            message.visible_at = time.monotonic() + seconds
            heapq.heappush(self.timeouts, (message.visible_at, handle))
            self.cond.notify_all()
            return True

    def purge(self) -> None:
        with self.cond:
            self.ready.clear()
            self.inflight.clear()
            self.timeouts.clear()

    def attributes(self) -> dict[str, str]:
        with self.cond:
            self._expire(time.monotonic())
            return {
                "ApproximateNumberOfMessages": str(len(self.ready)),
                "ApproximateNumberOfMessagesNotVisible": str(len(self.inflight)),
                "ApproximateNumberOfMessagesDelayed": "0",
                "QueueArn": self.arn,
                "VisibilityTimeout": "30",
            }


class SqsStandIn:
    """The SQS calls the app and this benchmark make (JSON protocol, no auth)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.queues: dict[str, _Queue] = {}
        self.lock = threading.Lock()

    def _queue(self, params: dict[str, Any]) -> _Queue:
        name = str(params.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
        queue = self.queues.get(name)
        if queue is None:
            raise LookupError(name)
        return queue

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "CreateQueue":
            name = params["QueueName"]
            with self.lock:
                queue = self.queues.setdefault(name, _Queue(name, f"http://127.0.0.1:{self.port}/000000000000/{name}"))
            return {"QueueUrl": queue.url}
        if action == "GetQueueUrl":
            if params["QueueName"] not in self.queues:
                raise LookupError(params["QueueName"])
            return {"QueueUrl": self.queues[params["QueueName"]].url}
        queue = self._queue(params)
        if action == "SendMessage":
            message = queue.send(params["MessageBody"])
            return {"MessageId": message.message_id, "MD5OfMessageBody": message.md5}
        if action == "SendMessageBatch":
            done = []
            for entry in params["Entries"]:
                message = queue.send(entry["MessageBody"])
                done.append({"Id": entry["Id"], "MessageId": message.message_id, "MD5OfMessageBody": message.md5})
            return {"Successful": done, "Failed": []}
        if action == "ReceiveMessage":
            messages = queue.receive(
                count=min(int(params.get("MaxNumberOfMessages", 1)), 10),
                wait=min(float(params.get("WaitTimeSeconds", 0)), 20.0),
                visibility=float(params.get("VisibilityTimeout", 30)),
            )
            return {
                "Messages": [
                    {
                        "MessageId": m.message_id,
                        "ReceiptHandle": m.handle,
                        "MD5OfBody": m.md5,
                        "Body": m.body,
                        "Attributes": {"ApproximateReceiveCount": str(m.receives)},
                    }
                    for m in messages
                ]
            }
        if action in {"DeleteMessage", "DeleteMessageBatch"}:
            entries = params["Entries"] if action == "DeleteMessageBatch" else [{"Id": "0", **params}]
            for entry in entries:
                queue.delete(entry["ReceiptHandle"])
            return {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []} if action.endswith("Batch") else {}
        if action == "ChangeMessageVisibilityBatch":
            ok, failed = [], []
            for entry in params["Entries"]:
                if queue.change_visibility(entry["ReceiptHandle"], float(entry["VisibilityTimeout"])):
                    ok.append({"Id": entry["Id"]})
                else:
                    failed.append({"Id": entry["Id"], "Code": "ReceiptHandleIsInvalid", "SenderFault": True})
            return {"Successful": ok, "Failed": failed}
        if action == "GetQueueAttributes":
            return {"Attributes": queue.attributes()}
        if action == "PurgeQueue":
            queue.purge()
            return {}
        if action == "BenchMoveMessages":
            # Not SQS: hands a whole pre-filled backlog to running consumers at once.
            target = self._queue({"QueueUrl": params["To"]})
            with queue.cond:
                moved = list(queue.ready)
                queue.ready.clear()
            with target.cond:
                target.ready.extend(moved)
                target.cond.notify_all()
            return {"Moved": len(moved)}
        raise NotImplementedError(action)

    def serve(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle's
            # algorithm and the client's delayed ACK hold the body back 40 ms.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                try:
                    status, answer = 200, stand_in.call(action, json.loads(body or b"{}"))
                except LookupError as exc:
                    status, answer = (
                        400,
                        {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": f"no queue {exc}"},
                    )
                except (NotImplementedError, KeyError, ValueError, TypeError) as exc:
                    status, answer = 400, {"__type": "com.amazonaws.sqs#InvalidParameterValue", "message": repr(exc)}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", uuid.uuid4().hex)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.serve_forever(poll_interval=0.5)


class SqsProcess:
    """`SqsStandIn` in a process of its own (so its CPU is its own, not the load generator's)."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> SqsProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--serve-sqs", str(self.port)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        client = sqs_client(self.endpoint_url, pool=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the SQS stand-in exited at start; see {self.log_path}")
            with contextlib.suppress(Exception):
                client.create_queue(QueueName="probe")
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the SQS stand-in did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


def sqs_client(endpoint_url: str, *, pool: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=harness.ACCESS_KEY,
        aws_secret_access_key=harness.SECRET_KEY,
        config=Config(max_pool_connections=pool, retries={"mode": "standard"}, connect_timeout=3, read_timeout=30),
    )


# --- S3-shaped messages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    key: str
    size: int
    etag: str


_sequencers = itertools.count(1)


def _iso_ms(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def s3_message(bucket: str, target: Target, *, event_time: float) -> str:
    """One ObjectCreated:Put notification, as S3 sends it (event message structure 2.1)."""
    sequencer = f"{0x0066A1B2C3000000 + next(_sequencers):016X}"
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": _iso_ms(event_time),
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:AIDABENCHMARK"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "bench"},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "intake-events",
                        "bucket": {
                            "name": bucket,
                            "ownerIdentity": {"principalId": "A1BENCHMARK"},
                            "arn": f"arn:aws:s3:::{bucket}",
                        },
                        "object": {
                            "key": quote_plus(target.key, safe="/"),
                            "size": target.size,
                            "eTag": target.etag,
                            "sequencer": sequencer,
                        },
                    },
                }
            ]
        }
    )


def delivery_order(count: int, duplicate_ratio: float, rng: random.Random, spread: int = 200) -> list[int]:
    """Indices of the targets in sending order: each once, plus copies of random ones,
    each copy up to `spread` messages after its original (a redelivery comes later)."""
    positions = [(float(i), i) for i in range(count)]
    for _ in range(round(count * duplicate_ratio)):
        original = rng.randrange(count)
        positions.append((original + rng.uniform(0.5, spread), original))
    positions.sort()
    return [index for _, index in positions]


class Bodies:
    """Builds each target's message once, at first use (its eventTime is then); a
    duplicate is the same body again, as a redelivery is."""

    def __init__(self, bucket: str, targets: list[Target]) -> None:
        self.bucket, self.targets = bucket, targets
        self.built: dict[int, str] = {}
        self.first_event_time: float | None = None

    def __call__(self, index: int) -> str:
        body = self.built.get(index)
        if body is None:
            now = time.time()
            if self.first_event_time is None:
                self.first_event_time = now
            body = self.built[index] = s3_message(self.bucket, self.targets[index], event_time=now)
        return body


# --- CPU accounting ----------------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _postmaster() -> int | None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                command = (entry / "cmdline").read_bytes().split(b"\0")
                if command[0].endswith(b"/postgres") and b"-D" in command:
                    return int(entry.name)
    return None


def postgres_cpu_seconds(postmaster: int | None) -> float:
    """The postmaster, its live children except other databases' backends, and every
    child that exited (cutime/cstime: the worker's short-lived connections end there)."""
    if postmaster is None:
        return 0.0
    fields = _stat(postmaster)
    if fields is None:
        return 0.0
    total = sum(int(v) for v in fields[11:15]) / harness._CLOCK_TICKS
    for child in _children(postmaster):
        with contextlib.suppress(OSError):
            title = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").split()
            # "postgres: 15/main: <user> <database> <client> <state>" for a backend
            if (
                len(title) >= 4
                and b"(" in (title[4] if len(title) > 4 else b"")
                and title[3] != harness.BENCH_DATABASE.encode()
            ):
                continue
            total += harness.process_cpu_seconds(child)
    return total


@dataclass
class CpuMeter:
    """CPU seconds by component, read from /proc at the start and end of a phase."""

    components: dict[str, Callable[[], list[int]]]
    postmaster: int | None = field(default_factory=_postmaster)

    def read(self) -> dict[str, float]:
        values = {
            name: sum(harness.process_cpu_seconds(pid) for pid in pids()) for name, pids in self.components.items()
        }
        values["postgresql"] = postgres_cpu_seconds(self.postmaster)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        values["load generator (this process)"] = usage.ru_utime + usage.ru_stime
        values["machine busy"] = harness.machine_busy_seconds()
        return values

    @staticmethod
    def per_event_ms(before: dict[str, float], after: dict[str, float], events: int) -> dict[str, float]:
        spent = {name: after[name] - before[name] for name in before}
        spent["other (rest of the machine)"] = max(
            spent["machine busy"] - sum(v for k, v in spent.items() if k != "machine busy"), 0.0
        )
        return {name: seconds * 1000 / max(events, 1) for name, seconds in spent.items()}


# --- In-process Django (the benchmark's own reads and writes) ---------------------------------------------------


def django_setup(env: dict[str, str]) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        os.environ.update(
            {
                k: v
                for k, v in env.items()
                if k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "CELERY_", "REDIS_", "AWS_"))
            }
        )
        django.setup()


def create_uploads(scope: str, count: int, rng: random.Random) -> list[Target]:
    """Registered uploads, as the signing call leaves them, with declared sizes."""
    from uploader.uploads.models import Upload, UploadState

    targets = []
    rows = []
    for n in range(count):
        upload_id = uuid.uuid4()
        key = f"{KEY_PREFIX}/{upload_id}/{scope}-{n}.bin"
        size = rng.randint(1024, 64 * 1024 * 1024)
        targets.append(Target(key=key, size=size, etag=hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()))
        rows.append(
            Upload(
                id=upload_id,
                scope=scope,
                original_filename=f"{scope}-{n}.bin",
                key=key,
                declared_size=size,
                declared_content_type="application/octet-stream",
                state=UploadState.REGISTERED,
            )
        )
    Upload.objects.bulk_create(rows, batch_size=2000)
    return targets


def stored_count(scope: str) -> int:
    from uploader.uploads.models import Upload, UploadState

    return Upload.objects.filter(scope=scope, state=UploadState.STORED).count()


def pg_sessions() -> int:
    """Connections ever opened to the benchmark database (PostgreSQL 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class PhaseTimes:
    events: int
    first_received: dt.datetime
    last_received: dt.datetime
    first_stored: dt.datetime
    last_stored: dt.datetime
    event_to_row: list[float]  # seconds, per event: stored_at - eventTime
    event_to_ledger: list[float]  # received_at - eventTime (SQS + consumer)
    ledger_to_row: list[float]  # stored_at - received_at (broker + worker)

    def summary(self) -> dict[str, float]:
        return {
            "p50_s": percentile(self.event_to_row, 0.5),
            "p99_s": percentile(self.event_to_row, 0.99),
            "max_s": max(self.event_to_row, default=float("nan")),
            "ledger_p50_s": percentile(self.event_to_ledger, 0.5),
            "ledger_p99_s": percentile(self.event_to_ledger, 0.99),
            "apply_p50_s": percentile(self.ledger_to_row, 0.5),
            "apply_p99_s": percentile(self.ledger_to_row, 0.99),
        }


def phase_times(scope: str) -> PhaseTimes:
    from uploader.ingest.models import UploadEvent

    rows: list[tuple[dt.datetime, dt.datetime, dt.datetime]] = []
    for event_time, received_at, stored_at in UploadEvent.objects.filter(upload__scope=scope).values_list(
        "event_time", "received_at", "upload__stored_at"
    ):
        if event_time is None or stored_at is None:
            raise RuntimeError(f"a ledger row of {scope} has no eventTime or its upload no stored_at")
        rows.append((event_time, received_at, stored_at))
    _, received, stored = zip(*rows, strict=True)
    return PhaseTimes(
        events=len(rows),
        first_received=min(received),
        last_received=max(received),
        first_stored=min(stored),
        last_stored=max(stored),
        event_to_row=[(s - e).total_seconds() for e, _, s in rows],
        event_to_ledger=[(r - e).total_seconds() for e, r, _ in rows],
        ledger_to_row=[(s - r).total_seconds() for _, r, s in rows],
    )


def check_effects(scope: str, expected: int) -> dict[str, int]:
    """Every event applied exactly once: one ledger row and one audit entry per upload."""
    from django.db.models import Count

    from uploader.audit.models import AuditEntry
    from uploader.ingest.models import UploadEvent
    from uploader.uploads.models import Upload, UploadState

    found = {
        "uploads stored": Upload.objects.filter(scope=scope, state=UploadState.STORED).count(),
        "ledger rows": UploadEvent.objects.filter(upload__scope=scope).count(),
        "audit upload.stored": AuditEntry.objects.filter(upload__scope=scope, action="upload.stored").count(),
    }
    outcomes = UploadEvent.objects.filter(upload__scope=scope).values("outcome").annotate(n=Count("id"))
    found.update({f"outcome {row['outcome']}": row["n"] for row in outcomes})
    wanted = {
        "uploads stored": expected,
        "ledger rows": expected,
        "audit upload.stored": expected,
        "outcome applied": expected,
    }
    if any(found.get(name) != n for name, n in wanted.items()):
        raise RuntimeError(f"effects are not exactly once for {expected} events: {found}")
    return found


def bulk_insert_reference(scope: str) -> float:
    """Rows/s of one plain `bulk_create` of the ledger rows a phase produced (copies,
    each with its own dedupe key), in one transaction; the copies are deleted after."""
    from django.db import transaction

    from uploader.ingest.models import UploadEvent

    marker = f"{KEY_PREFIX}/reference-{uuid.uuid4().hex[:8]}"
    rows = []
    for stored in UploadEvent.objects.filter(upload__scope=scope).values():
        values: dict[str, Any] = dict(stored)
        values.pop("id")
        values["dedupe_key"] = hashlib.sha256(f"{marker}{values['dedupe_key']}".encode()).hexdigest()
        values["key"] = f"{marker}/{values['key']}"
        rows.append(UploadEvent(**values))
    started = time.perf_counter()
    with transaction.atomic():
        UploadEvent.objects.bulk_create(rows, batch_size=1000)
    seconds = time.perf_counter() - started
    UploadEvent.objects.filter(key__startswith=marker).delete()
    return len(rows) / seconds


def queries_per_event(bucket: str, rng: random.Random, batches: int = 20) -> dict[str, float]:
    """The two halves in this process, on their own: SQL queries and wall time of
    `events_ingest_many` per SQS batch (enqueueing stubbed) and of `event_apply`
    per event (as the task runs it)."""
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.request_context import acting_as_system
    from uploader.ingest.ledger import event_apply, events_apply, events_ingest_many
    from uploader.ingest.models import EventSource

    scope = f"probe{uuid.uuid4().hex[:6]}"
    targets = create_uploads(scope, batches * 8, rng)
    bodies = Bodies(bucket, targets)
    order: list[str | bytes] = [bodies(i) for i in delivery_order(len(targets), 0.25, rng, spread=20)]
    ingest_queries = ingest_wall = 0.0
    pending: list[int] = []
    with mock.patch("uploader.ingest.tasks.apply_object_events"):  # no broker here: enqueueing is not measured
        for start in range(0, len(order), 10):
            with CaptureQueriesContext(connection) as captured:
                t = time.perf_counter()
                results = events_ingest_many(bodies=order[start : start + 10], source=EventSource.SQS)
                ingest_wall += time.perf_counter() - t
            ingest_queries += len(captured.captured_queries)
            pending.extend(pk for result in results for pk in result.recorded)
    apply_queries = apply_wall = 0.0
    with acting_as_system("s3-event"):
        for event_id in pending:
            with CaptureQueriesContext(connection) as captured:
                t = time.perf_counter()
                event_apply(event_id=event_id)
                apply_wall += time.perf_counter() - t
            apply_queries += len(captured.captured_queries)
    sample = [q["sql"].split()[0] for q in captured.captured_queries]
    distinct = len(pending)
    # The same again through the app's batch apply (the task), in batches of 10.
    more = create_uploads(scope + "b", batches * 8, rng)
    more_bodies = Bodies(bucket, more)
    fresh: list[int] = []
    with mock.patch("uploader.ingest.tasks.apply_object_events"):
        for start in range(0, len(more), 10):
            chunk: list[str | bytes] = [more_bodies(i) for i in range(start, min(start + 10, len(more)))]
            results = events_ingest_many(bodies=chunk, source=EventSource.SQS)
            fresh.extend(pk for result in results for pk in result.recorded)
    batch_queries = batch_wall = 0.0
    for start in range(0, len(fresh), 10):
        with CaptureQueriesContext(connection) as captured:
            t = time.perf_counter()
            with acting_as_system("s3-event"):
                events_apply(event_ids=fresh[start : start + 10])
            batch_wall += time.perf_counter() - t
        batch_queries += len(captured.captured_queries)
    return {
        "batched apply queries per event": batch_queries / len(fresh),
        "batched apply ms per event": batch_wall * 1000 / len(fresh),
        "messages": len(order),
        "distinct events": distinct,
        "ingest queries per batch of 10": ingest_queries / (len(order) / 10),
        "ingest queries per event": ingest_queries / distinct,
        "ingest ms per event": ingest_wall * 1000 / distinct,
        "apply queries per event": apply_queries / distinct,
        "apply ms per event": apply_wall * 1000 / distinct,
        "apply statements": " ".join(sample),  # type: ignore[dict-item]
    }


# --- Candidate app changes, measured here before anyone makes them ----------------------------------------------

EXPERIMENTS = ("per-event-apply", "keep-db-connection")


def apply_events_one_by_one(event_ids: list[int]) -> dict[str, int]:
    """The task as it was before the batch apply: `ledger.event_apply` per event
    (10 statements each), kept to compare against in the same run."""
    from config.request_context import acting_as_system
    from uploader.ingest import ledger

    outcomes: dict[str, int] = {}
    with acting_as_system("s3-event"):
        for event_id in event_ids:
            outcome = ledger.event_apply(event_id=event_id)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def worker_with_experiments(experiments: list[str], celery_args: list[str]) -> int:
    """`celery <args>` with candidate changes patched in (see EXPERIMENTS)."""
    from celery import signals
    from celery.bin.celery import main as celery_main

    unknown = set(experiments) - set(EXPERIMENTS)
    if unknown:
        raise SystemExit(f"unknown experiment(s): {', '.join(sorted(unknown))}")
    if "keep-db-connection" in experiments:
        # Celery's Django fix-up closes the database connection before and after every
        # task, whatever CONN_MAX_AGE says; do what Django does around a request instead.
        from celery.fixups.django import DjangoWorkerFixup

        def close_database(self: Any, **kwargs: Any) -> None:
            from django.db import close_old_connections

            close_old_connections()

        DjangoWorkerFixup.close_database = close_database
    if "per-event-apply" in experiments:

        @signals.worker_process_init.connect(weak=False)
        def swap_task(sender: Any = None, **kwargs: Any) -> None:
            from celery import current_app
            from celery.app.trace import build_tracer

            task = current_app.tasks["uploader.ingest.tasks.apply_object_events"]
            task.run = apply_events_one_by_one
            task.__trace__ = build_tracer(task.name, task, current_app.loader, sender, app=current_app)

    sys.argv = ["celery", *celery_args]
    return int(celery_main() or 0)


# --- The processes ---------------------------------------------------------------------------------------------


@dataclass
class Pipeline:
    """Redis (broker), the SQS stand-in or moto's SQS, the worker and the consumers."""

    env: dict[str, str]
    var_dir: Path
    consumers: int
    concurrency: int
    use_moto_sqs: bool = False
    profile_dir: Path | None = None
    experiments: tuple[str, ...] = ()
    redis: RedisServer | None = None
    sqs: SqsProcess | None = None
    worker: ManagedProcess | None = None
    consumer_processes: list[ManagedProcess] = field(default_factory=list)
    queue_url: str = ""
    endpoint_url: str = ""

    def start_services(self) -> None:
        self.redis = RedisServer().start()
        base = self.redis.url.rsplit("/", 1)[0]
        self.env = {**self.env, "CELERY_BROKER_URL": f"{base}/0", "REDIS_URL": f"{base}/1"}
        if self.use_moto_sqs:
            self.endpoint_url = self.env["INTAKE_S3_ENDPOINT_URL"]
        else:
            self.sqs = SqsProcess(self.var_dir / "sqs.log").start()
            self.endpoint_url = self.sqs.endpoint_url
            self.env["INTAKE_SQS_ENDPOINT_URL"] = self.endpoint_url
        self.env["INTAKE_S3_EVENTS_QUEUE_URL"] = ""
        self.queue_url = sqs_client(self.endpoint_url, pool=1).create_queue(QueueName=QUEUE_NAME)["QueueUrl"]

    def _python(self, name: str) -> list[str]:
        if self.profile_dir is None:
            return [str(VENV_BIN / "python")]
        return [
            str(VENV_BIN / "python"),
            str(Path(__file__).resolve()),
            "--run-profiled",
            str(self.profile_dir / f"{name}.prof"),
        ]

    def start_worker(self, timeout: float = 60) -> None:
        pool = ["--pool", "solo"] if self.profile_dir else ["--concurrency", str(self.concurrency)]
        celery = ["-m", "celery"]
        if self.experiments:  # the same worker, started through worker_with_experiments()
            celery = [str(Path(__file__).resolve()), "--celery-worker", ",".join(self.experiments)]
        self.worker = ManagedProcess(
            [
                *self._python("worker"),
                *celery,
                "-A",
                "config",
                "worker",
                "-l",
                "info",
                *pool,
                "--without-gossip",
                "--without-mingle",
            ],
            self.env,
            self.var_dir / "worker.log",
        ).start()
        deadline = time.monotonic() + timeout
        while "ready." not in self.worker.log():
            self._check(self.worker)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker was not ready within {timeout:.0f} s:\n{self.worker.tail()}")
            time.sleep(0.2)

    def start_consumers(self, timeout: float = 60) -> None:
        """Start them and wait until each is polling the (empty) queue."""
        for n in range(self.consumers):
            self.consumer_processes.append(
                ManagedProcess(
                    [
                        *self._python(f"consumer-{n}"),
                        "manage.py",
                        "consume_s3_events",
                        "--queue-url",
                        self.queue_url,
                        "--wait",
                        "2",
                    ],
                    self.env,
                    self.var_dir / f"consumer-{n}.log",
                ).start()
            )
        deadline = time.monotonic() + timeout
        for process in self.consumer_processes:
            while "consuming S3 events from" not in process.log():
                self._check(process)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"a consumer did not start within {timeout:.0f} s:\n{process.tail()}")
                time.sleep(0.1)

    def move(self, source_url: str) -> None:
        """Hand a pre-filled staging queue's messages to the consumers' queue at once."""
        import requests

        answer = requests.post(
            self.endpoint_url,
            data=json.dumps({"QueueUrl": source_url, "To": self.queue_url}),
            headers={"X-Amz-Target": "AmazonSQS.BenchMoveMessages", "Content-Type": "application/x-amz-json-1.0"},
            timeout=30,
        )
        answer.raise_for_status()

    @staticmethod
    def _check(process: ManagedProcess) -> None:
        assert process.process is not None
        if process.process.poll() is not None:
            raise RuntimeError(
                f"{' '.join(process.args[-6:])} exited ({process.process.returncode}):\n{process.tail()}"
            )

    def check_alive(self) -> None:
        for process in [p for p in [self.worker, *self.consumer_processes] if p is not None]:
            self._check(process)

    def cpu_components(self) -> dict[str, Callable[[], list[int]]]:
        def pids(process: ManagedProcess | None, with_children: bool = False) -> Callable[[], list[int]]:
            def read() -> list[int]:
                if process is None or process.process is None:
                    return []
                return [process.process.pid, *(_children(process.process.pid) if with_children else [])]

            return read

        parts: dict[str, Callable[[], list[int]]] = {
            f"consumers ({self.consumers})": lambda: [
                p.process.pid for p in self.consumer_processes if p.process is not None
            ],
            f"celery worker (prefork {self.concurrency})": pids(self.worker, with_children=True),
            "redis (broker)": lambda: [self.redis.process.pid] if self.redis and self.redis.process else [],
        }
        if self.sqs and self.sqs.process:
            sqs_pid = self.sqs.process.pid
            parts["sqs stand-in"] = lambda: [sqs_pid]
        return parts

    def stop_consumers(self) -> None:
        for process in self.consumer_processes:
            process.stop()
        self.consumer_processes.clear()

    def stop(self) -> None:
        self.stop_consumers()
        if self.worker:
            self.worker.stop()
            self.worker = None
        if self.sqs:
            self.sqs.stop()
            self.sqs = None
        if self.redis:
            self.redis.stop()
            self.redis = None


# --- Sending ----------------------------------------------------------------------------------------------------


def _send_batches(client: Any, queue_url: str, batches: Iterator[list[str]] | list[list[str]], threads: int) -> None:
    """Send every batch of up to 10 bodies, from `threads` threads."""
    from concurrent.futures import ThreadPoolExecutor

    def send(bodies: list[str]) -> None:
        answer = client.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        )
        if answer.get("Failed"):
            raise RuntimeError(f"SQS refused messages: {answer['Failed'][:2]}")

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(send, batch) for batch in batches]:
            future.result(timeout=120)


@dataclass
class PacedSend:
    seconds: float
    messages: int
    max_late_s: float  # how far the scheduler fell behind its own timetable
    send_p99_s: float  # eventTime to SQS's answer, per batch


def send_paced(
    client: Any, queue_url: str, order: list[int], bodies: Bodies, messages_per_second: float, threads: int
) -> PacedSend:
    """Batches of 10 at a steady rate; each body is built (its eventTime set) when its batch is due."""
    import queue as queue_module

    work: queue_module.Queue[tuple[float, list[str]] | None] = queue_module.Queue()
    send_times: list[float] = []
    errors: list[BaseException] = []

    def sender() -> None:
        while (item := work.get()) is not None:
            due, batch = item
            try:
                answer = client.send_message_batch(
                    QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)]
                )
                if answer.get("Failed"):
                    raise RuntimeError(f"SQS refused messages: {answer['Failed'][:2]}")
                send_times.append(time.time() - due)
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                errors.append(exc)

    workers = [threading.Thread(target=sender, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    interval = 10 / messages_per_second
    started = time.monotonic()
    late = 0.0
    try:
        for number, start in enumerate(range(0, len(order), 10)):
            delay = started + number * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            late = max(late, -delay)
            work.put((time.time(), [bodies(i) for i in order[start : start + 10]]))
            if errors:
                break
    finally:
        for _ in workers:
            work.put(None)
        for thread in workers:
            thread.join(timeout=60)
    if errors:
        raise RuntimeError(f"sending failed: {errors[0]!r}")
    return PacedSend(time.monotonic() - started, len(order), late, percentile(send_times, 0.99))


def wait_stored(pipeline: Pipeline, scope: str, expected: int, timeout: float, label: str) -> None:
    deadline = time.monotonic() + timeout
    next_report = time.monotonic() + 5
    count = 0
    while time.monotonic() < deadline:
        count = stored_count(scope)
        if count >= expected:
            return
        pipeline.check_alive()
        if time.monotonic() >= next_report:
            step(f"  {label}: {count}/{expected} stored")
            next_report += 5
        time.sleep(0.25)
    raise RuntimeError(f"{label}: only {count} of {expected} uploads stored after {timeout:.0f} s")


# --- The phases ---------------------------------------------------------------------------------------------------


@dataclass
class Drain:
    scope: str
    events: int
    messages: int
    fill_seconds: float
    rate: float  # distinct events/s, first ledger row to last stored row
    ingest_rate: float  # distinct events/s into the ledger (consumers alone)
    wall_from_start_s: float  # backlog handed to the consumers to last row stored
    cpu_ms_per_event: dict[str, float]
    pg_sessions_per_event: float
    effects: dict[str, int]


def drain_phase(plan: EventPlan, pipeline: Pipeline, bucket: str, rng: random.Random, scope: str) -> Drain:
    step(f"5. drain: registering {plan.events} uploads")
    targets = create_uploads(scope, plan.events, rng)
    order = delivery_order(len(targets), plan.duplicate_ratio, rng)
    bodies = Bodies(bucket, targets)
    batches = [[bodies(i) for i in order[s : s + 10]] for s in range(0, len(order), 10)]
    client = sqs_client(pipeline.endpoint_url, pool=plan.send_threads * 2)
    if not pipeline.consumer_processes:
        pipeline.start_consumers()
    meter = CpuMeter(pipeline.cpu_components())
    # The stand-in fills a staging queue, then hands it all to the running consumers at
    # once; moto's SQS cannot, so there the consumers drain while the queue fills.
    staging = None if pipeline.sqs is None else client.create_queue(QueueName=f"{QUEUE_NAME}-staging")["QueueUrl"]
    t = time.monotonic()
    if staging:
        _send_batches(client, staging, batches, plan.send_threads)
    else:
        sessions_before, cpu_before, started_at = pg_sessions(), meter.read(), dt.datetime.now(dt.UTC)
        _send_batches(client, pipeline.queue_url, batches, plan.send_threads)
    fill = time.monotonic() - t
    step(
        f"  {len(order)} messages ({len(order) - len(targets)} duplicates) queued in {fill:.1f} s; {len(pipeline.consumer_processes)} consumer(s) draining"
    )
    if staging:
        sessions_before, cpu_before, started_at = pg_sessions(), meter.read(), dt.datetime.now(dt.UTC)
        pipeline.move(staging)
    wait_stored(pipeline, scope, len(targets), timeout=max(120.0, plan.events / 20), label="drain")
    cpu_after, sessions_after = meter.read(), pg_sessions()
    times = phase_times(scope)
    busy = (times.last_stored - times.first_received).total_seconds()
    result = Drain(
        scope=scope,
        events=len(targets),
        messages=len(order),
        fill_seconds=fill,
        rate=len(targets) / busy,
        ingest_rate=len(targets) / max((times.last_received - times.first_received).total_seconds(), 1e-6),
        wall_from_start_s=(times.last_stored - started_at).total_seconds(),
        cpu_ms_per_event=CpuMeter.per_event_ms(cpu_before, cpu_after, len(targets)),
        pg_sessions_per_event=(sessions_after - sessions_before) / len(targets),
        effects=check_effects(scope, len(targets)),
    )
    step(
        f"  drained {result.events} events ({result.messages} messages) at {result.rate:.0f} events/s "
        f"(ledger alone {result.ingest_rate:.0f}/s; {result.wall_from_start_s:.1f} s in all); "
        f"{result.pg_sessions_per_event:.3f} PostgreSQL sessions opened per event"
    )
    return result


@dataclass
class Paced:
    offered_rate: float
    events: int
    messages: int
    send: PacedSend
    achieved_rate: float  # events / (last stored - first eventTime)
    latency: dict[str, float]
    cpu_ms_per_event: dict[str, float]
    effects: dict[str, int]


def paced_phase(plan: EventPlan, pipeline: Pipeline, bucket: str, rng: random.Random, scope: str, rate: float) -> Paced:
    count = max(10, round(rate * plan.paced_seconds))
    targets = create_uploads(scope, count, rng)
    order = delivery_order(len(targets), plan.duplicate_ratio, rng)
    bodies = Bodies(bucket, targets)
    messages_per_second = rate * len(order) / len(targets)
    step(
        f"5. paced: {count} events at {rate:.0f} events/s ({messages_per_second:.0f} messages/s with duplicates) "
        f"for {plan.paced_seconds:g} s"
    )
    client = sqs_client(pipeline.endpoint_url, pool=plan.send_threads * 2)
    meter = CpuMeter(pipeline.cpu_components())
    cpu_before = meter.read()
    send = send_paced(client, pipeline.queue_url, order, bodies, messages_per_second, plan.send_threads)
    wait_stored(pipeline, scope, len(targets), timeout=plan.paced_seconds * 10 + 120, label=f"paced {rate:.0f}/s")
    cpu_after = meter.read()
    times = phase_times(scope)
    first_event = dt.datetime.fromtimestamp(bodies.first_event_time or time.time(), dt.UTC)
    result = Paced(
        offered_rate=rate,
        events=len(targets),
        messages=len(order),
        send=send,
        achieved_rate=len(targets) / (times.last_stored - first_event).total_seconds(),
        latency=times.summary(),
        cpu_ms_per_event=CpuMeter.per_event_ms(cpu_before, cpu_after, len(targets)),
        effects=check_effects(scope, len(targets)),
    )
    lat = result.latency
    step(
        f"  sent in {send.seconds:.1f} s (scheduler at most {send.max_late_s * 1000:.0f} ms late, send p99 "
        f"{send.send_p99_s * 1000:.0f} ms); stored at {result.achieved_rate:.0f} events/s; event→row p50 "
        f"{lat['p50_s']:.3f} s, p99 {lat['p99_s']:.3f} s, max {lat['max_s']:.3f} s (event→ledger p99 "
        f"{lat['ledger_p99_s']:.3f} s, ledger→row p99 {lat['apply_p99_s']:.3f} s)"
    )
    return result


# --- The benchmark --------------------------------------------------------------------------------------------------


def _cpu_lines(cpu: dict[str, float]) -> list[str]:
    shown = {k: v for k, v in cpu.items() if k != "machine busy"}
    ours = sum(v for k, v in shown.items() if not k.startswith("other"))
    lines = [f"    {name:<34} {ms:6.2f} ms" for name, ms in sorted(shown.items(), key=lambda kv: -kv[1])]
    lines.append(f"    {'= all of ours':<34} {ours:6.2f} ms  → at most {2000 / ours:.0f} events/s on 2 cores")
    return lines


def bench_events(
    plan: EventPlan,
    env: dict[str, str],
    var_dir: Path,
    *,
    use_moto_sqs: bool = False,
    experiments: tuple[str, ...] = (),
    compare_experiments: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run every phase; returns the measurements and the table rows (as dicts of run_all's `Row` fields).

    `experiments` are patched into the worker for the whole run; `compare_experiments`
    adds one more drain at the end with a worker restarted with them (run_all --experiments)."""
    rng = random.Random(5)
    django_setup(env)
    from django.conf import settings

    bucket = settings.INTAKE_S3_BUCKET
    run = uuid.uuid4().hex[:6]
    details: dict[str, Any] = {
        "plan": asdict(plan),
        "sqs": "moto" if use_moto_sqs else "stand-in (bench/events.py)",
        "experiments": list(experiments),
    }
    step("5. in-process: SQL queries per event of events_ingest_many and event_apply")
    logging.disable(logging.INFO)  # the app logs every event at INFO; not on this console
    try:
        details["queries"] = queries = queries_per_event(bucket, rng)
    finally:
        logging.disable(logging.NOTSET)
    step(
        f"  ingest {queries['ingest queries per batch of 10']:.1f} queries per batch of 10 messages "
        f"({queries['ingest ms per event']:.2f} ms per event); apply {queries['apply queries per event']:.1f} queries "
        f"per event ({queries['apply ms per event']:.2f} ms): {queries['apply statements']}; batch apply "
        f"{queries['batched apply queries per event']:.1f} queries per event ({queries['batched apply ms per event']:.2f} ms)"
    )
    pipeline = Pipeline(
        env=env,
        var_dir=var_dir,
        consumers=plan.consumers,
        concurrency=plan.concurrency,
        use_moto_sqs=use_moto_sqs,
        experiments=experiments,
    )
    try:
        pipeline.start_services()
        step(
            f"5. redis-server (broker) on {pipeline.env['CELERY_BROKER_URL']}, SQS at {pipeline.endpoint_url} "
            f"({details['sqs']}); starting celery -A config worker --concurrency {plan.concurrency}"
        )
        pipeline.start_worker()
        drain = drain_phase(plan, pipeline, bucket, rng, f"drain-{run}")
        details["drain"] = asdict(drain)
        for line in _cpu_lines(drain.cpu_ms_per_event):
            print(line, flush=True)
        step(f"5. reference: bulk_create of {plan.events} ledger rows, {plan.reference_rounds} round(s)")
        references = [bulk_insert_reference(drain.scope) for _ in range(plan.reference_rounds)]
        reference = statistics.median(references)
        details["bulk_insert_rows_per_second"] = references
        step(f"  {', '.join(f'{r:.0f}' for r in references)} rows/s")
        rates = [plan.paced_rate] if plan.paced_seconds > 0 else []  # --seconds 0: drain only
        if rates and drain.rate < plan.paced_rate * 1.25:
            rates.append(round(drain.rate * 0.7, -1) or 10.0)
        paced = [paced_phase(plan, pipeline, bucket, rng, f"paced{n}-{run}", rate) for n, rate in enumerate(rates)]
        details["paced"] = [asdict(p) for p in paced]
        for line in _cpu_lines(paced[0].cpu_ms_per_event) if paced else []:
            print(line, flush=True)
        compared = compared_paced = None
        if compare_experiments:
            step(f"5. restarting the worker with experiments: {', '.join(compare_experiments)}")
            if pipeline.worker:
                pipeline.worker.stop()
            pipeline.experiments = compare_experiments
            pipeline.start_worker()
            compared = drain_phase(plan, pipeline, bucket, rng, f"drainx-{run}")
            details["drain_experiment"] = asdict(compared)
            for line in _cpu_lines(compared.cpu_ms_per_event):
                print(line, flush=True)
            if plan.paced_seconds > 0:
                rate = round(compared.rate * 0.7, -1) or 10.0
                compared_paced = paced_phase(plan, pipeline, bucket, rng, f"pacedx-{run}", rate)
                details["paced_experiment"] = asdict(compared_paced)
    except BaseException:
        for log in sorted(var_dir.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            if lines:
                print(f"--- last lines of {log.name}:", *lines, sep="\n  ", file=sys.stderr)
        raise
    finally:
        step("5. stopping the consumers, the worker, the SQS stand-in and redis-server")
        pipeline.stop()

    rows: list[dict[str, Any]] = [
        {
            "name": f"5. SQS→rows drain, {plan.consumers} consumers + worker -c {plan.concurrency}",
            "measured": f"{drain.rate:.0f} events/s ({drain.messages} msgs, 20% dup)",
            "reference": f"bulk_create {reference:.0f} rows/s",
            "value": drain.rate / reference,
            "unit": "x",
            "goal": f">= {plan.goal_rate:.0f} events/s",
            "holds": drain.rate >= plan.goal_rate,
        }
    ]
    for result in paced:
        sustained = result.achieved_rate >= 0.95 * result.offered_rate
        rows.append(
            {
                "name": f"5. event→row p99 at {result.offered_rate:.0f} events/s offered",
                "measured": f"stored {result.achieved_rate:.0f}/s, p50 {result.latency['p50_s'] * 1000:.0f} ms",
                "reference": "-",
                "value": result.latency["p99_s"] * 1000,
                "unit": "ms",
                "goal": f"< {plan.goal_p99_seconds * 1000:.0f} ms"
                if result.offered_rate >= plan.goal_rate
                else "(reference)",
                "holds": (result.latency["p99_s"] < plan.goal_p99_seconds and sustained)
                if result.offered_rate >= plan.goal_rate
                else None,
            }
        )
    if compared is not None:
        rows.append(
            {
                "name": f"5. drain, experiment: {','.join(compare_experiments)}",
                "measured": f"{compared.rate:.0f} events/s ({compared.messages} msgs, 20% dup)",
                "reference": f"bulk_create {reference:.0f} rows/s",
                "value": compared.rate / reference,
                "unit": "x",
                "goal": "(reference)",
                "holds": None,
            }
        )
    if compared_paced is not None:
        rows.append(
            {
                "name": f"5. event→row p99 at {compared_paced.offered_rate:.0f}/s, experiment",
                "measured": f"stored {compared_paced.achieved_rate:.0f}/s, p50 {compared_paced.latency['p50_s'] * 1000:.0f} ms",
                "reference": "-",
                "value": compared_paced.latency["p99_s"] * 1000,
                "unit": "ms",
                "goal": "(reference)",
                "holds": None,
            }
        )
    if experiments:
        for row in rows:
            row["name"] += f" [experiment: {','.join(experiments)}]"
    details["rows"] = rows
    return details


def print_rows(rows: list[dict[str, Any]]) -> None:
    header = ("Benchmark", "Measured", "Reference", "Result", "Goal", "Holds")
    lines = [
        (
            r["name"],
            r["measured"],
            r["reference"],
            f"{r['value']:.3f}x" if r["unit"] == "x" else f"{r['value']:.1f} {r['unit']}",
            r["goal"],
            "-" if r["holds"] is None else ("yes" if r["holds"] else "NO"),
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)))
    print(flush=True)


def profile_run(
    plan: EventPlan,
    env: dict[str, str],
    var_dir: Path,
    out_dir: Path,
    *,
    use_moto_sqs: bool,
    experiments: tuple[str, ...] = (),
) -> None:
    """One consumer and a solo worker under cProfile drain the events; print their top costs."""
    import pstats

    rng = random.Random(5)
    django_setup(env)
    from django.conf import settings

    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(
        env=env,
        var_dir=var_dir,
        consumers=1,
        concurrency=1,
        use_moto_sqs=use_moto_sqs,
        profile_dir=out_dir,
        experiments=experiments,
    )
    try:
        pipeline.start_services()
        pipeline.start_worker()
        drain = drain_phase(plan, pipeline, settings.INTAKE_S3_BUCKET, rng, f"profile-{uuid.uuid4().hex[:6]}")
        for line in _cpu_lines(drain.cpu_ms_per_event):
            print(line, flush=True)
    finally:
        pipeline.stop()  # SIGTERM: both finish their loop and cProfile writes its file
    for name in ("consumer-0", "worker"):
        path = out_dir / f"{name}.prof"
        if not path.exists():
            step(f"no profile written for {name}")
            continue
        print(f"\n=== {name}: top 25 by cumulative time, per {drain.events} events ===")
        pstats.Stats(str(path)).sort_stats("cumulative").print_stats(25)
        print(f"=== {name}: top 20 by own time ===")
        pstats.Stats(str(path)).sort_stats("tottime").print_stats(20)


def run_profiled(out: Path, command: list[str]) -> int:
    """Run `-m module args` or `script args` under cProfile timing CPU, not wall time
    (the processes mostly wait on sockets), and write the stats when it ends."""
    import cProfile
    import runpy

    profiler = cProfile.Profile(time.process_time)
    code = 0
    try:
        if command[0] == "-m":
            sys.argv = [command[1], *command[2:]]
            profiler.runcall(runpy.run_module, command[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = command
            profiler.runcall(runpy.run_path, command[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        profiler.dump_stats(str(out))
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--celery-worker"]:  # the worker process of --experiment
        return worker_with_experiments([e for e in argv[1].split(",") if e], argv[2:])
    if argv[:1] == ["--run-profiled"]:  # a consumer or worker process of --profile
        return run_profiled(Path(argv[1]), argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 events, 3 s paced run")
    parser.add_argument(
        "--events", type=int, default=None, help="distinct events drained (default 20,000; quick 2,000)"
    )
    parser.add_argument("--rate", type=float, default=None, help="offered events/s in the paced run (default 1,000)")
    parser.add_argument(
        "--seconds", type=float, default=None, help="length of the paced run (default 15; quick 3; 0: drain only)"
    )
    parser.add_argument("--consumers", type=int, default=None, help="consume_s3_events processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=None, help="Celery prefork processes (default 2)")
    parser.add_argument(
        "--sqs", choices=["stand-in", "moto"], default="stand-in", help="which SQS (default: the stand-in)"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="profile one consumer and a solo worker instead"
    )
    parser.add_argument(
        "--experiment",
        default="",
        help=f"candidate app changes patched into the worker, comma-separated: {', '.join(EXPERIMENTS)}",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement to this file")
    parser.add_argument("--serve-sqs", type=int, default=None, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sqs:
        SqsStandIn(args.serve_sqs).serve()
        return 0
    plan = QUICK if args.quick else FULL
    overrides = {
        "events": args.events,
        "paced_rate": args.rate,
        "paced_seconds": args.seconds,
        "consumers": args.consumers,
        "concurrency": args.concurrency,
    }
    plan = EventPlan(**{**asdict(plan), **{k: v for k, v in overrides.items() if v is not None}})
    experiments = tuple(e for e in args.experiment.split(",") if e)
    if set(experiments) - set(EXPERIMENTS):
        parser.error(f"--experiment takes {', '.join(EXPERIMENTS)}")
    with tempfile.TemporaryDirectory(prefix="intake-bench-events-") as tmp:
        var_dir = Path(tmp)
        stack = harness.Stack(var_dir=var_dir)
        try:
            step(f"preparing PostgreSQL database {harness.BENCH_DATABASE}")
            harness.ensure_database()
            emulator = stack.start_emulator()
            step(f"moto (S3) on {emulator.endpoint_url}; migrating, configuring bucket {harness.BUCKET}")
            harness.prepare_app(stack.env())
            if args.profile:
                profile_run(
                    plan,
                    stack.env(),
                    var_dir,
                    args.profile,
                    use_moto_sqs=args.sqs == "moto",
                    experiments=experiments,
                )
                return 0
            details = bench_events(plan, stack.env(), var_dir, use_moto_sqs=args.sqs == "moto", experiments=experiments)
        except KeyboardInterrupt:
            step("interrupted; stopped everything")
            return 130
        finally:
            stack.close()
    print_rows(details["rows"])
    if args.json:
        args.json.write_text(json.dumps(details, indent=2, default=str))
        step(f"measurements written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
