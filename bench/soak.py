"""`make soak`: Intake as `make run` starts it, under load and chaos for some minutes.

It starts `scripts/run.py` (its own INTAKE_VAR_DIR under var/soak-<timestamp>/, free
ports), then, for --minutes, all at once and only against 127.0.0.1:
- portal visitors upload through the portal pages and the upload contract (single PUTs
  and 12 MiB multipart uploads, the CSRF token sent as the pages send it); a share of
  single uploads never call complete, so only their S3 event can store them;
- a staff session browses the dashboard's pages;
- an event storm sends S3 event messages straight into the emulator's SQS queue:
  events for the objects visitors stored, 20 % of them sent twice, and 1 % poison;
- chaos: every minute the Celery worker is SIGKILLed (make run's supervisor restarts
  it), and the S3 emulator is paused (SIGSTOP) twice for 20 s.
Then it waits (at most 3 minutes) for the queues to drain, checks the run's database
read-only (5xx answers, lost uploads, lost events, duplicate notifications), prints
every process's memory, and exits 1 when a goal is missed. Everything it started is
stopped, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import requests
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from emulator import die_with_parent, free_port  # noqa: E402

VENV_PYTHON = Path(sys.executable)
MiB = 1024 * 1024
BUCKET = "intake-local"  # make run's default bucket
QUEUE = "intake-events"
# The emulator accepts any credentials; these only make boto3 sign.
ACCESS_KEY, SECRET_KEY = "intake-local", "intake-local-secret"
VISITORS = 20
MULTIPART_SIZE = 12 * MiB
PART_SIZE = 5 * MiB
# Share of single uploads that never call complete: only their S3 event can store them.
EVENT_ONLY_SHARE = 0.15
# Share of files sent as 12 MiB multipart uploads. The emulator keeps every object in
# memory, so this bounds its growth (about 1 GiB in a 10-minute run).
MULTIPART_SHARE = 0.06
DUPLICATE_SHARE = 0.20
POISON_SHARE = 0.01
PAUSE_SECONDS = 20.0
DRAIN_SECONDS = 180.0
REQUEST_TIMEOUT = 30.0
# A browser's Uppy retries a failed call after 0, 1, 3 and 5 s; visitors do the same.
RETRY_DELAYS = (0.0, 1.0, 3.0, 5.0)

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _started:7.1f}s] {message}", flush=True)


# --- what happened, as the clients saw it ----------------------------------------------------------


@dataclasses.dataclass
class Tracked:
    """One upload a visitor made; `expect_stored` once S3 has its bytes and the server
    was told (complete answered) or an event for it was sent."""

    id: str
    key: str
    filename: str
    multipart: bool
    put_ok: bool = False
    completed: bool = False
    event_only: bool = False
    expect_stored: bool = False


class Record:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()  # "GET /p/…/api/s3/params 200" → count
        self.server_errors: list[str] = []
        self.client_errors: Counter[str] = Counter()  # timeouts, refused connections
        self.uploads: dict[str, Tracked] = {}
        self.sent_events: dict[tuple[str, str], str] = {}  # (key, sequencer) → body
        self.storm = Counter[str]()
        self.chaos: list[str] = []
        self.paused: list[tuple[float, float]] = []  # emulator pauses, monotonic
        self.staff_pages = 0

    def answer(self, method: str, route: str, status: int, detail: str = "", retry_after: str = "") -> None:
        with self.lock:
            self.statuses[f"{method} {route} {status}"] += 1
            if status >= 500:
                self.server_errors.append(
                    f"{time.monotonic():.1f} {method} {route} {status} retry-after={retry_after or '-'} {detail[:200]}"
                )


def route_of(path: str) -> str:
    """A path without its ids, to count answers per route."""
    path = re.sub(r"/p/[^/]+/", "/p/<token>/", path.split("?", 1)[0])
    path = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", path)
    return re.sub(r"/multipart/[^/]+", "/multipart/<uploadId>", path)


# --- the run under test --------------------------------------------------------------------------


class Intake:
    """`scripts/run.py` in a process group of its own, with its own var dir and ports."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.emulator_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.endpoint = f"http://127.0.0.1:{self.emulator_port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = dict(os.environ)
        for name in ("INTAKE_S3_ENDPOINT_URL", "DATABASE_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            self.env.pop(name, None)  # the emulator and SQLite of this run, nothing else
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "INTAKE_VAR_DIR": str(var_dir),
                "PORT": str(self.port),
                "INTAKE_EMULATOR_PORT": str(self.emulator_port),
                # Every visitor comes from 127.0.0.1, so the per-address limits (meant
                # for one client) would refuse the soak's own load.
                "INTAKE_PORTAL_RATE_PAGE": "100000/60",
                "INTAKE_PORTAL_RATE_API": "100000/60",
                # Digests every 10 s: more runs in which a file could be sent twice.
                "INTAKE_NOTIFY_INTERVAL_SECONDS": "10",
                # Tasks die with each killed worker (make run's broker cannot give a
                # fetched task back); beat enqueues their ledger rows again after this
                # long, short enough for the drain to see it (default 10).
                "INTAKE_EVENTS_STUCK_MINUTES": "2",
                # gunicorn replaces a worker after GUNICORN_MAX_REQUESTS requests, which
                # would hide a leak: the soak keeps one worker for the whole run.
                "GUNICORN_MAX_REQUESTS": "1000000000",
            }
        )

    def manage_env(self) -> dict[str, str]:
        """run.py's children's environment, for manage.py commands run beside them."""
        return {
            **self.env,
            "INTAKE_S3_ENDPOINT_URL": self.endpoint,
            "INTAKE_PUBLIC_BASE_URL": self.base,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def start(self) -> None:
        log = open(self.var_dir / "run.log", "ab")  # noqa: SIM115 - the child keeps its copy
        self.process = subprocess.Popen(
            [str(VENV_PYTHON), "scripts/run.py"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the soak, which stops run.py in order
            preexec_fn=die_with_parent,
        )
        log.close()

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"scripts/run.py exited with {self.process.returncode}; see {self.var_dir / 'run.log'}"
                )
            with contextlib.suppress(requests.RequestException, ValueError):
                answer = requests.get(f"{self.base}/healthz/ready", timeout=5)
                background = answer.json().get("background", {})
                if (
                    answer.status_code == 200
                    and all(str(v).startswith("ok") for v in background.values())
                    and background
                ):
                    return
            time.sleep(2)
        raise RuntimeError(f"Intake was not ready in {timeout:.0f} s; see {self.var_dir / 'run.log'}")

    def children(self) -> dict[str, int]:
        """The long-running processes by role, found through /proc (parent pid, command)."""
        if self.process is None:
            return {}
        found: dict[str, int] = {"run.py": self.process.pid}
        for pid, command in _children_of(self.process.pid):
            if "moto_server" in command or "emulator" in command:
                found["emulator"] = pid
            elif "celery" in command and " worker" in command:
                found["celery worker"] = pid
            elif "celery" in command and " beat" in command:
                found["celery beat"] = pid
            elif "consume_s3_events" in command:
                found["event consumer"] = pid
            elif "gunicorn" in command:
                found["django (gunicorn)"] = pid
        return found

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        emulator = self.children().get("emulator")
        if emulator:
            with contextlib.suppress(ProcessLookupError):
                os.kill(emulator, signal.SIGCONT)  # a stopped emulator could not stop
        say("stopping Intake (SIGTERM to scripts/run.py)")
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            say("scripts/run.py did not stop in 60 s; killing its group")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def database(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.var_dir / 'intake.sqlite3'}?mode=ro", uri=True, timeout=30)


def _children_of(parent: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != parent:
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
        found.append((int(entry.name), command))
    return found


def tree_rss_kib(pid: int) -> int | None:
    """RSS of a process and all its descendants (None once the process is gone)."""
    own = rss_kib(pid)
    if own is None:
        return None
    return own + sum(tree_rss_kib(child) or 0 for child, _ in _children_of(pid))


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


# --- clients --------------------------------------------------------------------------------------


class Client:
    """A requests session that counts every answer from Intake and retries as Uppy does."""

    def __init__(self, intake: Intake, record: Record) -> None:
        self.intake, self.record = intake, record
        self.http = requests.Session()

    def call(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> requests.Response | None:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        for delay in RETRY_DELAYS if retry else (0.0,):
            time.sleep(delay)
            try:
                answer = self.http.request(method, f"{self.intake.base}{path}", **kwargs)
            except requests.RequestException as exc:
                with self.record.lock:
                    self.record.client_errors[f"{method} {route_of(path)} {type(exc).__name__}"] += 1
                continue
            self.record.answer(
                method,
                route_of(path),
                answer.status_code,
                answer.text if answer.status_code >= 500 else "",
                answer.headers.get("Retry-After", ""),
            )
            if answer.status_code < 500:
                return answer
        return None

    def csrf(self) -> str:
        return str(self.http.cookies.get("csrftoken", ""))


def put_to_s3(url: str, body: bytes, headers: dict[str, str], record: Record) -> requests.Response | None:
    """A PUT straight to the emulator, retried like the browser's (it may be paused)."""
    for delay in RETRY_DELAYS:
        time.sleep(delay)
        try:
            answer = requests.put(url, data=body, headers=headers, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            with record.lock:
                record.client_errors[f"PUT s3 {type(exc).__name__}"] += 1
            continue
        with record.lock:
            record.statuses[f"PUT s3 {answer.status_code}"] += 1
        if answer.status_code < 500:
            return answer
    return None


def md5_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - S3's Content-MD5


class Visitor(threading.Thread):
    def __init__(
        self, number: int, intake: Intake, record: Record, tokens: list[str], deadline: float, big: bytes
    ) -> None:
        super().__init__(name=f"visitor-{number}", daemon=True)
        self.number, self.intake, self.record, self.tokens, self.deadline = number, intake, record, tokens, deadline
        self.big = big
        self.rng = random.Random(number)
        self.files = 0

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            try:
                self.visit()
            except Exception as exc:  # noqa: BLE001 - a harness bug must not end the soak silently
                with self.record.lock:
                    self.record.client_errors[f"visitor {type(exc).__name__}: {exc}"[:160]] += 1
                time.sleep(1)

    def visit(self) -> None:
        """One visit: open the link, say who you are, send 1 to 3 files."""
        token = self.rng.choice(self.tokens)
        client = Client(self.intake, self.record)
        page = client.call("GET", f"/p/{token}/")
        if page is None or page.status_code != 200:
            time.sleep(1)
            return
        who = {"name": f"Soak Visitor {self.number}", "email": f"visitor{self.number}@example.test"}
        identified = client.call(
            "POST", f"/p/{token}/identify", data={**who, "csrfmiddlewaretoken": client.csrf()}, allow_redirects=False
        )
        if identified is None or identified.status_code != 302:
            time.sleep(1)
            return
        client.call("GET", f"/p/{token}/")  # the upload page, after the redirect
        for _ in range(self.rng.randint(1, 3)):
            if time.monotonic() >= self.deadline:
                return
            if self.rng.random() < MULTIPART_SHARE:
                self.multipart(client, token)
            else:
                self.single(client, token)
            time.sleep(self.rng.uniform(0.5, 2.0))  # a person picks the next file

    def new_filename(self, extension: str) -> str:
        self.files += 1
        return f"soak-v{self.number:02d}-{self.files:05d}-{uuid.uuid4().hex[:8]}{extension}"

    def single(self, client: Client, token: str) -> None:
        body = os.urandom(self.rng.randint(1_000, 64_000))
        filename = self.new_filename(".pdf")
        query = {"filename": filename, "type": "application/pdf", "metadata[size]": len(body), "md5": md5_b64(body)}
        headers = {"X-CSRFToken": client.csrf(), "Accept": "application/json"}
        signed = client.call("GET", f"/p/{token}/api/s3/params", params=query, headers=headers)
        if signed is None or signed.status_code != 200:
            return
        answer = signed.json()
        tracked = Tracked(id=answer["id"], key=answer["key"], filename=filename, multipart=False)
        with self.record.lock:
            self.record.uploads[tracked.id] = tracked
        put = put_to_s3(answer["url"], body, answer.get("headers") or {}, self.record)
        if put is None or put.status_code != 200:
            return
        tracked.put_ok = True
        if self.rng.random() < EVENT_ONLY_SHARE:
            # The tab closed before complete: the bucket's event (and the storm's copy)
            # is all that can store it.
            tracked.event_only = tracked.expect_stored = True
            return
        done = client.call("POST", f"/p/{token}/api/s3/complete?key={quote_plus(tracked.key)}", headers=headers)
        if done is not None and done.status_code == 200:
            tracked.completed = tracked.expect_stored = True

    def multipart(self, client: Client, token: str) -> None:
        body = uuid.uuid4().bytes + self.big[16:]  # unique bytes, one shared buffer
        filename = self.new_filename(".bin")
        headers = {"X-CSRFToken": client.csrf(), "Accept": "application/json"}
        document = {
            "filename": filename,
            "type": "application/octet-stream",
            "metadata": {"size": len(body)},
            "partSize": PART_SIZE,
        }
        created = client.call("POST", f"/p/{token}/api/s3/multipart", json=document, headers=headers)
        if created is None or created.status_code != 200:
            return
        answer = created.json()
        upload_id, key, part_size = answer["uploadId"], answer["key"], int(answer["partSize"])
        tracked = Tracked(id=answer["id"], key=key, filename=filename, multipart=True)
        with self.record.lock:
            self.record.uploads[tracked.id] = tracked
        parts = []
        for number, offset in enumerate(range(0, len(body), part_size), start=1):
            chunk = body[offset : offset + part_size]
            query = {"key": key, "md5": md5_b64(chunk)}
            signed = client.call(
                "GET", f"/p/{token}/api/s3/multipart/{upload_id}/{number}", params=query, headers=headers
            )
            if signed is None or signed.status_code != 200:
                return
            put = put_to_s3(signed.json()["url"], chunk, signed.json().get("headers") or {}, self.record)
            if put is None or put.status_code != 200:
                return
            parts.append({"PartNumber": number, "ETag": put.headers.get("ETag", "")})
        tracked.put_ok = True
        done = client.call(
            "POST",
            f"/p/{token}/api/s3/multipart/{upload_id}/complete?key={quote_plus(key)}",
            json={"parts": parts},
            headers=headers,
        )
        if done is not None and done.status_code == 200:
            tracked.completed = tracked.expect_stored = True


class Staff(threading.Thread):
    def __init__(self, intake: Intake, record: Record, deadline: float) -> None:
        super().__init__(name="staff", daemon=True)
        self.intake, self.record, self.deadline = intake, record, deadline
        self.rng = random.Random(7)

    def sign_in(self) -> Client:
        client = Client(self.intake, self.record)
        client.call("GET", "/accounts/login/")
        password = (self.intake.var_dir / "admin-password.txt").read_text().strip()
        answer = client.call(
            "POST",
            "/accounts/login/",
            data={"username": "admin", "password": password, "csrfmiddlewaretoken": client.csrf()},
            headers={"Referer": f"{self.intake.base}/accounts/login/"},
            allow_redirects=False,
        )
        if answer is None or "sessionid" not in client.http.cookies:
            raise RuntimeError("the staff sign-in failed")
        return client

    def run(self) -> None:
        try:
            client = self.sign_in()
        except (RuntimeError, OSError) as exc:
            with self.record.lock:
                self.record.client_errors[f"staff: {exc}"] += 1
            return
        while time.monotonic() < self.deadline:
            with self.record.lock:
                ids = [u.id for u in list(self.record.uploads.values())[-50:]]
            pages = [
                "/",
                "/uploads/",
                f"/uploads/?q=soak-v{self.rng.randint(0, VISITORS - 1):02d}",
                "/stats/",
                "/audit/",
                "/portals/",
            ]
            if ids:
                pages.append(f"/uploads/{self.rng.choice(ids)}/")
            for page in pages:
                if time.monotonic() >= self.deadline:
                    return
                answer = client.call("GET", page, retry=False)
                if (
                    answer is not None
                    and answer.status_code in (301, 302)
                    and "login" in answer.headers.get("Location", "")
                ):
                    client = self.sign_in()  # the session ended; a person signs in again
                with self.record.lock:
                    self.record.staff_pages += 1
                time.sleep(0.3)


# --- the event storm --------------------------------------------------------------------------------


def sqs_client(intake: Intake) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=intake.endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}),
    )


def s3_client(intake: Intake) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=intake.endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}),
    )


def event_body(key: str, size: int, etag: str, sequencer: str) -> str:
    """An ObjectCreated:Put notification shaped as S3 sends it (event structure 2.1)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": now,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:SOAK"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "intake-events",
            "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag, "sequencer": sequencer},
        },
    }
    return json.dumps({"Records": [record]})


def poison_body(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["not json", "no records", "impossible size", "nul key", "deep nesting"])
    fake_key = f"uploads/soak-poison/{uuid.uuid4().hex}.bin"
    if kind == "not json":
        return kind, "this is not JSON {"
    if kind == "no records":
        return kind, json.dumps({"Service": "soak", "Note": "no Records here"})
    if kind == "impossible size":
        return kind, event_body(fake_key, 10**40, "0" * 32, f"{rng.getrandbits(64):016X}")
    if kind == "nul key":
        return kind, event_body(fake_key + "\x00.bin", 1, "0" * 32, f"{rng.getrandbits(64):016X}")
    return kind, "[" * 2000 + "]" * 2000


class Storm(threading.Thread):
    """About 4 messages a second into the queue the consumer reads."""

    def __init__(self, intake: Intake, record: Record, deadline: float) -> None:
        super().__init__(name="storm", daemon=True)
        self.intake, self.record, self.deadline = intake, record, deadline
        self.rng = random.Random(11)
        self.sent_bodies: list[str] = []
        self.done_keys: set[str] = set()
        self.sequence = 0

    def run(self) -> None:
        sqs, s3 = sqs_client(self.intake), s3_client(self.intake)
        queue_url = ""
        while time.monotonic() < self.deadline:
            time.sleep(0.25)
            try:
                queue_url = queue_url or sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
                body = self.next_body(s3)
                if body is None:
                    continue
                sqs.send_message(QueueUrl=queue_url, MessageBody=body)
            except Exception as exc:  # noqa: BLE001 - the emulator may be paused: try the next one
                with self.record.lock:
                    self.record.storm[f"send failed ({type(exc).__name__})"] += 1

    def next_body(self, s3: Any) -> str | None:
        roll = self.rng.random()
        if roll < POISON_SHARE:
            kind, body = poison_body(self.rng)
            with self.record.lock:
                self.record.storm[f"poison: {kind}"] += 1
            return body
        if roll < POISON_SHARE + DUPLICATE_SHARE and self.sent_bodies:
            with self.record.lock:
                self.record.storm["duplicate"] += 1
            return self.rng.choice(self.sent_bodies[-200:])
        with self.record.lock:
            candidates = [u for u in self.record.uploads.values() if u.put_ok and u.key not in self.done_keys]
        if not candidates:
            return None
        upload = self.rng.choice(candidates[-100:])
        head = s3.head_object(Bucket=BUCKET, Key=upload.key)
        size = int(head["ContentLength"])
        # A sequencer of our own, above the emulator's: a distinct event for the object.
        self.sequence += 1
        sequencer = f"FF{int(time.time() * 1000):014X}{self.sequence:08X}"
        body = event_body(upload.key, size, head["ETag"], sequencer)
        self.done_keys.add(upload.key)
        self.sent_bodies.append(body)
        with self.record.lock:
            self.record.sent_events[(upload.key, sequencer)] = body
            self.record.storm["event"] += 1
            if upload.put_ok:
                upload.expect_stored = True
        return body


# --- chaos -------------------------------------------------------------------------------------------


class Chaos(threading.Thread):
    def __init__(self, intake: Intake, record: Record, started: float, deadline: float) -> None:
        super().__init__(name="chaos", daemon=True)
        self.intake, self.record, self.deadline = intake, record, deadline
        duration = deadline - started
        # Two pauses, a third and two thirds of the way through.
        self.pauses = [started + duration / 3, started + 2 * duration / 3]
        # The first kill half a minute in, then every minute, so a 1-minute run has one too.
        self.next_kill = started + 30.0
        self.paused_pid: int | None = None

    def note(self, text: str) -> None:
        say(f"chaos: {text}")
        with self.record.lock:
            self.record.chaos.append(text)

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            now = time.monotonic()
            if self.pauses and now >= self.pauses[0]:
                self.pauses.pop(0)
                self.pause_emulator()
            elif now >= self.next_kill:
                self.next_kill += 60.0
                self.kill_worker()
            time.sleep(0.5)

    def kill_worker(self) -> None:
        worker = self.intake.children().get("celery worker")
        if worker is None:
            self.note("no Celery worker to kill (it is being restarted)")
            return
        pool = [pid for pid, _ in _children_of(worker)]
        # make run's worker uses the threads pool (no pool processes): then it is the worker.
        victim = random.choice(pool) if pool else worker
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
        self.note(f"SIGKILL {'pool process' if pool else 'the Celery worker'} {victim}")

    def pause_emulator(self) -> None:
        emulator = self.intake.children().get("emulator")
        if emulator is None:
            self.note("no emulator to pause")
            return
        self.paused_pid = emulator
        os.kill(emulator, signal.SIGSTOP)
        began = time.monotonic()
        self.note(f"SIGSTOP the S3 emulator {emulator} for {PAUSE_SECONDS:.0f} s")
        try:
            time.sleep(PAUSE_SECONDS)
        finally:
            self.resume()
        with self.record.lock:
            self.record.paused.append((began, time.monotonic()))

    def resume(self) -> None:
        if self.paused_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.paused_pid, signal.SIGCONT)
            self.note(f"SIGCONT the S3 emulator {self.paused_pid}")
            self.paused_pid = None


class Memory(threading.Thread):
    """RSS of each long-running process every 10 s, by role (a restarted one starts a new series)."""

    def __init__(self, intake: Intake, stop: threading.Event) -> None:
        super().__init__(name="memory", daemon=True)
        self.intake, self.stop_event = intake, stop
        self.samples: dict[str, list[tuple[float, int, int]]] = defaultdict(list)  # role → (t, pid, KiB)

    def run(self) -> None:
        while not self.stop_event.is_set():
            now = time.monotonic()
            for role, pid in self.intake.children().items():
                # A process with children of its own (gunicorn's worker, Celery's pool)
                # counts with them: the master alone would look flat whatever they do.
                # run.py's children are the other roles, measured on their own.
                kib = rss_kib(pid) if role == "run.py" else tree_rss_kib(pid)
                if kib is not None:
                    self.samples[role].append((now, pid, kib))
            self.stop_event.wait(10.0)


# --- checks --------------------------------------------------------------------------------------------


def queue_depth(intake: Intake) -> tuple[int, int, int]:
    """(visible, in flight, dead letters) of the events queue."""
    sqs = sqs_client(intake)
    counts = []
    for name in (QUEUE, f"{QUEUE}-dlq"):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        counts.append(
            (
                int(attributes.get("ApproximateNumberOfMessages", 0)),
                int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            )
        )
    return counts[0][0], counts[0][1], counts[1][0] + counts[1][1]


def broker_backlog(intake: Intake) -> int:
    queue = intake.var_dir / "broker" / "queue"
    return sum(1 for _ in queue.iterdir()) if queue.exists() else 0


def queued_event_ids(intake: Intake) -> set[int]:
    """Ledger ids that an apply task still waiting in the filesystem broker carries: a
    pending row that none carries has lost its task (nothing would apply it)."""
    ids: set[int] = set()
    for path in (intake.var_dir / "broker" / "queue").glob("*.msg"):
        with contextlib.suppress(OSError, ValueError, KeyError, IndexError, TypeError):
            message = json.loads(path.read_text())
            if message["headers"]["task"] == "uploader.tasks.apply_object_events":
                ids.update(int(i) for i in json.loads(base64.b64decode(message["body"]))[0][0])
    return ids


def unsettled(intake: Intake, record: Record) -> dict[str, int]:
    with record.lock:
        expected = [u.id for u in record.uploads.values() if u.expect_stored]
        events = list(record.sent_events)
    with contextlib.closing(intake.database()) as db:
        states = dict(db.execute("SELECT REPLACE(id, '-', ''), state FROM uploader_upload").fetchall())
        pending = db.execute("SELECT COUNT(*) FROM uploader_uploadevent WHERE outcome = 'pending'").fetchone()[0]
        ledger = {(k, s): o for k, s, o in db.execute("SELECT key, sequencer, outcome FROM uploader_uploadevent")}
        unnotified = db.execute(
            "SELECT COUNT(*) FROM uploader_upload WHERE state = 'stored' AND portal_id IS NOT NULL AND notified_at IS NULL"
        ).fetchone()[0]
    open_uploads = sum(1 for i in expected if states.get(i.replace("-", "")) in ("registered", "uploading", None))
    missing_events = sum(1 for e in events if ledger.get(e) in (None, "pending"))
    return {
        "open uploads": open_uploads,
        "pending ledger rows": pending,
        "storm events not applied": missing_events,
        "stored, not yet notified": unnotified,
    }


def drain(intake: Intake, record: Record) -> float:
    began = time.monotonic()
    while time.monotonic() - began < DRAIN_SECONDS:
        try:
            visible, _, _ = queue_depth(intake)
            left = {**unsettled(intake, record), "queued messages": visible, "broker tasks": broker_backlog(intake)}
        except Exception as exc:  # noqa: BLE001 - a locked database or a slow emulator: look again
            say(f"drain: could not look ({exc})")
            time.sleep(5)
            continue
        if not any(left.values()):
            return time.monotonic() - began
        say("drain: " + ", ".join(f"{k} {v}" for k, v in left.items() if v))
        time.sleep(5)
    return time.monotonic() - began


def digest_counts(intake: Intake) -> Counter[str]:
    """File names in the digests the console e-mail backend wrote to the worker's log."""
    counts: Counter[str] = Counter()
    log = intake.var_dir / "log" / "worker.log"
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            match = re.match(r"^- (soak-v\d\d-\d{5}-[0-9a-f]{8}\.\w+) \(", line)
            if match:
                counts[match.group(1)] += 1
    return counts


def check(
    intake: Intake, record: Record, memory: Memory, drained: float
) -> tuple[list[tuple[str, str, bool]], list[str]]:
    rows: list[tuple[str, str, bool]] = []
    notes: list[str] = []
    with contextlib.closing(intake.database()) as db:
        uploads = {
            row[0].replace("-", ""): row[1:]
            for row in db.execute("SELECT id, state, rejection_reason, original_filename FROM uploader_upload")
        }
        stored_audits = Counter(
            row[0].replace("-", "")
            for row in db.execute("SELECT upload_id FROM uploader_auditentry WHERE action = 'upload.stored'")
            if row[0]
        )
        ledger = {(k, s): o for k, s, o in db.execute("SELECT key, sequencer, outcome FROM uploader_uploadevent")}
        outcomes = Counter(o for (o,) in db.execute("SELECT outcome FROM uploader_uploadevent"))
        pending = outcomes.get("pending", 0)
        pending_ids = [i for (i,) in db.execute("SELECT id FROM uploader_uploadevent WHERE outcome = 'pending'")]
    queued = queued_event_ids(intake)
    taskless = [i for i in pending_ids if i not in queued]
    # S3 cannot answer while it is paused: a call that needs it (complete, multipart
    # create) gets 503 storage_unavailable with Retry-After, and the client comes back
    # (docs/adr/0013-hardening-goals-restated.md). Any other 5xx is a fault.
    outage = [line for line in record.server_errors if _announced_outage(line, record.paused)]
    server_errors = len(record.server_errors) - len(outage)
    requests_total = sum(v for k, v in record.statuses.items() if not k.startswith("PUT s3"))
    rows.append(("requests to Intake", str(requests_total), True))
    by_status = Counter(line.split()[3] for line in record.server_errors if line not in outage)
    rows.append(
        (
            "5xx answers, S3's outage excepted (goal 0)",
            f"{server_errors} ({', '.join(f'{n} x {code}' for code, n in sorted(by_status.items())) or 'none'})",
            server_errors == 0,
        )
    )
    rows.append(
        (
            "  503 storage_unavailable with Retry-After during an S3 pause (retried)",
            str(len(outage)),
            True,
        )
    )

    tracked = list(record.uploads.values())
    expected = [u for u in tracked if u.expect_stored]
    states = Counter(uploads.get(u.id.replace("-", ""), ("missing",))[0] for u in expected)
    lost = [
        u
        for u in expected
        if uploads.get(u.id.replace("-", ""), ("missing",))[0] in ("registered", "uploading", "missing")
    ]
    rejected = [u for u in expected if uploads.get(u.id.replace("-", ""), ("",))[0] == "rejected"]
    rows.append(("uploads registered by visitors", str(len(tracked)), True))
    rows.append(
        (
            "uploads that must be stored",
            f"{len(expected)} ({sum(u.multipart for u in expected)} multipart, "
            f"{sum(u.event_only for u in expected)} by event only)",
            True,
        )
    )
    rows.append(("  their states", ", ".join(f"{k} {v}" for k, v in sorted(states.items())), True))
    rows.append(("lost uploads (goal 0)", str(len(lost)), not lost))
    rows.append(("rejected (none was broken on purpose)", str(len(rejected)), not rejected))
    for upload in (lost + rejected)[:10]:
        notes.append(f"upload {upload.id} {upload.key}: {uploads.get(upload.id.replace('-', ''))} {upload}")
    abandoned = Counter(uploads.get(u.id.replace("-", ""), ("missing",))[0] for u in tracked if not u.expect_stored)
    rows.append(
        (
            "  unfinished by the client (not counted)",
            ", ".join(f"{k} {v}" for k, v in sorted(abandoned.items())) or "0",
            True,
        )
    )

    sent = list(record.sent_events)
    not_in_ledger = [e for e in sent if e not in ledger]
    not_applied = [e for e in sent if ledger.get(e) == "pending"]
    rows.append(("storm messages", ", ".join(f"{k} {v}" for k, v in sorted(record.storm.items())), True))
    rows.append(("ledger rows by outcome", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())), True))
    rows.append(("lost events (goal 0): sent, not in the ledger", str(len(not_in_ledger)), not not_in_ledger))
    rows.append(
        ("lost events (goal 0): pending in the ledger", f"{pending} ({len(not_applied)} of the storm's)", pending == 0)
    )
    rows.append(
        (
            "  of which with no task left in the broker (lost)",
            f"{len(taskless)} (the rest wait in the broker's queue)",
            not taskless,
        )
    )
    if taskless:
        notes.append(f"pending ledger rows no queued task carries: {taskless[:30]}")
    for key, sequencer in (not_in_ledger + not_applied)[:10]:
        notes.append(f"event not applied: {key} sequencer {sequencer} → {ledger.get((key, sequencer))}")

    stored_ids = [i for i, row in uploads.items() if row[0] == "stored"]
    audit_dupes = [i for i in stored_ids if stored_audits[i] > 1]
    audit_missing = [i for i in stored_ids if stored_audits[i] == 0]
    rows.append(
        (
            "upload.stored audit entries ≠ 1 (goal 0)",
            f"{len(audit_dupes)} duplicated, {len(audit_missing)} missing",
            not audit_dupes and not audit_missing,
        )
    )
    digests = digest_counts(intake)
    stored_names = {row[2] for row in uploads.values() if row[0] == "stored"}
    twice = {name: n for name, n in digests.items() if n > 1}
    rows.append(("files in e-mail digests", f"{len(digests)} of {len(stored_names)} stored", True))
    rows.append(("files in more than one digest (goal 0)", str(len(twice)), not twice))
    for name, n in list(twice.items())[:10]:
        notes.append(f"digest duplicate: {name} in {n} digests")
    for upload_id in (audit_dupes + audit_missing)[:10]:
        notes.append(f"upload.stored audit entries for {upload_id}: {stored_audits[upload_id]}")

    visible, in_flight, dead = queue_depth(intake)
    rows.append(
        (
            "drain",
            f"{drained:.0f} s; queue {visible} visible, {in_flight} in flight, {dead} dead letters; "
            f"{broker_backlog(intake)} broker tasks",
            True,
        )
    )
    rows.append(
        ("chaos", f"{sum('SIGKILL' in c for c in record.chaos)} kills, {len(record.paused)} emulator pauses", True)
    )
    rows.append(("staff pages loaded", str(record.staff_pages), True))
    rows.append(("client-side errors (timeouts, refused)", str(sum(record.client_errors.values())), True))
    # The soak's own failures: a run that uploaded nothing proves nothing.
    harness = sum(n for what, n in record.client_errors.items() if what.startswith(("visitor ", "staff:")))
    rows.append(("harness errors (goal 0)", str(harness), harness == 0 and bool(expected)))
    for what, n in record.client_errors.most_common(8):
        notes.append(f"client error: {what}: {n}")
    for line in record.server_errors[:10]:
        notes.append(f"5xx: {line}")
    return rows, notes


def _announced_outage(line: str, paused: list[tuple[float, float]]) -> bool:
    """A 503 saying S3 is unreachable, with Retry-After, while S3 was paused (or up to
    a request's timeout after)."""
    at, _method, _route, status, retry_after, *_ = line.split(" ", 5)
    return (
        status == "503"
        and retry_after != "retry-after=-"
        and '"storage_unavailable"' in line
        and any(a <= float(at) <= b + REQUEST_TIMEOUT for a, b in paused)
    )


def memory_rows(memory: Memory, started: float, var_dir: Path) -> tuple[list[str], bool]:
    """first/last/max per role, and whether it grew more than 20 % after the first minute.

    A process that was restarted (the worker, killed every minute; beat, restarted by
    the supervisor) has short lives whose first samples are its start-up: for it, the
    peak of its last life is compared with the peak of its first life after the first
    minute. The samples are kept in memory.json for a closer look."""
    (var_dir / "memory.json").write_text(json.dumps(memory.samples))
    lines, flat_all = [], True
    for role, samples in sorted(memory.samples.items()):
        every = [kib for _, _, kib in samples]
        lives: dict[int, list[int]] = {}
        for t, pid, kib in samples:
            if t >= started + 60:
                lives.setdefault(pid, []).append(kib)
        if not lives:
            lives = {samples[-1][1]: every}
        series = list(lives.values())
        if len(series) > 1:
            before, after = max(series[0]), max(series[-1])
            how = f"peak of its last life vs its first, {len(series)} lives"
        else:
            before, after = series[0][0], series[0][-1]
            how = "after the first minute"
        growth = (after - before) / before if before else 0.0
        # A few MiB either way is the kernel dropping and refaulting pages, not a leak.
        flat = growth <= 0.20 or after - before < 5 * 1024
        lines.append(
            f"  {role:17} first {every[0] / 1024:7.1f} MiB  last {every[-1] / 1024:7.1f} MiB  max {max(every) / 1024:7.1f} MiB"
            f"  {'flat' if flat else 'GREW'} ({growth:+.0%}, {how})"
        )
        # The emulator keeps every object it stores in memory: its growth is the data.
        flat_all = flat_all and (flat or role == "emulator")
    return lines, flat_all


# --- main -------------------------------------------------------------------------------------------------


def create_portals(intake: Intake, count: int = 2) -> list[str]:
    tokens = []
    for number in range(count):
        output = subprocess.run(
            [
                str(VENV_PYTHON),
                "manage.py",
                "portal_create",
                f"Soak portal {number}",
                "--notify",
                "soak-team@example.test",
            ],
            cwd=ROOT,
            env=intake.manage_env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        link = output.strip().splitlines()[-1]
        tokens.append(link.rstrip("/").rsplit("/p/", 1)[1])
    return tokens


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    var_dir = ROOT / "var" / f"soak-{dt.datetime.now(dt.UTC).strftime('%Y%m%d-%H%M%S')}"
    var_dir.mkdir(parents=True)
    intake = Intake(var_dir)
    record = Record()
    stop_memory = threading.Event()
    chaos: Chaos | None = None
    try:
        say(f"starting Intake on {intake.base} (S3 emulator {intake.endpoint}, var dir {var_dir})")
        intake.start()
        intake.wait_ready()
        tokens = create_portals(intake)
        say(f"ready; {len(tokens)} portals; driving for {args.minutes:g} minute(s)")
        load_before = Path("/proc/loadavg").read_text().split()[:3]  # the machine is shared: say how busy it was
        memory = Memory(intake, stop_memory)
        memory.start()
        started = time.monotonic()
        deadline = started + args.minutes * 60
        big = os.urandom(MULTIPART_SIZE)
        chaos = Chaos(intake, record, started, deadline)
        workers: list[threading.Thread] = [Visitor(n, intake, record, tokens, deadline, big) for n in range(VISITORS)]
        workers += [Staff(intake, record, deadline), Storm(intake, record, deadline), chaos]
        for worker in workers:
            worker.start()
        next_report = started + 30
        while any(w.is_alive() for w in workers) and time.monotonic() < deadline + 120:
            time.sleep(1)
            if time.monotonic() >= next_report:
                next_report += 30
                with record.lock:
                    say(
                        f"{len(record.uploads)} uploads, {len(record.server_errors)} 5xx, {sum(record.storm.values())} storm messages"
                    )
        chaos.resume()
        say("load over; draining (at most 3 minutes)")
        drained = drain(intake, record)
        stop_memory.set()
        rows, notes = check(intake, record, memory, drained)
        lines, flat = memory_rows(memory, started, var_dir)
        rows.append(
            ("memory flat (≤ 20 % growth after the first minute; emulator excepted)", "yes" if flat else "no", flat)
        )
        print(f"\nLoad average at the start {load_before}, at the end {Path('/proc/loadavg').read_text().split()[:3]}")
        print(
            f"\nSoak of {args.minutes:g} minute(s) on {os.uname().nodename}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, var dir {var_dir}\n"
        )
        width = max(len(name) for name, _, _ in rows)
        for name, value, ok in rows:
            print(f"  {'  ' if ok else '✗ '}{name:{width}}  {value}")
        print("\nMemory (VmRSS, sampled every 10 s):")
        print("\n".join(lines))
        if notes:
            print("\nDetails:")
            print("\n".join(f"  {note}" for note in notes))
        print("\nAnswers by route:")
        for line, n in sorted(record.statuses.items()):
            print(f"  {n:7}  {line}")
        failed = [name for name, _, ok in rows if not ok]
        print(f"\n{'MISSED: ' + '; '.join(failed) if failed else 'All goals met.'}")
        return 1 if failed else 0
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        stop_memory.set()
        if chaos is not None:
            chaos.resume()
        intake.stop()


if __name__ == "__main__":
    sys.exit(main())
